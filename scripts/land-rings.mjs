// Converts Natural Earth land (TopoJSON, as the npm package `world-atlas`
// ships it: land-110m.json) into the compact rings the shore's fleet page
// draws: uplink/shore/web/land.json. Run once when the data changes:
//   npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
//   node scripts/land-rings.mjs package/land-110m.json > uplink/shore/web/land.json
// Output: {"source", "licence", "scale": 100, "rings": [[x0, y0, dx1, dy1, …], …]}
// — each ring (outer or hole, closed) as lon/lat in hundredths of a degree,
// the first point absolute and the rest as differences from the previous;
// a ring across the antimeridian runs on past ±180° (the page repeats the
// land a turn either side).
// No dependencies: TopoJSON is decoded here (quantized, delta-encoded arcs).

import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node scripts/land-rings.mjs land-110m.json > land.json');
  process.exit(2);
}
const topo = JSON.parse(readFileSync(file, 'utf8'));
const [sx, sy] = topo.transform.scale;
const [tx, ty] = topo.transform.translate;

// Arcs in degrees: each arc's positions are deltas of quantized integers.
const arcs = topo.arcs.map((arc) => {
  let x = 0; let y = 0;
  return arc.map(([dx, dy]) => { x += dx; y += dy; return [x * sx + tx, y * sy + ty]; });
});

/** A ring from arc indices (~i: arc i reversed); shared ends joined once. */
function ring(indices) {
  const out = [];
  for (const i of indices) {
    const a = i >= 0 ? arcs[i] : arcs[~i].slice().reverse();
    out.push(...(out.length ? a.slice(1) : a));
  }
  return out;
}

const rings = [];
function polygon(p) { for (const r of p) rings.push(ring(r)); }
const land = topo.objects.land;
for (const g of land.type === 'GeometryCollection' ? land.geometries : [land]) {
  if (g.type === 'Polygon') polygon(g.arcs);
  else if (g.type === 'MultiPolygon') for (const p of g.arcs) polygon(p);
}

// Natural Earth rings are spherical: one that crosses the antimeridian
// (Fiji, Chukotka) jumps from 180° to −180°. For a flat map each ring is
// unwrapped (every longitude taken the short way from the one before); a
// ring around a pole (Antarctica) then ends a turn away from where it
// began, and is closed along that pole's parallel.
function unwrapRing(r) {
  const out = [];
  for (const [lon, lat] of r) {
    if (!out.length) { out.push([lon, lat]); continue; }
    const prev = out[out.length - 1][0];
    out.push([lon + 360 * Math.round((prev - lon) / 360), lat]);
  }
  const turn = out[out.length - 1][0] - out[0][0];
  if (Math.abs(turn) > 180) {
    const pole = out.reduce((a, p) => a + p[1], 0) < 0 ? -90 : 90;
    out.push([out[out.length - 1][0], pole], [out[0][0], pole], out[0]);
  }
  return out;
}
for (let i = 0; i < rings.length; i += 1) rings[i] = unwrapRing(rings[i]);

const SCALE = 100;
const encoded = [];
for (const r of rings) {
  const flat = [];
  let px = null; let py = null;
  for (const [lon, lat] of r) {
    const x = Math.round(lon * SCALE); const y = Math.round(lat * SCALE);
    if (x === px && y === py) continue;
    if (px === null) flat.push(x, y); else flat.push(x - px, y - py);
    px = x; py = y;
  }
  if (flat.length >= 6) encoded.push(flat);
}

process.stdout.write(JSON.stringify({
  source: 'Natural Earth 1:110m land, version 4.1.0 (public domain, naturalearthdata.com), '
    + 'via world-atlas 2.0.2 (ISC, Michael Bostock)',
  licence: 'Natural Earth data is in the public domain; see uplink/shore/web/land.NOTICE.md',
  scale: SCALE,
  rings: encoded,
}));
process.stdout.write('\n');

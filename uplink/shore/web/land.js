// Coastlines for the plots: Natural Earth 1:110m land (public domain),
// embedded in the shore as /assets/land.json and fetched from it once.

let rings = null; // [{ pts: [[lon, lat], …], minLon, maxLon, minLat, maxLat }]
let loading = null;
const waiting = new Set();

function decode(data) {
  const s = data.scale;
  return data.rings.map((flat) => {
    const pts = [];
    let x = 0; let y = 0;
    for (let i = 0; i + 1 < flat.length; i += 2) {
      x += flat[i]; y += flat[i + 1];
      pts.push([x / s, y / s]);
    }
    const lons = pts.map((p) => p[0]); const lats = pts.map((p) => p[1]);
    return {
      pts,
      minLon: Math.min(...lons), maxLon: Math.max(...lons),
      minLat: Math.min(...lats), maxLat: Math.max(...lats),
    };
  });
}

/** Calls `redraw` once the coastlines are in (at once if they are). */
export function whenLand(redraw) {
  if (rings) return;
  waiting.add(redraw);
  if (!loading) {
    loading = fetch('/assets/land.json', { credentials: 'same-origin' })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.statusText))))
      .then((data) => {
        rings = decode(data);
        for (const f of waiting) f();
        waiting.clear();
      })
      .catch(() => { loading = null; }); // the grid alone; tried again next draw
  }
}

/** Land under the view of `proj` (a 360°-wide repeat where the view
 *  reaches past ±180°, as it does around a track across the antimeridian). */
export function drawLand(svg, proj, width, height) {
  if (!rings) return;
  const lon0 = proj.lonAt(0); const lon1 = proj.lonAt(width);
  const lat0 = proj.latAt(height); const lat1 = proj.latAt(0);
  const parts = [];
  for (const shift of [-360, 0, 360]) {
    for (const r of rings) {
      if (r.maxLon + shift < lon0 || r.minLon + shift > lon1 || r.maxLat < lat0 || r.minLat > lat1) continue;
      const d = r.pts.map(([lon, lat], i) => `${i ? 'L' : 'M'}${proj.x(lon + shift).toFixed(1)} ${proj.y(lat).toFixed(1)}`);
      parts.push(`${d.join('')}Z`);
    }
  }
  const NS = 'http://www.w3.org/2000/svg';
  const g = document.createElementNS(NS, 'g');
  g.setAttribute('class', 'land');
  g.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(NS, 'path');
  path.setAttribute('d', parts.join(''));
  path.setAttribute('fill-rule', 'evenodd');
  g.append(path);
  svg.append(g);
}

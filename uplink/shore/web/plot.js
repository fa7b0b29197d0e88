// SVG plots on a latitude/longitude grid over Natural Earth coastlines
// (embedded in the shore: nothing is fetched from outside it).
// Equirectangular, x scaled by cos(lat); tracks unwrapped across ±180°.

import { drawLand, whenLand } from './land.js';

const NS = 'http://www.w3.org/2000/svg';
const W = 600;
const H = 400;
const PAD = 34;

export function svgEl(tag, attrs = {}) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function niceStep(span) {
  const raw = span / 6;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (raw <= m * p) return m * p;
  return 10 * p;
}

/** A projection fitted to `points` ([lon, lat] pairs). */
export function fit(points) {
  let minLat = Infinity; let maxLat = -Infinity; let minLon = Infinity; let maxLon = -Infinity;
  for (const [lon, lat] of points) {
    if (!Number.isFinite(lat) || !Number.isFinite(lon)) continue;
    minLat = Math.min(minLat, lat); maxLat = Math.max(maxLat, lat);
    minLon = Math.min(minLon, lon); maxLon = Math.max(maxLon, lon);
  }
  if (!Number.isFinite(minLat)) { minLat = -60; maxLat = 70; minLon = -180; maxLon = 180; }
  const minSpan = 0.0002; // ~20 m: a ship at berth still shows its jitter
  const padLat = Math.max((maxLat - minLat) * 0.08, minSpan);
  const padLon = Math.max((maxLon - minLon) * 0.08, minSpan);
  minLat = Math.max(minLat - padLat, -90); maxLat = Math.min(maxLat + padLat, 90);
  minLon -= padLon; maxLon += padLon;
  if (maxLon - minLon > 360) { const c = (minLon + maxLon) / 2; minLon = c - 180; maxLon = c + 180; }
  const k = Math.max(Math.cos(((minLat + maxLat) / 2) * Math.PI / 180), 0.05);
  const sx = (W - 2 * PAD) / ((maxLon - minLon) * k);
  const sy = (H - 2 * PAD) / (maxLat - minLat);
  const s = Math.min(sx, sy);
  const cx = (minLon + maxLon) / 2;
  const cy = (minLat + maxLat) / 2;
  return {
    minLat, maxLat, minLon, maxLon,
    x: (lon) => W / 2 + (lon - cx) * k * s,
    y: (lat) => H / 2 - (lat - cy) * s,
    lonAt: (x) => cx + (x - W / 2) / (k * s),
    latAt: (y) => cy - (y - H / 2) / s,
  };
}

/** `lon` moved by whole turns to lie within 180° of `ref`. */
export function near(lon, ref) {
  return lon + 360 * Math.round((ref - lon) / 360);
}

/** `lon` as it is written: in (−180°, 180°]. */
export function wrapLon(lon) {
  const w = ((lon + 180) % 360 + 360) % 360 - 180;
  return w === -180 ? 180 : w;
}

/** A track's [lon, lat] pairs with each longitude taken the short way from
 *  the one before (from `ref` for the first, when given), so that a track
 *  across the antimeridian is one unbroken line (e.g. 179.9 → 180.1). */
export function unwrap(coords, ref) {
  const out = [];
  let prev = ref;
  for (const [lon, lat] of coords) {
    if (!Number.isFinite(lat) || !Number.isFinite(lon)) continue;
    const l = prev === undefined ? lon : near(lon, prev);
    out.push([l, lat]);
    prev = l;
  }
  return out;
}

/** "52.84°N", "179.9°W", "180°": as many decimals as the grid step needs. */
function label(v, step, isLat) {
  const d = Math.min(6, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9)));
  const t = Math.abs(v).toFixed(d);
  if (Number(t) === 0 || (!isLat && Number(t) === 180)) return `${t}°`;
  return `${t}°${isLat ? (v >= 0 ? 'N' : 'S') : (v >= 0 ? 'E' : 'W')}`;
}

/** Clears `svg` (keeping its <title>), draws the coastlines and the grid
 *  of `proj`: latitudes within ±90°, longitudes over at most one turn and
 *  labelled within ±180°. `redraw` is called when the coastlines arrive. */
export function grid(svg, proj, redraw) {
  for (const c of [...svg.children]) if (c.tagName !== 'title') c.remove();
  if (redraw) whenLand(redraw);
  drawLand(svg, proj, W, H);
  const g = svgEl('g', { class: 'grid', 'aria-hidden': 'true' });
  const lat0 = Math.max(proj.latAt(H), -90); const lat1 = Math.min(proj.latAt(0), 90);
  const mid = proj.lonAt(W / 2);
  const lon0 = Math.max(proj.lonAt(0), mid - 180); const lon1 = Math.min(proj.lonAt(W), mid + 180);
  const latStep = niceStep(lat1 - lat0);
  for (let lat = Math.ceil(lat0 / latStep) * latStep; lat <= lat1 + 1e-9; lat += latStep) {
    const y = proj.y(lat);
    g.append(svgEl('line', { x1: 0, x2: W, y1: y, y2: y }));
    const t = svgEl('text', { x: 4, y: y - 3, class: 'lat' }); t.textContent = label(lat, latStep, true); g.append(t);
  }
  const lonStep = niceStep(lon1 - lon0);
  for (let lon = Math.ceil(lon0 / lonStep) * lonStep; lon <= lon1 + 1e-9; lon += lonStep) {
    const x = proj.x(lon);
    g.append(svgEl('line', { x1: x, x2: x, y1: 0, y2: H }));
    const t = svgEl('text', { x: x + 3, y: H - 4, class: 'lon' });
    t.textContent = label(wrapLon(lon), lonStep, false); g.append(t);
  }
  svg.append(g);
  return g;
}

export function polyline(proj, coords, cls, attrs = {}) {
  const pts = [];
  for (const [lon, lat] of coords) {
    if (Number.isFinite(lat) && Number.isFinite(lon)) pts.push(`${proj.x(lon).toFixed(1)},${proj.y(lat).toFixed(1)}`);
  }
  return svgEl('polyline', { class: cls, points: pts.join(' '), ...attrs });
}

/** A track response's lines: the segments of its `LineString` or
 *  `MultiLineString` (broken at gaps), else its points as one line. */
export function trackLines(track) {
  const features = track.features || [];
  const line = features.find((f) => f.geometry && /LineString$/.test(f.geometry.type));
  if (line) return line.geometry.type === 'LineString' ? [line.geometry.coordinates] : line.geometry.coordinates;
  const pts = features.filter((f) => f.geometry && f.geometry.type === 'Point').map((f) => f.geometry.coordinates);
  return pts.length ? [pts] : [];
}

/** Segments unwrapped as one track (each from the end of the one before). */
export function unwrapLines(lines) {
  const out = [];
  let ref;
  for (const l of lines) {
    const u = unwrap(l, ref);
    if (u.length) { out.push(u); ref = u[u.length - 1][0]; }
  }
  return out;
}

/** Keeps at most `max` points of a track (every n-th, and the last). */
export function thin(coords, max = 300) {
  if (coords.length <= max) return coords;
  const step = Math.ceil(coords.length / max);
  const out = coords.filter((_, i) => i % step === 0);
  out.push(coords[coords.length - 1]);
  return out;
}

/** The fleet plot: last positions as dots, recent tracks as lines. */
export class FleetPlot {
  constructor(svg, onPick) {
    this.svg = svg;
    this.onPick = onPick;
    this.tracks = new Map(); // name → segments [[[lon, lat], …], …], unwrapped
    this.vessels = [];
    this.pending = false;
  }

  setVessels(vessels) { this.vessels = vessels; this.schedule(); }
  /** `lines`: the track's segments (see `trackLines`). */
  setTrack(name, lines) {
    this.tracks.set(name, unwrapLines(lines).map((l) => thin(l)));
    this.schedule();
  }

  /** A new position of a vessel joins the last segment of its track. */
  addPosition(name, lon, lat) {
    const lines = this.tracks.get(name) || [[]];
    const t = lines[lines.length - 1];
    const last = t[t.length - 1];
    const l = last ? near(lon, last[0]) : lon;
    if (!last || last[0] !== l || last[1] !== lat) t.push([l, lat]);
    lines[lines.length - 1] = thin(t, 400);
    this.tracks.set(name, lines);
  }

  /** Where to draw a vessel's dot: by its track's end, across ±180°. */
  dotLon(v) {
    const lines = this.tracks.get(v.name);
    const t = lines && lines[lines.length - 1];
    const end = t && t[t.length - 1];
    return end ? near(v.last_position.lon, end[0]) : v.last_position.lon;
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.draw(); });
  }

  draw() {
    const pts = [];
    for (const v of this.vessels) if (v.last_position) pts.push([this.dotLon(v), v.last_position.lat]);
    for (const lines of this.tracks.values()) for (const t of lines) for (const p of t) pts.push(p);
    const proj = fit(pts);
    grid(this.svg, proj, () => this.schedule());
    const tracks = svgEl('g', { class: 'tracks', 'aria-hidden': 'true' });
    for (const [name, lines] of this.tracks) {
      for (const t of lines) if (t.length > 1) tracks.append(polyline(proj, t, 'track', { 'data-vessel': name }));
    }
    this.svg.append(tracks);
    const dots = svgEl('g', { class: 'dots' });
    for (const v of this.vessels) {
      const p = v.last_position;
      if (!p) continue;
      // Clickable, but not one more tab stop per vessel: the cards hold the same links.
      const a = svgEl('a', { href: `#/vessel/${encodeURIComponent(v.name)}`, 'aria-label': v.name, tabindex: -1 });
      const c = svgEl('circle', { cx: proj.x(this.dotLon(v)), cy: proj.y(p.lat), r: 4.5, class: v.online ? 'dot on' : 'dot off' });
      const title = svgEl('title');
      title.textContent = `${v.name} (${v.online ? 'online' : 'offline'})`;
      c.append(title);
      a.append(c);
      dots.append(a);
    }
    this.svg.append(dots);
  }
}

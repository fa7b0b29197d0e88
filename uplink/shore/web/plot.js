// SVG plots on a plain latitude/longitude grid (no map tiles: nothing is
// fetched from outside the shore). Equirectangular, x scaled by cos(lat).

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
  minLat -= padLat; maxLat += padLat; minLon -= padLon; maxLon += padLon;
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

/** "52.84°N": as many decimals as the grid step needs. */
function label(v, step, isLat) {
  const d = Math.min(6, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9)));
  const t = Math.abs(v).toFixed(d);
  return `${t}°${isLat ? (v >= 0 ? 'N' : 'S') : (v >= 0 ? 'E' : 'W')}`;
}

/** Clears `svg` (keeping its <title>) and draws the grid of `proj`. */
export function grid(svg, proj) {
  for (const c of [...svg.children]) if (c.tagName !== 'title') c.remove();
  const g = svgEl('g', { class: 'grid', 'aria-hidden': 'true' });
  const lat0 = proj.latAt(H); const lat1 = proj.latAt(0);
  const lon0 = proj.lonAt(0); const lon1 = proj.lonAt(W);
  const latStep = niceStep(lat1 - lat0);
  for (let lat = Math.ceil(lat0 / latStep) * latStep; lat <= lat1; lat += latStep) {
    const y = proj.y(lat);
    g.append(svgEl('line', { x1: 0, x2: W, y1: y, y2: y }));
    const t = svgEl('text', { x: 4, y: y - 3 }); t.textContent = label(lat, latStep, true); g.append(t);
  }
  const lonStep = niceStep(lon1 - lon0);
  for (let lon = Math.ceil(lon0 / lonStep) * lonStep; lon <= lon1; lon += lonStep) {
    const x = proj.x(lon);
    g.append(svgEl('line', { x1: x, x2: x, y1: 0, y2: H }));
    const t = svgEl('text', { x: x + 3, y: H - 4 }); t.textContent = label(lon, lonStep, false); g.append(t);
  }
  svg.append(g);
  return g;
}

export function polyline(proj, coords, cls) {
  const pts = [];
  for (const [lon, lat] of coords) {
    if (Number.isFinite(lat) && Number.isFinite(lon)) pts.push(`${proj.x(lon).toFixed(1)},${proj.y(lat).toFixed(1)}`);
  }
  return svgEl('polyline', { class: cls, points: pts.join(' ') });
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
    this.tracks = new Map(); // name → [[lon, lat], …]
    this.vessels = [];
    this.pending = false;
  }

  setVessels(vessels) { this.vessels = vessels; this.schedule(); }
  setTrack(name, coords) { this.tracks.set(name, thin(coords)); this.schedule(); }

  /** A new position of a vessel joins its track. */
  addPosition(name, lon, lat) {
    const t = this.tracks.get(name) || [];
    const last = t[t.length - 1];
    if (!last || last[0] !== lon || last[1] !== lat) t.push([lon, lat]);
    this.tracks.set(name, thin(t, 400));
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.draw(); });
  }

  draw() {
    const pts = [];
    for (const v of this.vessels) if (v.last_position) pts.push([v.last_position.lon, v.last_position.lat]);
    for (const t of this.tracks.values()) for (const p of t) pts.push(p);
    const proj = fit(pts);
    grid(this.svg, proj);
    const tracks = svgEl('g', { class: 'tracks', 'aria-hidden': 'true' });
    for (const t of this.tracks.values()) if (t.length > 1) tracks.append(polyline(proj, t, 'track'));
    this.svg.append(tracks);
    const dots = svgEl('g', { class: 'dots' });
    for (const v of this.vessels) {
      const p = v.last_position;
      if (!p) continue;
      // Clickable, but not one more tab stop per vessel: the cards hold the same links.
      const a = svgEl('a', { href: `#/vessel/${encodeURIComponent(v.name)}`, 'aria-label': v.name, tabindex: -1 });
      const c = svgEl('circle', { cx: proj.x(p.lon), cy: proj.y(p.lat), r: 4.5, class: v.online ? 'dot on' : 'dot off' });
      const title = svgEl('title');
      title.textContent = `${v.name} (${v.online ? 'online' : 'offline'})`;
      c.append(title);
      a.append(c);
      dots.append(a);
    }
    this.svg.append(dots);
  }
}

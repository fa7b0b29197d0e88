// Frames by place: the ship's track (`/api/v1/track`) drawn as SVG, on the
// tiles of `api.map_tiles` when one is set (none needed otherwise); a click
// on the track shows every camera's frame nearest to the instant the ship
// was at the point clicked.

import { getJSON, getOrNull } from './api.js';

const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
const W = 800;
const H = 450;
const PAD = 20;
/** Metres in a degree of latitude (and of longitude × cos(latitude)). */
const M_PER_DEG = 111_195;
const TILE = 256;
/** The closest zoom of tiles; closer, they are drawn larger (a ship at
 * anchor: its fixes stay apart, so that each can be clicked). */
const MAX_ZOOM = 18;
/** The closest view (about 2 cm a pixel), for a track of one point. */
const MAX_SCALE = TILE * 2 ** 28;

/** Web Mercator, the world as the unit square (x east, y south). */
function mercator(lon, lat) {
  const phi = Math.max(-85.05, Math.min(85.05, lat)) * Math.PI / 180;
  return [(lon + 180) / 360, (1 - Math.log(Math.tan(phi) + 1 / Math.cos(phi)) / Math.PI) / 2];
}

/** Longitudes made continuous, so that a track across ±180° stays one line. */
function unwrap(lons) {
  const out = [];
  for (const lon of lons) {
    const prev = out.length ? out[out.length - 1] : lon;
    out.push(lon + 360 * Math.round((prev - lon) / 360));
  }
  return out;
}

export class Places {
  /** `tiles`: `api.map_tiles` (an XYZ URL template) or null. */
  constructor(cameras, guard, tiles) {
    this.cameras = cameras;
    this.guard = guard;
    this.tiles = tiles;
    this.refreshMs = 30000;
    this.points = [];
    /** The time of the fix last clicked, kept across redraws. */
    this.chosen = null;
    $('track').addEventListener('click', (ev) => this.pick(ev).catch(guard));
  }

  shown() { this.refresh().catch(this.guard); }

  async refresh() {
    const track = await getJSON('/api/v1/track', { every_s: 2 });
    // The line (LineString/MultiLineString) comes first; the fixes are the Points.
    const fixes = track.features.filter((f) => f.geometry.type === 'Point').map((f) => ({
      lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1], time: f.properties.time,
    }));
    this.draw(fixes);
  }

  /** Web Mercator (so that map tiles fit), the track centred and fitted. */
  draw(fixes) {
    const svg = $('track');
    svg.replaceChildren();
    this.points = [];
    if (fixes.length === 0) {
      $('place-caption').textContent = 'No fixes in the last hour.';
      return;
    }
    const lons = unwrap(fixes.map((f) => f.lon));
    const world = fixes.map((f, i) => mercator(lons[i], f.lat));
    const xs = world.map((p) => p[0]);
    const ys = world.map((p) => p[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const scale = Math.min((W - 2 * PAD) / (x1 - x0), (H - 2 * PAD) / (y1 - y0), MAX_SCALE);
    const [cx, cy] = [(x0 + x1) / 2, (y0 + y1) / 2];
    const at = ([x, y]) => [W / 2 + (x - cx) * scale, H / 2 + (y - cy) * scale];
    if (this.tiles) this.drawTiles(svg, scale, cx, cy);
    this.points = fixes.map((f, i) => {
      const [x, y] = at(world[i]);
      return { ...f, x, y };
    });
    const lats = fixes.map((f) => f.lat);
    const k = Math.cos((Math.min(...lats) + Math.max(...lats)) / 2 * Math.PI / 180);
    const across = Math.round((Math.max(...lons) - Math.min(...lons)) * k * M_PER_DEG);
    const up = Math.round((Math.max(...lats) - Math.min(...lats)) * M_PER_DEG);
    $('place-caption').textContent = `${fixes.length} fixes over ${across} m × ${up} m (east × north); click a point.`;
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', this.points.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' '));
    svg.append(line);
    for (const p of this.points) {
      const dot = document.createElementNS(SVG, 'circle');
      Object.entries({ cx: p.x.toFixed(1), cy: p.y.toFixed(1), r: 3 }).forEach(([a, v]) => dot.setAttribute(a, v));
      dot.dataset.time = p.time;
      if (p.time === this.chosen) dot.classList.add('chosen');
      svg.append(dot);
    }
  }

  /** The tiles under the view, at the zoom whose tiles are drawn 256–512 px wide. */
  drawTiles(svg, scale, cx, cy) {
    const z = Math.max(0, Math.min(MAX_ZOOM, Math.floor(Math.log2(scale / TILE))));
    const n = 2 ** z;
    const size = scale / n;
    const [left, top] = [cx - W / 2 / scale, cy - H / 2 / scale];
    for (let ty = Math.max(0, Math.floor(top * n)); ty <= Math.min(n - 1, Math.floor((top + H / scale) * n)); ty += 1) {
      for (let tx = Math.floor(left * n); tx <= Math.floor((left + W / scale) * n); tx += 1) {
        const x = ((tx % n) + n) % n;
        const img = document.createElementNS(SVG, 'image');
        const href = this.tiles.replace('{z}', z).replace('{x}', x).replace('{y}', ty);
        Object.entries({
          href, x: ((tx / n - left) * scale).toFixed(1), y: ((ty / n - top) * scale).toFixed(1),
          width: size.toFixed(1), height: size.toFixed(1),
        }).forEach(([a, v]) => img.setAttribute(a, v));
        Object.assign(img.dataset, { z, x, y: ty });
        svg.append(img);
      }
    }
  }

  /** The fix nearest to the click, then each camera's frame nearest to its time. */
  async pick(ev) {
    if (this.points.length === 0) return;
    const svg = $('track');
    const box = svg.getBoundingClientRect();
    const x = (ev.clientX - box.left) * (W / box.width);
    const y = (ev.clientY - box.top) * (H / box.height);
    const d = (p) => (p.x - x) ** 2 + (p.y - y) ** 2;
    const best = this.points.reduce((a, b) => (d(b) < d(a) ? b : a));
    this.chosen = best.time;
    for (const c of svg.querySelectorAll('circle')) c.classList.toggle('chosen', c.dataset.time === best.time);
    $('place-caption').textContent = `${best.lat.toFixed(5)}, ${best.lon.toFixed(5)} at ${best.time.replace('T', ' ')}`;
    const out = $('place-frames');
    out.replaceChildren();
    out.dataset.time = best.time;
    for (const camera of this.cameras) {
      const frame = await getOrNull('/api/v1/frames/nearest', { camera, at: best.time });
      const fig = document.createElement('figure');
      fig.dataset.camera = camera;
      fig.innerHTML = '<img alt=""><figcaption></figcaption>';
      fig.querySelector('figcaption').textContent = frame ? `${camera} · ${frame.ts.replace('T', ' ')}` : `${camera}: no frame`;
      if (frame) {
        fig.dataset.frameId = String(frame.id);
        fig.querySelector('img').src = frame.image_url;
      }
      out.append(fig);
    }
  }
}

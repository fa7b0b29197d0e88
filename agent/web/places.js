// Frames by place: the ship's track (`/api/v1/track`) drawn as SVG, no map
// tiles needed; a click on the track shows every camera's frame nearest
// to the instant the ship was at the point clicked.

import { getJSON, getOrNull } from './api.js';

const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
const W = 800;
const H = 450;
const PAD = 20;
/** Metres in a degree of latitude (and of longitude × cos(latitude)). */
const M_PER_DEG = 111_195;

export class Places {
  constructor(cameras, guard) {
    this.cameras = cameras;
    this.guard = guard;
    this.refreshMs = 30000;
    this.points = [];
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

  /** Equirectangular, scaled by cos(latitude) so that shapes stay true. */
  draw(fixes) {
    const svg = $('track');
    svg.replaceChildren();
    this.points = [];
    if (fixes.length === 0) {
      $('place-caption').textContent = 'No fixes in the last hour.';
      return;
    }
    const lats = fixes.map((f) => f.lat);
    const k = Math.cos((Math.min(...lats) + Math.max(...lats)) / 2 * Math.PI / 180);
    const xs = fixes.map((f) => f.lon * k);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...lats), Math.max(...lats)];
    const scale = Math.min((W - 2 * PAD) / (x1 - x0 || 1e-6), (H - 2 * PAD) / (y1 - y0 || 1e-6));
    this.points = fixes.map((f, i) => ({ ...f, x: PAD + (xs[i] - x0) * scale, y: H - PAD - (f.lat - y0) * scale }));
    const across = Math.round((x1 - x0) * M_PER_DEG);
    const up = Math.round((y1 - y0) * M_PER_DEG);
    $('place-caption').textContent = `${fixes.length} fixes over ${across} m × ${up} m (east × north); click a point.`;
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', this.points.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' '));
    svg.append(line);
    for (const p of this.points) {
      const dot = document.createElementNS(SVG, 'circle');
      Object.entries({ cx: p.x.toFixed(1), cy: p.y.toFixed(1), r: 3 }).forEach(([a, v]) => dot.setAttribute(a, v));
      dot.dataset.time = p.time;
      svg.append(dot);
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
    for (const c of svg.querySelectorAll('circle')) c.classList.toggle('chosen', c.dataset.time === best.time);
    $('place-caption').textContent = `${best.lat.toFixed(5)}, ${best.lon.toFixed(5)} at ${best.time.replace('T', ' ')}`;
    const out = $('place-frames');
    out.replaceChildren();
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

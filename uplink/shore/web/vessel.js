// The vessel view: pick a camera and a time range, scrub the timeline of
// its thumbnails, see where each frame was taken on the track.

import * as api from './api.js';
import { utc, parseTs, fmtPos, fromLocalInput, toLocalInput } from './time.js';
import { fit, grid, near, polyline, svgEl, thin, trackLines, unwrapLines } from './plot.js';
import { Timeline } from './timeline.js';

const TEN_MIN_MS = 10 * 60 * 1000;

export class VesselView {
  constructor(root) {
    this.root = root;
    this.$ = (id) => root.querySelector(`#${id}`);
    this.vessel = null;
    this.range = null;
    this.proj = null;
    this.load = 0;
    this.timeline = new Timeline({
      slider: this.$('timeline'),
      ticks: this.$('timeline-ticks'),
      cursor: this.$('timeline-cursor'),
      filmstrip: this.$('filmstrip'),
      onChange: (t) => this.showFrame(t),
    });
    this.$('range-form').addEventListener('submit', (e) => { e.preventDefault(); this.reload(); });
    this.$('camera-select').addEventListener('change', () => this.reload());
    this.$('last-10-min').addEventListener('click', () => { this.setRange(Date.now() - TEN_MIN_MS, Date.now() + 60_000); this.reload(); });
  }

  setRange(fromMs, toMs) {
    this.$('from-input').value = toLocalInput(fromMs);
    this.$('to-input').value = toLocalInput(toMs);
  }

  /** Opens `v` (a vessel as /vessels lists it). */
  async open(v) {
    this.vessel = v;
    this.$('vessel-h').textContent = v.name;
    const select = this.$('camera-select');
    select.replaceChildren(...(v.cameras || []).map((c) => {
      const o = document.createElement('option');
      o.value = c.id; o.textContent = c.id;
      return o;
    }));
    let newest = -Infinity;
    for (const c of v.cameras || []) if (c.latest_thumb) newest = Math.max(newest, parseTs(c.latest_thumb.ts));
    const end = Number.isFinite(newest) ? Math.max(newest + 1000, Date.now() + 60_000) : Date.now() + 60_000;
    const start = (Number.isFinite(newest) ? newest : Date.now()) - TEN_MIN_MS;
    this.setRange(start, end);
    await this.reload();
  }

  async reload() {
    const v = this.vessel;
    const camera = this.$('camera-select').value;
    const fromMs = fromLocalInput(this.$('from-input').value);
    const toMs = fromLocalInput(this.$('to-input').value);
    const status = this.$('range-status');
    if (!camera) { status.textContent = 'This vessel has no camera yet.'; this.timeline.set([]); return; }
    if (!(fromMs < toMs)) { status.textContent = '"From" must be before "To".'; return; }
    this.range = { camera, fromMs, toMs };
    const load = ++this.load;
    status.textContent = 'Loading…';
    try {
      const [thumbs, track] = await Promise.all([
        api.thumbs(v.name, camera, fromMs, toMs),
        api.track(v.name, fromMs, toMs),
      ]);
      if (load !== this.load) return;
      this.drawTrack(track, thumbs);
      this.timeline.set(thumbs);
      status.textContent = `${thumbs.length} thumbnails of ${camera} from ${utc(fromMs)} to ${utc(toMs)}.`;
      this.root.dataset.loaded = String(load);
    } catch (e) {
      if (load === this.load) status.textContent = `Could not load: ${e.message}`;
    }
  }

  drawTrack(track, thumbs) {
    const svg = this.$('track-plot');
    // Segments broken at gaps, unwrapped across ±180° as one track.
    const lines = unwrapLines(trackLines(track));
    const pts = lines.flat();
    const fixes = (track.features || []).filter((f) => f.geometry && f.geometry.type === 'Point').length;
    // Frames are placed by the track (the same side of the antimeridian).
    this.refLon = pts.length ? pts[Math.floor(pts.length / 2)][0] : undefined;
    for (const t of thumbs) {
      if (Number.isFinite(t.lat) && Number.isFinite(t.lon)) pts.push([this.lonOf(t.lon), t.lat]);
    }
    this.proj = fit(pts);
    this.marker = svgEl('circle', { id: 'track-marker', class: 'marker', r: 7, cx: -100, cy: -100 });
    const draw = (redraw) => {
      grid(svg, this.proj, redraw);
      for (const l of lines) svg.append(polyline(this.proj, thin(l, 2000), 'track vessel-track'));
      svg.append(this.marker);
    };
    // Drawn again with the coastlines once they are in (if still shown).
    const load = this.load;
    draw(() => { if (load === this.load) draw(); });
    this.$('track-caption').textContent = `${fixes} fixes in the range; the marker is the selected frame.`;
  }

  /** A longitude on the track's side of the antimeridian. */
  lonOf(lon) {
    return this.refLon === undefined ? lon : near(lon, this.refLon);
  }

  showFrame(t) {
    const img = this.$('frame');
    const cap = this.$('frame-caption');
    if (!t) {
      img.removeAttribute('src'); img.alt = 'No frame selected'; cap.textContent = 'No thumbnail in this range.';
      return;
    }
    img.src = t.image_url;
    img.alt = `${t.camera} camera of ${t.vessel} at ${utc(parseTs(t.ts))}`;
    img.dataset.thumbId = String(t.id);
    const pos = Number.isFinite(t.lat) && Number.isFinite(t.lon) ? { lat: t.lat, lon: t.lon } : null;
    cap.textContent = `${t.camera} · ${utc(parseTs(t.ts))} · ${fmtPos(pos)}`;
    if (this.marker && this.proj) {
      if (pos) {
        this.marker.setAttribute('cx', this.proj.x(this.lonOf(pos.lon)).toFixed(1));
        this.marker.setAttribute('cy', this.proj.y(pos.lat).toFixed(1));
        this.marker.dataset.lat = String(pos.lat);
        this.marker.dataset.lon = String(pos.lon);
        this.marker.removeAttribute('visibility');
      } else {
        this.marker.setAttribute('visibility', 'hidden');
      }
    }
  }

  /** A `thumb` event: joins the timeline when it is this camera, in range. */
  onThumb(t) {
    const r = this.range;
    if (!this.vessel || !r || t.vessel !== this.vessel.name || t.camera !== r.camera) return;
    const ms = parseTs(t.ts);
    if (ms >= r.fromMs && ms < r.toMs) this.timeline.append(t);
  }
}

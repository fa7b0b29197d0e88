// Timeline per camera: scrub the day one second at a time (the API's
// per-second query), jump to a time, step by second or by frame; play or
// download a range as the agent's streamed MP4.

import { SignInNeeded, getJSON, url, hms, dayTime } from './api.js';

const $ = (id) => document.getElementById(id);
const DAY_MS = 86400000;
const RANGE_S = 30;

export class Timeline {
  constructor(cameras, guard) {
    // A bad day or time is said here; an ended session brings the form back.
    this.guard = (e) => (e instanceof SignInNeeded ? guard(e) : this.error(e.message));
    this.refreshMs = 60000;
    this.frame = null;
    this.pending = 0;
    for (const id of cameras) $('tl-camera').append(new Option(id, id));
    const now = Date.now();
    $('tl-day').value = new Date(now).toISOString().slice(0, 10);
    this.setSecond(Math.floor((now % DAY_MS) / 1000) - 5);
    const go = (s) => {
      try { this.setSecond(s); } catch (e) { return this.guard(e); }
      return this.load().catch(this.guard);
    };
    $('tl-scrub').addEventListener('input', () => go(Number($('tl-scrub').value)));
    $('tl-camera').addEventListener('change', () => go(this.second));
    $('tl-day').addEventListener('change', () => go(this.second));
    $('tl-go').addEventListener('click', () => {
      const ms = dayTime($('tl-day').value, $('tl-time').value);
      if (Number.isNaN(ms)) return this.error('Time: choose a day and write HH:MM:SS.');
      return go(Math.floor((ms - this.dayStart()) / 1000));
    });
    $('tl-prev-s').addEventListener('click', () => go(this.second - 1));
    $('tl-next-s').addEventListener('click', () => go(this.second + 1));
    $('tl-prev-f').addEventListener('click', () => this.step(-1).catch(this.guard));
    $('tl-next-f').addEventListener('click', () => this.step(1).catch(this.guard));
    $('tl-play').addEventListener('click', () => this.play());
    for (const id of ['tl-from', 'tl-to', 'tl-camera', 'tl-day']) {
      $(id).addEventListener('change', () => this.linkRange());
    }
  }

  shown() { this.load().catch(this.guard); }

  refresh() { return Promise.resolve(); }

  dayStart() {
    const ms = Date.parse(`${$('tl-day').value}T00:00:00Z`);
    if (Number.isNaN(ms)) throw new Error('Day: choose a day.');
    return ms;
  }

  camera() { return $('tl-camera').value; }

  error(message) { $('tl-error').textContent = message; }

  setSecond(s) {
    this.second = Math.min(86399, Math.max(0, s));
    $('tl-scrub').value = String(this.second);
    const at = this.dayStart() + this.second * 1000;
    $('tl-time').value = hms(at);
    $('tl-from').value = hms(at - RANGE_S * 1000 / 2);
    $('tl-to').value = hms(at + RANGE_S * 1000 / 2);
    this.linkRange();
  }

  show(frame, what) {
    this.frame = frame;
    const img = $('tl-image');
    img.hidden = !frame;
    img.dataset.frameId = frame ? String(frame.id) : '';
    if (frame) img.src = frame.image_url;
    $('tl-caption').textContent = frame ? `${this.camera()} · ${frame.ts.replace('T', ' ')}` : what;
  }

  /** The first frame of the chosen second (the answers of a fast scrub
   * that arrive late are dropped). */
  async load() {
    const from = this.dayStart() + this.second * 1000;
    const ticket = ++this.pending;
    const page = await getJSON('/api/v1/frames/per-second', { camera: this.camera(), from, to: from + 1000, limit: 1 });
    if (ticket !== this.pending) return;
    this.error('');
    this.show(page.frames[0] || null, `no frame of ${this.camera()} at ${hms(from)}`);
  }

  /** The next (+1) or previous (−1) stored frame from the one shown. */
  async step(dir) {
    if (!this.frame) return this.error('Choose a second with a frame first.');
    const at = Date.parse(this.frame.ts);
    const span = dir > 0 ? { from: at, to: at + 10000 } : { from: at - 10000, to: at + 1 };
    const page = await getJSON('/api/v1/frames', { camera: this.camera(), ...span, limit: 1000 });
    const list = dir > 0 ? page.frames : page.frames.slice().reverse();
    const i = list.findIndex((f) => f.id === this.frame.id);
    const next = list[i + 1];
    if (!next) return this.error('No other frame within 10 s.');
    this.show(next, '');
    this.second = Math.floor((Date.parse(next.ts) - this.dayStart()) / 1000);
    $('tl-scrub').value = String(this.second);
    $('tl-time').value = hms(Date.parse(next.ts));
    return this.error('');
  }

  range() {
    const day = $('tl-day').value;
    const from = dayTime(day, $('tl-from').value);
    const to = dayTime(day, $('tl-to').value);
    return Number.isNaN(from) || Number.isNaN(to) || to <= from ? null : { camera: this.camera(), from, to };
  }

  linkRange() {
    const r = this.range();
    $('tl-download').href = r ? url('/api/v1/video', r) : '#';
  }

  play() {
    const r = this.range();
    if (!r) return this.error('Range: write HH:MM:SS for both ends, the end after the start.');
    this.error('');
    const video = $('tl-video');
    video.onerror = () => this.error(`The video did not load (${video.error ? video.error.message || video.error.code : 'error'}): no frames in that range?`);
    video.src = url('/api/v1/video', r);
    return video.play().catch(() => {});
  }
}

// The timeline of one camera's thumbnails: a slider (role="slider") that
// the pointer scrubs (hover or drag) and the keyboard steps through
// (← → one frame, Page Up / Page Down ten, Home / End).

import { utc, parseTs } from './time.js';
import { svgEl } from './plot.js';

export class Timeline {
  constructor({ slider, ticks, cursor, filmstrip, onChange }) {
    this.slider = slider;
    this.ticks = ticks;
    this.cursor = cursor;
    this.filmstrip = filmstrip;
    this.onChange = onChange;
    this.thumbs = [];
    this.times = [];
    this.index = -1;
    slider.addEventListener('keydown', (e) => this.key(e));
    const scrub = (e) => {
      if (!this.thumbs.length) return;
      const r = slider.getBoundingClientRect();
      if (r.width <= 0) return;
      this.select(this.nearest((e.clientX - r.left) / r.width));
    };
    slider.addEventListener('pointermove', scrub);
    slider.addEventListener('pointerdown', (e) => { slider.focus(); scrub(e); });
  }

  /** Replaces the thumbnails (oldest first) and selects the newest. */
  set(thumbs) {
    this.thumbs = thumbs;
    this.times = thumbs.map((t) => parseTs(t.ts));
    this.slider.setAttribute('aria-valuemax', String(Math.max(0, thumbs.length - 1)));
    this.slider.setAttribute('aria-disabled', thumbs.length ? 'false' : 'true');
    this.drawTicks();
    this.drawFilmstrip();
    this.index = -1;
    if (thumbs.length) this.select(thumbs.length - 1);
    else {
      this.slider.setAttribute('aria-valuenow', '0');
      this.slider.setAttribute('aria-valuetext', 'no thumbnails in this range');
      this.cursor.hidden = true;
      this.onChange(null, -1);
    }
  }

  /** A live thumbnail newer than the last; follows it if the newest was selected. */
  append(t) {
    const ms = parseTs(t.ts);
    const n = this.times.length;
    if (n && ms <= this.times[n - 1]) return;
    const follow = this.index === n - 1;
    this.thumbs.push(t);
    this.times.push(ms);
    this.slider.setAttribute('aria-valuemax', String(this.thumbs.length - 1));
    this.slider.setAttribute('aria-disabled', 'false');
    this.drawTicks();
    if (follow || n === 0) this.select(this.thumbs.length - 1);
    else this.place();
  }

  span() {
    const n = this.times.length;
    const t0 = this.times[0];
    const t1 = this.times[n - 1];
    return [t0, Math.max(t1 - t0, 1)];
  }

  frac(i) {
    if (this.times.length < 2) return 1;
    const [t0, d] = this.span();
    return (this.times[i] - t0) / d;
  }

  /** The thumbnail closest in time to a fraction of the span. */
  nearest(f) {
    const [t0, d] = this.span();
    const t = t0 + Math.min(Math.max(f, 0), 1) * d;
    let lo = 0; let hi = this.times.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.times[mid] < t) lo = mid + 1; else hi = mid;
    }
    if (lo > 0 && t - this.times[lo - 1] < this.times[lo] - t) lo -= 1;
    return lo;
  }

  key(e) {
    if (!this.thumbs.length) return;
    const last = this.thumbs.length - 1;
    const step = { ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1, PageDown: -10, PageUp: 10 }[e.key];
    let i;
    if (step !== undefined) i = this.index + step;
    else if (e.key === 'Home') i = 0;
    else if (e.key === 'End') i = last;
    else return;
    e.preventDefault();
    this.select(Math.min(Math.max(i, 0), last));
  }

  select(i) {
    if (i === this.index || i < 0 || i >= this.thumbs.length) return;
    this.index = i;
    const t = this.thumbs[i];
    this.slider.setAttribute('aria-valuenow', String(i));
    this.slider.setAttribute('aria-valuetext', `${utc(this.times[i])}, frame ${i + 1} of ${this.thumbs.length}`);
    this.place();
    this.onChange(t, i);
  }

  place() {
    this.cursor.hidden = false;
    this.cursor.style.left = `${(this.frac(this.index) * 100).toFixed(3)}%`;
  }

  drawTicks() {
    const svg = svgEl('svg', { viewBox: '0 0 1000 10', preserveAspectRatio: 'none', 'aria-hidden': 'true' });
    if (this.times.length) {
      let d = '';
      let lastX = -1;
      for (let i = 0; i < this.times.length; i += 1) {
        const x = Math.round(this.frac(i) * 1000);
        if (x !== lastX) { d += `M${x} 0V10`; lastX = x; }
      }
      svg.append(svgEl('path', { d, class: 'tick' }));
    }
    this.ticks.replaceChildren(svg);
  }

  drawFilmstrip(count = 8) {
    const frag = document.createDocumentFragment();
    const n = this.thumbs.length;
    for (let k = 0; k < Math.min(count, n); k += 1) {
      const i = n <= count ? k : Math.round((k * (n - 1)) / (count - 1));
      const img = document.createElement('img');
      img.loading = 'lazy';
      img.width = 96; img.height = 54; img.alt = '';
      img.src = this.thumbs[i].image_url;
      frag.append(img);
    }
    this.filmstrip.replaceChildren(frag);
  }
}

// The fleet: one card per vessel (state, last seen, position, the newest
// thumbnail of every camera), built from one /vessels call and kept live
// by the feed's events.

import { parseTs, relative, fmtPos } from './time.js';
import { CardHealth } from './health.js';

const THUMB_W = 160;
const THUMB_H = 90;

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'text') e.textContent = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

function speed(p) {
  return p && Number.isFinite(p.speed_kn) ? ` · ${p.speed_kn.toFixed(1)} kn` : '';
}

export class Fleet {
  constructor(list, summary) {
    this.list = list;
    this.summary = summary;
    /** name → { vessel, card, parts } */
    this.cards = new Map();
  }

  /** Replaces every card (first load and resync). */
  render(vessels) {
    const frag = document.createDocumentFragment();
    this.cards.clear();
    for (const v of vessels) frag.append(this.card(v));
    this.list.replaceChildren(frag);
    this.updateSummary();
  }

  updateSummary() {
    let online = 0;
    for (const { vessel } of this.cards.values()) if (vessel.online) online += 1;
    this.summary.textContent = `${this.cards.size} vessels, ${online} online`;
  }

  card(v) {
    const href = `#/vessel/${encodeURIComponent(v.name)}`;
    const state = el('span', { class: 'state' });
    const seen = el('time', {});
    const pos = el('span', { class: 'pos' });
    const cams = el('ul', { class: 'cams', 'aria-label': `Cameras of ${v.name}` });
    const health = new CardHealth(v.name);
    const { badge, body } = health.parts();
    const card = el('li', { class: 'card', dataset: { vessel: v.name } },
      el('article', { 'aria-labelledby': `card-${v.name}` },
        el('header', { class: 'card-head' },
          el('h3', { id: `card-${v.name}` }, el('a', { href, text: v.name })),
          badge, state),
        el('p', { class: 'meta' }, 'Last seen ', seen),
        el('p', { class: 'meta' }, pos),
        ...body,
        cams));
    const entry = { vessel: v, card, state, seen, pos, cams, health, imgs: new Map() };
    this.cards.set(v.name, entry);
    this.fill(entry, v);
    return card;
  }

  fill(entry, v) {
    entry.vessel = v;
    entry.card.dataset.online = v.online ? 'true' : 'false';
    entry.state.textContent = v.online ? 'online' : 'offline';
    entry.state.className = `state ${v.online ? 'on' : 'off'}`;
    const seenMs = parseTs(v.last_seen);
    entry.seen.dateTime = v.last_seen || '';
    entry.seen.dataset.rel = String(seenMs);
    entry.seen.textContent = relative(seenMs);
    entry.seen.title = v.last_seen || 'never';
    const p = v.last_position;
    entry.pos.textContent = p ? `${fmtPos(p)}${speed(p)}` : 'no position yet';
    entry.health.update(entry.card, v);
    for (const c of v.cameras || []) {
      let img = entry.imgs.get(c.id);
      if (!img) {
        img = el('img', {
          width: THUMB_W, height: THUMB_H, loading: 'lazy', decoding: 'async',
          alt: `${c.id}: no thumbnail yet`, dataset: { camera: c.id },
        });
        const cap = el('figcaption', {}, el('span', { class: 'cam', text: c.id }), ' ', el('time', {}));
        entry.cams.append(el('li', {}, el('figure', {}, img, cap)));
        entry.imgs.set(c.id, img);
      }
      if (c.latest_thumb) this.setThumb(entry, c.id, c.latest_thumb);
    }
  }

  setThumb(entry, camera, t) {
    const img = entry.imgs.get(camera);
    if (!img) return false;
    const ms = parseTs(t.ts);
    if (Number(img.dataset.tsMs || -Infinity) > ms) return false; // older than shown
    img.src = t.image_url;
    img.alt = `${camera} camera of ${entry.vessel.name}, ${new Date(ms).toISOString()}`;
    img.dataset.thumbId = String(t.id);
    img.dataset.ts = t.ts;
    img.dataset.tsMs = String(ms);
    const time = img.nextElementSibling && img.nextElementSibling.querySelector('time');
    if (time) {
      time.dateTime = t.ts;
      time.dataset.rel = String(ms);
      time.textContent = relative(ms);
    }
    return true;
  }

  /** A `thumb` event; false when the vessel or camera is new (refetch). */
  onThumb(t) {
    const entry = this.cards.get(t.vessel);
    if (!entry || !entry.imgs.has(t.camera)) return false;
    this.setThumb(entry, t.camera, t);
    return true;
  }

  /** A `vessel` event; false when the vessel is new (refetch). */
  onVessel(v) {
    const entry = this.cards.get(v.name);
    if (!entry) return false;
    this.fill(entry, v);
    this.updateSummary();
    return true;
  }

  vessel(name) {
    const e = this.cards.get(name);
    return e ? e.vessel : null;
  }

  all() {
    return [...this.cards.values()].map((e) => e.vessel);
  }
}

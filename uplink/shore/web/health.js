// A vessel card's health: the agent's version, free disk, outbox backlog,
// clock offset and its cameras' states (from the vessel's latest status),
// and its alerts — a badge with their count beside the name and a list in
// words, announced politely to screen readers when it changes. Filled from
// the `health` and `alerts` of a vessel in /vessels and in `vessel` events.

import { parseTs, relative } from './time.js';

const KIND_TEXT = {
  stale: 'No message',
  camera_down: 'Camera down',
  disk_low: 'Disk low',
  clock_off: 'Clock off',
  backlog_growing: 'Backlog growing',
};

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

/** 1.5 GB, 300 MB (SI, as disks are sold). */
export function bytes(n) {
  if (!Number.isFinite(n)) return '—';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) { v /= 1000; u += 1; }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

function clockText(h) {
  if (h.clock === 'untrusted') return 'clock not synchronised';
  const s = h.clock_offset_ms / 1000;
  return `clock ${s >= 0 ? '+' : '−'}${Math.abs(s).toFixed(1)} s`;
}

export class CardHealth {
  constructor(name) {
    this.badge = el('span', { class: 'alert-badge', hidden: '' });
    this.stats = el('p', { class: 'meta health' });
    this.cams = el('p', { class: 'meta cam-states' });
    this.list = el('ul', { class: 'alerts', 'aria-label': `Alerts of ${name}` });
    this.box = el('div', { class: 'health-box', 'aria-live': 'polite' }, this.list);
  }

  /** The parts to place in the card: the badge (in its header), the rest below. */
  parts() {
    return { badge: this.badge, body: [this.stats, this.cams, this.box] };
  }

  update(card, v) {
    const h = v.health;
    if (h) {
      const total = Number.isFinite(h.disk_total_bytes) ? ` of ${bytes(h.disk_total_bytes)}` : '';
      this.stats.textContent = `Agent ${h.version} · ${bytes(h.disk_free_bytes)} free${total} · backlog ${h.outbox_backlog} · ${clockText(h)}`;
      this.cams.replaceChildren(...h.cameras.flatMap((c, i) => [
        i ? ' · ' : '',
        el('span', { class: `cam-state ${c.up ? 'up' : 'down'}`, 'data-camera': c.id, text: `${c.id} ${c.state}` }),
      ]));
    } else {
      this.stats.textContent = 'No status yet';
      this.cams.replaceChildren();
    }
    const alerts = v.alerts || [];
    card.dataset.alerts = String(alerts.length);
    this.badge.hidden = alerts.length === 0;
    this.badge.textContent = alerts.length === 1 ? '1 alert' : `${alerts.length} alerts`;
    this.list.replaceChildren(...alerts.map((a) => {
      const since = parseTs(a.since);
      const what = `${KIND_TEXT[a.kind] || a.kind}${a.camera ? ` (${a.camera})` : ''}`;
      return el('li', { 'data-kind': a.kind, 'data-camera': a.camera || '' },
        el('strong', { text: what }), `: ${a.detail}, since `,
        el('time', { datetime: a.since, 'data-rel': String(since), title: a.since, text: relative(since) }));
    }));
  }
}

// Status: the agent's figures from `/api/v1/status` as tables — cameras,
// queue and drops, disk budget and the oldest frame, uplink, clock, config.

import { getJSON } from './api.js';
import { stateText } from './live.js';

const MB = 1024 * 1024;

const mb = (n) => (n === null || n === undefined ? '–' : `${(n / MB).toFixed(1)} MB`);
const text = (v) => (v === null || v === undefined ? '–' : String(v));

/** A table of `[label, field, value]` rows; `data-field` names the figure. */
function pairs(title, rows) {
  const h = document.createElement('h2');
  h.textContent = title;
  const t = document.createElement('table');
  for (const [label, field, value] of rows) {
    const tr = t.insertRow();
    const th = document.createElement('th');
    th.textContent = label;
    tr.append(th);
    const td = tr.insertCell();
    td.dataset.field = field;
    td.textContent = value;
  }
  return [h, t];
}

function cameraTable(cameras) {
  const h = document.createElement('h2');
  h.textContent = 'Cameras';
  const t = document.createElement('table');
  const cols = ['captured', 'stored', 'dropped', 'trimmed', 'failed', 'lost', 'capture_errors'];
  t.createTHead().innerHTML = `<tr><th>camera</th><th>state</th><th>storing</th>${cols.map((c) => `<th>${c}</th>`).join('')}<th>last frame</th></tr>`;
  const body = t.createTBody();
  for (const c of cameras) {
    const tr = body.insertRow();
    tr.dataset.camera = c.id;
    const cells = [c.id, stateText(c.state), c.storing, ...cols.map((k) => c[k]), text(c.last_frame)];
    for (const v of cells) tr.insertCell().textContent = String(v);
  }
  return [h, t];
}

export class StatusPanel {
  constructor(root, guard) {
    this.root = root;
    this.guard = guard;
    this.refreshMs = 5000;
  }

  shown() { this.refresh().catch(this.guard); }

  async refresh() {
    const s = await getJSON('/api/v1/status');
    const disk = s.disk || {};
    const up = s.uplink;
    const push = s.config && s.config.last_push;
    this.root.replaceChildren(
      ...cameraTable(s.cameras),
      ...pairs('Queue', [
        ['frames waiting in Redis', 'queue_len', text(s.queue_len)],
        ['frames waiting for Redis', 'handoff_len', text(s.handoff_len)],
        ['dropped (all cameras)', 'dropped', text(s.cameras.reduce((n, c) => n + c.dropped, 0))],
      ]),
      ...pairs('Disk', [
        ['storing', 'store.state', `${s.store.state}${s.store.error ? `: ${s.store.error}` : ''}`],
        ['frames', 'disk.frames_bytes', disk.error || mb(disk.frames_bytes)],
        ['budget', 'disk.retain_bytes', mb(disk.retain_bytes)],
        ['oldest frame', 'disk.oldest_frame', text(disk.oldest_frame)],
        ['deleted by retention', 'disk.retention_deleted', text(disk.retention_deleted)],
      ]),
      ...pairs('Uplink', up ? [
        ['link', 'uplink.link', up.link],
        ['thumbnails waiting', 'uplink.outbox_backlog', text(up.outbox_backlog)],
        ['backlog', 'uplink.outbox_bytes', mb(up.outbox_bytes)],
        ['last contact with shore', 'uplink.last_contact', text(up.last_contact)],
      ] : [['uplink', 'uplink', 'not configured']]),
      ...pairs('Clock and config', [
        ['clock source', 'clock.source', s.clock.source],
        ['GPS', 'gps.state', text(s.gps.state)],
        ['config pushed from shore', 'config.pushed_version', text(s.config && s.config.pushed_version)],
        ['last push', 'config.last_push', push ? `v${push.version} ${push.outcome} at ${push.at}${push.error ? `: ${push.error}` : ''}` : 'none'],
        ['agent', 'version', `${s.version}, up ${s.uptime_s} s`],
      ]),
    );
  }
}

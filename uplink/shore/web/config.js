// The config panel: the vessel's desired overlay (what shore wants laid
// over the vessel's own config file), its version, the last ack and the
// recent acks; a change pushed as a merge patch (PATCH, the default) or a
// whole overlay (PUT) by an operator or admin (signed in: the session's
// cookie and CSRF token go with it). The shore shows passwords as ***;
// a value sent back as shown keeps its password.

import * as api from './api.js';
import { parseTs, relative, utc } from './time.js';

const SAMPLE = '{\n  "retention": { "max_age_s": 86400 }\n}';
const STATUS_TEXT = { applied: 'applied', rejected: 'rejected', rolled_back: 'rolled back' };
/** Recent acks shown (the shore keeps 20). */
const HISTORY_SHOWN = 10;

const MODES = {
  patch: {
    label: 'Change (JSON merge patch)',
    hint: 'Names only what changes and keeps everything else: {"cameras": {"bow": {"fps": 2}}} changes bow\'s fps; '
      + 'null resets a key or a section to the vessel\'s file ({"gps": null}); a list of cameras replaces them all.',
    button: 'Push change',
  },
  put: {
    label: 'Whole overlay (replaces what shore wants)',
    hint: 'Becomes the whole desired overlay: any section or key it leaves out goes back to the vessel\'s file.',
    button: 'Replace overlay',
  },
};

const statusText = (s) => STATUS_TEXT[s] || String(s);

function timeEl(ts) {
  const ms = parseTs(ts);
  const t = document.createElement('time');
  if (!Number.isFinite(ms)) { t.textContent = 'time unknown'; return t; }
  t.dateTime = ts;
  t.dataset.rel = String(ms);
  t.title = utc(ms);
  t.textContent = relative(ms);
  return t;
}

export class ConfigPanel {
  constructor(root) {
    this.root = root;
    this.vessel = null;
    this.pushed = null;
    this.desired = null;
    this.$ = (id) => root.querySelector(`#${id}`);
    this.$('config-form').addEventListener('submit', (e) => { e.preventDefault(); this.push(); });
    for (const radio of root.querySelectorAll('input[name="cfg-mode"]')) {
      radio.addEventListener('change', () => this.setMode(radio.value));
    }
    this.setMode(this.mode());
  }

  /** Who is signed in decides whether the push form shows. */
  setRole(role) {
    const may = api.can(role, 'operator');
    this.$('config-form').hidden = !may;
    this.$('cfg-readonly').hidden = may;
  }

  mode() {
    const checked = this.root.querySelector('input[name="cfg-mode"]:checked');
    return checked && checked.value === 'put' ? 'put' : 'patch';
  }

  setMode(mode) {
    const m = MODES[mode] || MODES.patch;
    this.$('cfg-body-label').textContent = m.label;
    this.$('cfg-body-hint').textContent = m.hint;
    this.$('cfg-submit').textContent = m.button;
    const body = this.$('cfg-body');
    // Replacing starts from what shore wants now; a change from a sample.
    if (mode === 'put' && (!body.value || body.value === SAMPLE) && this.desired) {
      body.value = JSON.stringify(this.desired, null, 2);
    } else if (mode === 'patch' && this.desired && body.value === JSON.stringify(this.desired, null, 2)) {
      body.value = SAMPLE;
    }
  }

  async open(vessel) {
    this.vessel = vessel;
    this.pushed = null;
    this.desired = null;
    this.$('cfg-result').textContent = '';
    this.$('cfg-body').value = SAMPLE;
    try {
      this.show(await api.config(vessel));
    } catch (e) {
      this.$('cfg-ack').textContent = `could not read: ${e.message}`;
    }
    this.setMode(this.mode());
  }

  show(state) {
    const version = this.$('cfg-version');
    const desired = this.$('cfg-desired');
    if (!state) {
      version.textContent = 'none pushed yet';
      desired.textContent = '{} (everything from the vessel\'s file)';
      this.desired = {};
      this.showAck(null, 0);
      this.showHistory([]);
      return;
    }
    this.desired = state.desired || {};
    version.textContent = state.version ? String(state.version) : 'none pushed yet';
    const empty = Object.keys(this.desired).length === 0;
    desired.textContent = empty
      ? '{} (everything from the vessel\'s file)'
      : JSON.stringify(this.desired, null, 2);
    this.showAck(state.ack, state.version || 0);
    this.showHistory(state.history || []);
    if (this.pushed && state.ack && state.ack.version >= this.pushed) {
      const a = state.ack;
      const which = a.version === this.pushed ? '' : ` (then version ${a.version})`;
      this.$('cfg-result').textContent = `Pushed version ${this.pushed}${which}: ${statusText(a.status)} by ${this.vessel}`
        + (a.error ? ` — ${a.error}` : '.');
      this.pushed = null;
    }
  }

  showAck(a, version) {
    const ack = this.$('cfg-ack');
    if (!a) {
      delete ack.dataset.status;
      delete ack.dataset.version;
      ack.textContent = version ? `none yet (version ${version} pending)` : 'none';
      return;
    }
    ack.dataset.status = a.status;
    ack.dataset.version = String(a.version);
    const head = document.createElement('strong');
    head.textContent = `version ${a.version} ${statusText(a.status)}`;
    const parts = [head];
    if (a.received_at) parts.push(' ', timeEl(a.received_at));
    if (version > a.version) parts.push(` (version ${version} not acked yet)`);
    if (a.error) {
      const err = document.createElement('pre');
      err.className = 'ack-error';
      err.textContent = a.error;
      parts.push(err);
    }
    ack.replaceChildren(...parts);
  }

  showHistory(history) {
    const body = this.$('cfg-history-rows');
    const rows = history.slice(0, HISTORY_SHOWN).map((a) => {
      const tr = document.createElement('tr');
      tr.dataset.status = a.status;
      const cells = [String(a.version), statusText(a.status), null, a.error || ''];
      cells.forEach((text, i) => {
        const td = document.createElement('td');
        if (i === 2) td.append(a.received_at ? timeEl(a.received_at) : '—');
        else td.textContent = text;
        if (i === 1) td.className = 'status';
        if (i === 3) td.className = 'error';
        tr.append(td);
      });
      return tr;
    });
    body.replaceChildren(...rows);
    this.$('cfg-history').hidden = rows.length === 0;
    this.$('cfg-history-none').hidden = rows.length > 0;
  }

  /** A `config` event (any vessel). */
  onConfig(ev) {
    if (ev.vessel === this.vessel) this.show(ev);
  }

  async push() {
    const vessel = this.vessel;
    const result = this.$('cfg-result');
    const text = this.$('cfg-body').value;
    try {
      JSON.parse(text);
    } catch (e) {
      result.textContent = `Not JSON: ${e.message}`;
      return;
    }
    const mode = this.mode();
    result.textContent = 'Pushing…';
    try {
      const send = mode === 'put' ? api.putConfig : api.patchConfig;
      const { version } = await send(vessel, text);
      this.pushed = version;
      result.textContent = `Pushed version ${version}; waiting for ${vessel} to ack…`;
      this.show(await api.config(vessel));
    } catch (e) {
      result.textContent = `Push failed: ${e.message}`;
    }
  }
}

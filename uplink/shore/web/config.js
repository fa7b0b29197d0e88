// The config panel: desired config, its version and the vessel's last ack;
// a new config pushed with the API token (kept in sessionStorage only when
// asked, never in localStorage).

import * as api from './api.js';

const TOKEN_KEY = 'seaframe.token';
const SAMPLE = '{\n  "retention": { "max_age_s": 86400 }\n}';

export class ConfigPanel {
  constructor(root) {
    this.root = root;
    this.vessel = null;
    this.pushed = null;
    this.$ = (id) => root.querySelector(`#${id}`);
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) { this.$('cfg-token').value = token; this.$('cfg-remember').checked = true; }
    this.$('config-form').addEventListener('submit', (e) => { e.preventDefault(); this.push(); });
  }

  async open(vessel) {
    this.vessel = vessel;
    this.pushed = null;
    this.$('cfg-result').textContent = '';
    this.$('cfg-body').value = '';
    try {
      this.show(await api.config(vessel));
    } catch (e) {
      this.$('cfg-ack').textContent = `could not read: ${e.message}`;
    }
  }

  show(state) {
    const version = this.$('cfg-version');
    const ack = this.$('cfg-ack');
    const desired = this.$('cfg-desired');
    const body = this.$('cfg-body');
    if (!state) {
      version.textContent = 'none pushed yet';
      ack.textContent = 'none';
      delete ack.dataset.status;
      desired.textContent = '—';
      if (!body.value) body.value = SAMPLE;
      return;
    }
    version.textContent = state.version ? String(state.version) : 'none pushed yet';
    const hasDesired = state.desired && Object.keys(state.desired).length > 0;
    desired.textContent = hasDesired ? JSON.stringify(state.desired, null, 2) : '—';
    if (!body.value) body.value = hasDesired ? JSON.stringify(state.desired, null, 2) : SAMPLE;
    if (state.ack) {
      const a = state.ack;
      ack.dataset.status = a.status;
      ack.dataset.version = String(a.version);
      ack.textContent = `version ${a.version} ${a.status}${a.error ? `: ${a.error}` : ''}`
        + (state.version > a.version ? ` (version ${state.version} not acked yet)` : '');
    } else {
      delete ack.dataset.status;
      ack.textContent = state.version ? `none yet (version ${state.version} pending)` : 'none';
    }
    if (this.pushed && state.ack && state.ack.version >= this.pushed) {
      this.$('cfg-result').textContent = `Version ${state.ack.version} ${state.ack.status} by ${this.vessel}.`;
      this.pushed = null;
    }
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
    const token = this.$('cfg-token').value.trim();
    if (this.$('cfg-remember').checked && token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
    result.textContent = 'Pushing…';
    try {
      const { version } = await api.putConfig(vessel, text, token);
      this.pushed = version;
      result.textContent = `Pushed version ${version}; waiting for ${vessel} to ack…`;
      this.show(await api.config(vessel));
    } catch (e) {
      result.textContent = `Push failed: ${e.message}`;
    }
  }
}

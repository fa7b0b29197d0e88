// The fleet page: the fleet (cards + plot) and a vessel view, both built
// from the shore's public API, kept live by /api/v1/events. Nothing is
// loaded before sign-in: a page without a session shows the sign-in form
// only (the shell itself holds no data).

import * as api from './api.js';
import { connect } from './events.js';
import { Fleet } from './fleet.js';
import { FleetPlot, trackLines } from './plot.js';
import { VesselView } from './vessel.js';
import { ConfigPanel } from './config.js';
import { keepRelative } from './time.js';

const $ = (id) => document.getElementById(id);
const HOUR_MS = 3600 * 1000;

const fleet = new Fleet($('fleet'), $('fleet-summary'));
const plot = new FleetPlot($('fleet-plot'));
const vesselView = new VesselView($('vessel-view'));
const configPanel = new ConfigPanel($('config-panel'));
const live = $('live');

function setLive(state) {
  live.dataset.state = state;
  live.textContent = { live: 'Live', reconnecting: 'Reconnecting…', closed: 'Disconnected', connecting: 'Connecting…' }[state] || state;
}

async function loadFleet() {
  const { vessels } = await api.vessels();
  fleet.render(vessels);
  document.body.dataset.cards = String(vessels.length);
  performance.mark('fleet-rendered');
  // The frame after the cards: when they were painted (measured by the test).
  requestAnimationFrame(() => setTimeout(() => performance.mark('fleet-painted'), 0));
  plot.setVessels(vessels);
  return vessels;
}

let refetching = null;
function refetch() {
  if (!refetching) {
    refetching = loadFleet().catch((e) => { $('fleet-summary').textContent = `Could not load the fleet: ${e.message}`; })
      .finally(() => { refetching = null; });
  }
  return refetching;
}

/** Recent tracks for the plot, a few requests at a time, after first paint. */
async function loadTracks(vessels) {
  const now = Date.now();
  const queue = vessels.filter((v) => v.last_position).map((v) => v.name);
  const worker = async () => {
    while (queue.length) {
      const name = queue.shift();
      try {
        const t = await api.track(name, now - HOUR_MS, now + 60_000);
        plot.setTrack(name, trackLines(t));
      } catch { /* the dot is still there */ }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

function route() {
  const m = location.hash.match(/^#\/vessel\/(.+)$/);
  const name = m ? decodeURIComponent(m[1]) : null;
  const v = name ? fleet.vessel(name) : null;
  $('fleet-view').hidden = Boolean(v);
  $('vessel-view').hidden = !v;
  if (v) {
    document.title = `${v.name} · seaframe`;
    vesselView.open(v);
    configPanel.open(v.name);
    $('vessel-h').focus({ preventScroll: true });
  } else {
    document.title = 'seaframe · fleet';
    vesselView.vessel = null;
    configPanel.vessel = null;
  }
}

async function main() {
  let vessels = [];
  try {
    vessels = await loadFleet();
  } catch (e) {
    $('fleet-summary').textContent = `Could not load the fleet: ${e.message}`;
  }
  connect({
    onThumb: (t) => {
      if (!fleet.onThumb(t)) refetch();
      vesselView.onThumb(t);
    },
    onVessel: (v) => {
      if (!fleet.onVessel(v)) { refetch(); return; }
      if (v.last_position) plot.addPosition(v.name, v.last_position.lon, v.last_position.lat);
      plot.setVessels(fleet.all());
    },
    onConfig: (c) => configPanel.onConfig(c),
    onResync: () => refetch(),
    onState: setLive,
  });
  keepRelative(document.body);
  window.addEventListener('hashchange', route);
  route();
  setTimeout(() => loadTracks(vessels), 0);
}

let started = false;

function showSignIn(message) {
  $('main').hidden = true;
  $('live').hidden = true;
  $('who').hidden = true;
  $('sign-in-view').hidden = false;
  $('sign-in-result').textContent = message || '';
  document.title = 'Sign in · seaframe';
  delete document.body.dataset.role;
  $('sign-in-name').focus();
}

function signedIn(me) {
  $('sign-in-view').hidden = true;
  $('main').hidden = false;
  $('live').hidden = false;
  $('who').hidden = false;
  $('who-name').textContent = `${me.name} (${me.role})`;
  document.body.dataset.role = me.role;
  configPanel.setRole(me.role);
  if (!started) {
    started = true;
    main();
  }
}

$('sign-in-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = $('sign-in-name').value.trim();
  const password = $('sign-in-password').value;
  $('sign-in-submit').disabled = true;
  $('sign-in-result').textContent = 'Signing in…';
  try {
    const me = await api.signIn(name, password);
    $('sign-in-password').value = '';
    // Signed out mid-way (the session ended): start again, signed in.
    if (started) { location.reload(); return; }
    signedIn(me);
  } catch (err) {
    $('sign-in-result').textContent = err.status === 429
      ? `Too many failed sign-ins: ${err.message.replace(/^429: /, '')}.`
      : `Could not sign in: ${err.message.replace(/^\d+: /, '')}.`;
  } finally {
    $('sign-in-submit').disabled = false;
  }
});

$('sign-out').addEventListener('click', async () => {
  try { await api.signOut(); } catch { /* signed out anyway */ }
  location.reload();
});

api.onSignedOut(() => { if (started) showSignIn('Your session has ended: sign in again.'); });

async function boot() {
  $('vessel-h').tabIndex = -1;
  let me = null;
  try {
    me = await api.session();
  } catch (e) {
    showSignIn(`The shore did not answer: ${e.message}`);
    return;
  }
  if (me) signedIn(me); else showSignIn('');
}

boot();

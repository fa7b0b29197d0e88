// The crew page's entry: sign-in when the agent asks for it, the header
// (vessel, position, clock source) and the four tabs.

import { SignInNeeded, getJSON, signIn, signOut, every } from './api.js';
import { Live } from './live.js';
import { Timeline } from './timeline.js';
import { Places } from './places.js';
import { StatusPanel } from './status.js';

const $ = (id) => document.getElementById(id);
const HEADER_MS = 5000;
let current = 'live';
let panels = null;

function show(tab) {
  current = tab;
  for (const b of document.querySelectorAll('#tabs [data-tab]')) {
    b.setAttribute('aria-pressed', String(b.dataset.tab === tab));
  }
  for (const s of document.querySelectorAll('.tab')) s.hidden = s.id !== tab;
  panels[tab].shown();
}

function askForToken(message = '') {
  $('tabs').hidden = true;
  for (const s of document.querySelectorAll('.tab')) s.hidden = true;
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = message;
  $('token').focus();
}

/** Anything that fails for want of a session brings the form back. */
function guard(e) {
  if (e instanceof SignInNeeded) askForToken('Your session has ended: sign in again.');
  else console.warn(e);
}

function header(status) {
  $('vessel').textContent = status.vessel;
  $('version').textContent = status.version;
  $('clock-source').textContent = status.clock.source;
  const fix = status.gps && status.gps.latest;
  $('position').textContent = fix
    ? `${fix.lat.toFixed(5)}, ${fix.lon.toFixed(5)} (${fix.fix}, ${fix.time.slice(11, 19)} UTC)`
    : 'no fix';
}

async function start() {
  $('sign-in').hidden = true;
  $('tabs').hidden = false;
  const status = await getJSON('/api/v1/status');
  header(status);
  const cameras = status.cameras.map((c) => c.id);
  if (!panels) {
    panels = {
      live: new Live($('live-grid'), guard),
      timeline: new Timeline(cameras, guard),
      places: new Places(cameras, guard, status.map_tiles),
      status: new StatusPanel($('status-body'), guard),
    };
    every(HEADER_MS, () => !$('tabs').hidden, () => getJSON('/api/v1/status').then(header).catch(guard));
    for (const p of Object.entries(panels)) {
      every(p[1].refreshMs, () => current === p[0] && !$('tabs').hidden, () => p[1].refresh().catch(guard));
    }
  }
  show(current);
}

async function boot() {
  for (const b of document.querySelectorAll('#tabs [data-tab]')) {
    b.addEventListener('click', () => show(b.dataset.tab));
  }
  $('sign-in').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await signIn($('token').value);
      $('token').value = '';
      $('sign-out').hidden = false;
      await start();
    } catch (e) {
      $('sign-in-error').textContent = e instanceof SignInNeeded ? 'Wrong token.' : e.message;
    }
  });
  $('sign-out').addEventListener('click', () => signOut().then(() => askForToken()).catch(guard));
  const session = await getJSON('/api/v1/session');
  if (session.required && !session.signed_in) return askForToken();
  $('sign-out').hidden = !session.required;
  return start().catch(guard);
}

boot().catch((e) => { document.body.dataset.error = e.message; console.error(e); });

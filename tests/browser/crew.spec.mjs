// The agent's crew page in headless Chromium, against a running agent.
// Driven by agent/tests/crew_page.rs (which starts redis-server and the
// agent with two test-pattern cameras, a replayed GPS track and a token);
// run alone it needs
//   AGENT_URL, AGENT_TOKEN, CAMERAS (comma-separated ids of cameras that
//   capture), DOWN_CAMERA (one that answers nothing), ARTIFACTS_DIR,
//   TILES_URL (the origin of the agent's `api.map_tiles`, a test tile
//   server),
//   [CHROMIUM, SCREENSHOT (a path for the README's picture)]
// Exits non-zero with a message on the first failed check.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const AGENT = need('AGENT_URL');
const TOKEN = need('AGENT_TOKEN');
const CAMERAS = need('CAMERAS').split(',');
const DOWN = need('DOWN_CAMERA');
const ARTIFACTS = need('ARTIFACTS_DIR');
const TILES = need('TILES_URL');

function need(name) {
  const v = process.env[name];
  if (!v) { console.log(`FAIL ${name} is not set`); process.exit(1); }
  return v;
}

function check(cond, msg) {
  if (!cond) throw new Error(msg);
  console.log(`ok   ${msg}`);
}

/** The agent's API as the test sees it (with the token, outside the page). */
async function api(path) {
  const r = await fetch(`${AGENT}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

const hms = (ms) => new Date(ms).toISOString().slice(11, 19);
const day = (ms) => new Date(ms).toISOString().slice(0, 10);
/** Sets an input's value as a person would, then fires `event`. */
const setValue = (page, sel, value, event = 'change') => page.$eval(sel, (el, [v, e]) => {
  el.value = v;
  el.dispatchEvent(new Event(e, { bubbles: true }));
}, [value, event]);

mkdirSync(ARTIFACTS, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  page = await context.newPage();
  const outside = [];
  context.on('request', (r) => { if (new URL(r.url()).origin !== AGENT) outside.push(r.url()); });
  // Tiles the page got from the tile server, and a hook called on each.
  const tilesLoaded = new Set();
  let onTile = () => {};
  context.on('response', (r) => {
    if (new URL(r.url()).origin === TILES && r.ok()) { tilesLoaded.add(r.url()); onTile(); }
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const failed = [];
  page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`); });
  const seen = [];
  const note = (r) => seen.push(`${r.method()} ${new URL(r.url()).pathname}`);
  page.on('request', note);

  // 1. Sign-in required: the form, and nothing asked of the API but the session.
  await page.goto(AGENT);
  await page.waitForSelector('#sign-in', { state: 'visible', timeout: 10_000 });
  await page.waitForLoadState('networkidle');
  const data = seen.filter((r) => !/^GET (\/|\/assets\/[\w.-]+)$/.test(r));
  check(data.length === 1 && data[0] === 'GET /api/v1/session', `before sign-in the page asks only GET /api/v1/session (${data.join(', ')})`);
  check(await page.isHidden('#tabs') && await page.isHidden('#live'), 'before sign-in nothing is shown but the form');
  const bare = await fetch(`${AGENT}/api/v1/cameras`);
  check(bare.status === 401, `the API without token or session answers 401 (${bare.status})`);
  await page.fill('#token', 'not-the-token');
  await page.click('#sign-in button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#sign-in-error').textContent === 'Wrong token.', null, { timeout: 5_000 });
  check(true, 'a wrong token is refused on the form');
  await page.screenshot({ path: join(ARTIFACTS, 'sign-in.png') });
  await page.fill('#token', TOKEN);
  await page.click('#sign-in button[type=submit]');
  await page.waitForSelector('#tabs:not([hidden])', { timeout: 10_000 });
  check(true, 'the token on the form signs in');
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'seaframe_session');
  check(session && session.httpOnly && session.sameSite === 'Strict', 'the session cookie is HttpOnly and SameSite=Strict');
  check(!(await page.evaluate(() => document.cookie)).includes('seaframe_session'), 'the page\'s scripts cannot read the session');
  page.off('request', note);

  // 2. Live view: a loaded frame from each camera, then newer ones.
  const liveIds = async () => page.$$eval('#live-grid figure', (figs) => Object.fromEntries(figs
    .filter((f) => f.querySelector('img').complete && f.querySelector('img').naturalWidth > 0)
    .map((f) => [f.dataset.camera, Number(f.dataset.frameId)])));
  await page.waitForFunction((n) => [...document.querySelectorAll('#live-grid figure img')]
    .filter((i) => i.complete && i.naturalWidth > 0).length === n, CAMERAS.length, { timeout: 10_000 });
  const first = await liveIds();
  check(CAMERAS.every((c) => first[c] > 0), `live view shows a frame of each camera (${JSON.stringify(first)})`);
  const states = await page.$$eval('#live-grid .state', (s) => s.filter((e) => e.textContent === 'ok' && e.classList.contains('state-ok')).length);
  check(states === CAMERAS.length, `live view shows each camera's state as ok (${states})`);
  const down = await page.$eval(`#live-grid figure[data-camera="${DOWN}"] .state`, (e) => ({ text: e.textContent, down: e.classList.contains('state-down') }));
  check(down.down && /^retrying: .+/.test(down.text), `live view shows ${DOWN} down with its reason (${down.text})`);
  await page.waitForFunction((before) => [...document.querySelectorAll('#live-grid figure')]
    .filter((f) => f.dataset.camera in before)
    .every((f) => Number(f.dataset.frameId) > before[f.dataset.camera]
      && f.querySelector('img').complete && f.querySelector('img').naturalWidth > 0), first, { timeout: 10_000 });
  const later = await liveIds();
  check(CAMERAS.every((c) => later[c] > first[c]), `live view updates (${JSON.stringify(later)})`);
  const status = await api('/api/v1/status');
  check((await page.textContent('#clock-source')) === status.clock.source, `the header shows the clock source (${status.clock.source})`);
  const fix = status.gps.latest;
  check(fix && (await page.textContent('#position')).startsWith(fix.lat.toFixed(3)), 'the header shows the ship\'s position');
  if (process.env.SCREENSHOT) {
    const bottom = await page.$eval('main', (m) => m.getBoundingClientRect().bottom);
    await page.screenshot({ path: process.env.SCREENSHOT, clip: { x: 0, y: 0, width: 1280, height: Math.ceil(bottom) } });
    console.log(`screenshot ${process.env.SCREENSHOT}`);
  }
  await page.screenshot({ path: join(ARTIFACTS, 'live.png') });

  // 3. Timeline: a chosen second shows the API's frame of that second.
  await page.click('[data-tab=timeline]');
  const cam = CAMERAS[1];
  await setValue(page, '#tl-camera', cam);
  const now = Date.now();
  const recent = await api(`/api/v1/frames/per-second?camera=${cam}&from=${now - 9000}&to=${now - 3000}`);
  check(recent.frames.length >= 3, `the API has seconds of ${cam} to choose from (${recent.frames.length})`);
  const chosenMs = Math.floor(Date.parse(recent.frames[2].ts) / 1000) * 1000;
  const expect = async (secondMs) => (await api(`/api/v1/frames/per-second?camera=${cam}&from=${secondMs}&to=${secondMs + 1000}&limit=1`)).frames[0];
  const shown = async (frame, how) => {
    await page.waitForFunction((id) => {
      const img = document.querySelector('#tl-image');
      return img.dataset.frameId === String(id) && img.complete && img.naturalWidth > 0;
    }, frame.id, { timeout: 10_000 }).catch(async () => {
      const got = await page.getAttribute('#tl-image', 'data-frame-id');
      throw new Error(`${how}: the page shows frame ${got || 'none'}, the API's is ${frame.id} (${frame.ts})`);
    });
    check(true, `${how} shows frame ${frame.id} (${frame.ts})`);
  };
  await setValue(page, '#tl-day', day(chosenMs));
  await page.fill('#tl-time', hms(chosenMs));
  await page.click('#tl-go');
  const atChosen = await expect(chosenMs);
  await shown(atChosen, `jumping to ${hms(chosenMs)}`);
  await page.fill('#tl-time', '25:99');
  await page.click('#tl-go');
  check((await page.textContent('#tl-error')).startsWith('Time:'), 'a time that is not HH:MM:SS is refused with a message');
  const scrubTo = (chosenMs - Date.parse(`${day(chosenMs)}T00:00:00Z`)) / 1000 - 1;
  await setValue(page, '#tl-scrub', String(scrubTo), 'input');
  await shown(await expect(chosenMs - 1000), `scrubbing to ${hms(chosenMs - 1000)}`);
  await page.click('#tl-next-s');
  await shown(atChosen, 'one second on');
  const around = await api(`/api/v1/frames?camera=${cam}&from=${Date.parse(atChosen.ts)}&limit=2`);
  await page.click('#tl-next-f');
  await shown(around.frames[1], 'one frame on');
  await page.click('#tl-prev-f');
  await shown(atChosen, 'one frame back');

  // 4. A range plays as MP4 (and the download link is the same video).
  await page.fill('#tl-from', hms(chosenMs - 3000));
  await page.fill('#tl-to', hms(chosenMs + 3000));
  await setValue(page, '#tl-to', hms(chosenMs + 3000));
  await page.click('#tl-play');
  await page.waitForFunction(() => {
    const v = document.querySelector('#tl-video');
    return v.readyState >= 2 && v.currentTime > 0.5;
  }, null, { timeout: 20_000 });
  const video = await page.$eval('#tl-video', (v) => ({ src: v.src, w: v.videoWidth, t: v.currentTime }));
  check(video.w === 320, `the range plays as MP4 (${video.w} px wide, at ${video.t.toFixed(1)} s)`);
  check(await page.$eval('#tl-download', (a) => a.href) === video.src, 'the download link is the range\'s MP4');
  await page.screenshot({ path: join(ARTIFACTS, 'timeline.png') });

  // 5. Frames by place: a point of the track shows every camera at that instant.
  await page.click('[data-tab=places]');
  await page.waitForFunction(() => document.querySelectorAll('#track circle').length >= 3, null, { timeout: 10_000 });
  // By selector, and the instant read back from the page: the page redraws
  // the track every 30 s, with the latest fixes.
  await page.click('#track circle:nth-last-of-type(2)');
  await page.waitForFunction((n) => [...document.querySelectorAll('#place-frames figure img')]
    .filter((i) => i.complete && i.naturalWidth > 0).length === n, CAMERAS.length, { timeout: 10_000 });
  const at = await page.getAttribute('#place-frames', 'data-time');
  for (const c of CAMERAS) {
    const want = await api(`/api/v1/frames/nearest?camera=${c}&at=${encodeURIComponent(at)}`);
    const got = await page.getAttribute(`#place-frames figure[data-camera="${c}"]`, 'data-frame-id');
    check(got === String(want.id), `the track point at ${at} shows ${c}'s frame nearest to it (${got})`);
  }
  // The map tiles of `api.map_tiles` under the track: the latest fix's tile
  // is drawn where the template says, and the tile server was asked for it.
  const track = await api('/api/v1/track?every_s=2');
  const last = track.features.filter((f) => f.geometry.type === 'Point').pop().geometry.coordinates;
  const z = Number(await page.getAttribute('#track image', 'data-z'));
  const [mx, my] = [(last[0] + 180) / 360, (1 - Math.asinh(Math.tan(last[1] * Math.PI / 180)) / Math.PI) / 2];
  const tile = `${z}/${Math.floor(mx * 2 ** z)}/${Math.floor(my * 2 ** z)}`;
  const hrefs = await page.$$eval('#track image', (els) => els.map((e) => e.getAttribute('href')));
  check(z >= 10 && hrefs.includes(`${TILES}/${tile}.png`), `the map tile under the latest fix is drawn (${tile}, ${hrefs.length} tiles)`);
  const url = `${TILES}/${tile}.png`;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${url} was not loaded in 10 s`)), 10_000);
    onTile = () => { if (tilesLoaded.has(url)) { clearTimeout(timer); resolve(); } };
    onTile();
  });
  check(tilesLoaded.has(url), `the page loaded it from the tile server (${tilesLoaded.size} tiles)`);
  await page.screenshot({ path: join(ARTIFACTS, 'places.png') });

  // 6. Status: the figures of /api/v1/status.
  await page.click('[data-tab=status]');
  await page.waitForSelector('td[data-field="disk.frames_bytes"]', { timeout: 10_000 });
  const s = await api('/api/v1/status');
  const field = (f) => page.textContent(`td[data-field="${f}"]`);
  check((await field('store.state')) === s.store.state, `status shows the store's state (${s.store.state})`);
  check((await field('disk.retain_bytes')) === `${(s.disk.retain_bytes / 1048576).toFixed(1)} MB`, 'status shows the disk budget');
  check((await field('disk.oldest_frame')) === s.disk.oldest_frame, `status shows the oldest frame (${s.disk.oldest_frame})`);
  check((await field('clock.source')) === s.clock.source, 'status shows the clock source');
  check((await field('uplink')) === 'not configured', 'status says the uplink is not configured');
  check((await field('config.last_push')) === 'none', 'status says no config was pushed');
  for (const c of s.cameras) {
    const row = await page.$$eval(`tr[data-camera="${c.id}"] td`, (tds) => tds.map((td) => td.textContent));
    const state = c.id === DOWN ? /^retrying: / : /^ok$/;
    check(state.test(row[1]) && row[2] === c.storing, `status shows ${c.id}: ${row[1]}, storing ${row[2]}`);
  }
  await page.screenshot({ path: join(ARTIFACTS, 'status.png') });

  // 7. Nothing left the machine: every request went to the agent or to the
  // tile server it was configured with; nothing failed but the wrong token.
  const elsewhere = outside.filter((u) => new URL(u).origin !== TILES);
  check(elsewhere.length === 0, `no request left the agent but for map tiles ${elsewhere.join(', ')}`);
  // (The camera that is down has no frame to be nearest: 404.)
  const expected = ['POST /api/v1/session 401', 'GET /api/v1/frames/nearest 404'];
  const unexpected = failed.filter((f) => !expected.includes(f));
  check(unexpected.length === 0, `no failed request but the wrong token's 401 and ${DOWN}'s 404 ${unexpected.join(', ')}`);
  check(errors.length === 0, `no script error ${errors.join(', ')}`);

  // 8. Signing out ends the session: the form again, and the API closed.
  await page.click('#sign-out');
  await page.waitForSelector('#sign-in', { state: 'visible', timeout: 5_000 });
  const after = await page.evaluate(() => fetch('/api/v1/cameras').then((r) => r.status));
  check(after === 401, `after signing out the page's requests get 401 (${after})`);
} catch (e) {
  console.log(`FAIL ${e.message}`);
  if (page) await page.screenshot({ path: join(ARTIFACTS, 'failure.png') }).catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}

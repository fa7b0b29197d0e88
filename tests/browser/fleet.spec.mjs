// The fleet page in headless Chromium, against a running shore.
// Driven by tests/e2e/tests/fleet_page.rs (which starts Mosquitto, the
// shore, a real agent and a replayed fleet, and makes the accounts); run
// alone it needs
//   SHORE_URL, SHORE_USER, SHORE_PASSWORD (an operator),
//   SHORE_VIEWER, SHORE_VIEWER_PASSWORD, ARTIFACTS_DIR, [CHROMIUM, FLEET_SIZE]
// Every page signs in through the page's own form first (signIn below).
// Asks the driver for a fresh thumbnail with a line on stdout
// ("WAITING-FOR-THUMB <vessel> <camera>") and reads its answer on stdin
// ("PUBLISHED <ts> <unix ms just before the publish>").
// Exits non-zero with a message on the first failed check.

import { chromium } from 'playwright-core';
import { signIn as signInAs } from './sign-in.mjs';
import { createInterface } from 'node:readline';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const SHORE = need('SHORE_URL');
const USER = need('SHORE_USER');
const PASSWORD = need('SHORE_PASSWORD');
const VIEWER = need('SHORE_VIEWER');
const VIEWER_PASSWORD = need('SHORE_VIEWER_PASSWORD');
const ARTIFACTS = need('ARTIFACTS_DIR');
const FLEET = Number(process.env.FLEET_SIZE || 200);
const BUDGET_MS = 1000;

function need(name) {
  const v = process.env[name];
  if (!v) fail(`${name} is not set`);
  return v;
}

function fail(msg) {
  console.log(`FAIL ${msg}`);
  process.exit(1);
}

function check(cond, msg) {
  if (!cond) throw new Error(msg);
  console.log(`ok   ${msg}`);
}

const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function ask(line) {
  console.log(line);
  const { value, done } = await stdinLines.next();
  if (done) throw new Error(`no answer to ${line}`);
  return value;
}

/** Signs `page` in (as the operator unless told otherwise). */
const signIn = (page, name = USER, password = PASSWORD) => signInAs(page, SHORE, name, password);

mkdirSync(ARTIFACTS, { recursive: true });
const shot = (page, name) => page.screenshot({ path: join(ARTIFACTS, name), fullPage: false });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  page = await context.newPage();
  const consoleErrors = [];
  // Failed resources are checked by URL below (Chromium logs them too).
  page.on('console', (m) => { if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) consoleErrors.push(m.text()); });
  const failed = [];
  page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.request().method()} ${r.url()} ${r.status()}`); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  const outside = [];
  page.on('request', (r) => { if (!r.url().startsWith(SHORE)) outside.push(r.url()); });

  // 0. Warm-up: the browser's first page pays for starting its renderer and
  //    compiling; the measured load below is a fresh context (empty cache)
  //    in the running browser. Both are printed.
  //    Before signing in the page shows the form and asks the shore for
  //    nothing but its own files and who is signed in (nobody: 401).
  const warm = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  const warmPage = await warm.newPage();
  const beforeSignIn = [];
  const note = (r) => beforeSignIn.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`);
  warmPage.on('response', note);
  await warmPage.goto(SHORE);
  await warmPage.waitForSelector('#sign-in-form', { state: 'visible', timeout: 10_000 });
  await warmPage.waitForLoadState('networkidle');
  warmPage.off('response', note);
  const data = beforeSignIn.filter((r) => !/^GET (\/|\/assets\/[\w.-]+) (200|304)$/.test(r));
  check(data.length === 1 && data[0] === 'GET /api/v1/session 401', `before sign-in only the page's files and GET /api/v1/session (401) (${data.join(', ')})`);
  check(await warmPage.isHidden('#main'), 'before sign-in the fleet is hidden');
  await warmPage.fill('#sign-in-name', USER);
  await warmPage.fill('#sign-in-password', 'not the password');
  await warmPage.click('#sign-in-submit');
  await warmPage.waitForFunction(() => /Could not sign in: wrong name or password/.test(document.querySelector('#sign-in-result').textContent), null, { timeout: 5_000 });
  check(true, 'a wrong password is refused on the form');
  await shot(warmPage, 'sign-in.png');
  const who = await signIn(warmPage);
  check(who.role === 'operator', `signed in as ${who.name} (${who.role})`);
  await warmPage.waitForSelector(`body[data-cards="${FLEET}"]`, { timeout: 10_000 });
  const cold = await warmPage.evaluate(() => ({
    fcp: (performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint') || {}).startTime,
    cards: performance.getEntriesByName('fleet-rendered')[0].startTime,
  }));
  console.log(`METRIC cold_browser_first_contentful_paint_ms=${Math.round(cold.fcp)} cold_browser_cards_in_dom_ms=${Math.round(cold.cards)}`);
  await warm.close();

  // 1. The fleet: 200 cards from one /vessels call, first paint under 1 s
  //    (the page opened again once signed in: measured from navigation).
  await signIn(page);
  await page.goto(SHORE, { waitUntil: 'commit' });
  await page.waitForSelector(`body[data-cards="${FLEET}"]`, { timeout: 10_000 });
  const timing = await page.evaluate(() => {
    const fcp = performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint');
    const cards = performance.getEntriesByName('fleet-rendered')[0];
    return { fcp: fcp ? fcp.startTime : null, cards: cards ? cards.startTime : null };
  });
  // The paint entry lands after the frame is shown: wait for it if need be.
  if (timing.fcp === null) {
    timing.fcp = await page.evaluate(() => new Promise((resolve) => {
      new PerformanceObserver((l) => {
        const e = l.getEntries().find((x) => x.name === 'first-contentful-paint');
        if (e) resolve(e.startTime);
      }).observe({ type: 'paint', buffered: true });
    }));
  }
  // Cards painted: the mark the page sets in the frame after the cards.
  const painted = await (await page.waitForFunction(() => {
    const m = performance.getEntriesByName('fleet-painted')[0];
    return m ? m.startTime : false;
  }, null, { timeout: 10_000 })).jsonValue();
  const vesselsApi = await page.evaluate(() => {
    const r = performance.getEntriesByType('resource').find((e) => e.name.endsWith('/api/v1/vessels'));
    return r ? r.responseEnd - r.startTime : -1;
  });
  console.log(`METRIC first_contentful_paint_ms=${timing.fcp.toFixed(0)} cards_in_dom_ms=${timing.cards.toFixed(0)} cards_painted_ms=${painted.toFixed(0)} vessels_api_ms=${vesselsApi.toFixed(0)}`);
  check(timing.fcp < BUDGET_MS, `first contentful paint ${timing.fcp.toFixed(0)} ms < ${BUDGET_MS} ms`);
  check(timing.cards < BUDGET_MS, `${FLEET} cards in the DOM at ${timing.cards.toFixed(0)} ms < ${BUDGET_MS} ms`);
  check(painted < BUDGET_MS, `${FLEET} cards painted by ${painted.toFixed(0)} ms < ${BUDGET_MS} ms`);
  const cards = await page.locator('#fleet > li.card').count();
  check(cards === FLEET, `${cards} vessel cards shown`);
  check(await page.locator('#fleet li[data-vessel="ship-one"] .state').innerText() === 'online', 'the real agent is online');

  // Thumbnails in view are loaded (lazy ones further down load on scroll).
  await page.waitForFunction(() => {
    const imgs = [...document.querySelectorAll('#fleet li.card')].slice(0, 4).flatMap((c) => [...c.querySelectorAll('img')]);
    return imgs.length >= 4 && imgs.every((i) => i.complete && i.naturalWidth > 0);
  }, null, { timeout: 10_000 });
  const loaded = await page.evaluate(() => [...document.querySelectorAll('#fleet img')].filter((i) => i.complete && i.naturalWidth > 0).length);
  check(loaded >= 4, `${loaded} thumbnails loaded (naturalWidth > 0) in view`);
  const dots = await page.locator('#fleet-plot circle.dot').count();
  check(dots === FLEET, `${dots} vessels on the position plot`);
  await page.waitForFunction(() => document.querySelectorAll('#fleet-plot polyline.track').length > 0, null, { timeout: 10_000 });

  // The map: Natural Earth coastlines (from the shore itself), axes
  // labelled within ±90° / ±180°, and vessel-199's track across the
  // antimeridian (179.96°E → 179.96°W) drawn as one line with no 360° jump.
  await page.waitForFunction(() => {
    const p = document.querySelector('#fleet-plot .land path');
    return p && p.getAttribute('d').length > 1000;
  }, null, { timeout: 10_000 });
  check(true, 'coastlines drawn under the fleet plot');
  await page.waitForFunction(() => document.querySelector('#fleet-plot polyline[data-vessel="vessel-199"]'), null, { timeout: 30_000 });
  const axes = await page.evaluate(() => [...document.querySelectorAll('#fleet-plot .grid text')]
    .map((t) => ({ axis: t.getAttribute('class'), text: t.textContent })));
  const degrees = (axis) => axes.filter((a) => a.axis === axis).map((a) => a.text);
  const lats = degrees('lat'); const lons = degrees('lon');
  const within = (labels, max, hemis) => labels.every((l) => {
    const m = l.match(/^(\d+(?:\.\d+)?)°([A-Z]?)$/);
    return m && Number(m[1]) <= max && (m[2] === '' || hemis.includes(m[2]));
  });
  check(lats.length >= 2 && within(lats, 90, 'NS'), `latitude labels within ±90° (${lats.join(' ')})`);
  check(lons.length >= 2 && within(lons, 180, 'EW'), `longitude labels within ±180° (${lons.join(' ')})`);
  const across = await page.evaluate(() => [...document.querySelectorAll('#fleet-plot polyline[data-vessel="vessel-199"]')]
    .map((p) => p.getAttribute('points').split(' ').map((xy) => Number(xy.split(',')[0]))));
  check(across.length === 1, `vessel-199's track is one line (${across.length})`);
  const xs = across[0];
  const jump = Math.max(...xs.slice(1).map((x, i) => Math.abs(x - xs[i])));
  check(xs.length === 5 && jump < 5, `vessel-199's track across 180° has no jump (${xs.length} points, largest step ${jump.toFixed(1)} px)`);
  await shot(page, 'fleet.png');

  // 2. Live, without reload: the real agent's next thumbnail …
  await page.evaluate(() => { window.__sameDocument = true; });
  const agentImg = '#fleet li[data-vessel="ship-one"] img[data-camera="bow"]';
  const before = await page.getAttribute(agentImg, 'src');
  await page.waitForFunction(([sel, src]) => {
    const i = document.querySelector(sel);
    return i && i.getAttribute('src') !== src && i.complete && i.naturalWidth > 0;
  }, [agentImg, before], { timeout: 10_000 });
  check(await page.evaluate(() => window.__sameDocument === true), 'the agent\'s new thumbnail replaced the old one without a reload');

  // … and a replayed vessel's, timed from the publish.
  const vessel = 'vessel-042';
  const camera = 'cam-2';
  const sel = `#fleet li[data-vessel="${vessel}"] img[data-camera="${camera}"]`;
  await page.locator(sel).scrollIntoViewIfNeeded();
  await page.evaluate(() => {
    window.__arrivals = {};
    const es = new EventSource('/api/v1/events');
    es.addEventListener('thumb', (e) => { const t = JSON.parse(e.data); window.__arrivals[t.ts] = Date.now(); });
    window.__probe = new Promise((r) => es.addEventListener('ready', r));
  });
  await page.evaluate(() => window.__probe);
  const answer = await ask(`WAITING-FOR-THUMB ${vessel} ${camera}`);
  const [, ts, sentMs] = answer.split(' ');
  const shownAt = await (await page.waitForFunction(([s, t]) => {
    const i = document.querySelector(s);
    return i && i.dataset.ts === t && i.complete && i.naturalWidth > 0 ? Date.now() : false;
  }, [sel, ts], { timeout: 5_000, polling: 'raf' })).jsonValue();
  const arrived = await page.evaluate((t) => window.__arrivals[t], ts);
  const sseMs = arrived - Number(sentMs);
  const shownMs = shownAt - Number(sentMs);
  console.log(`METRIC live_event_after_publish_ms=${sseMs} live_image_shown_after_publish_ms=${shownMs}`);
  check(shownMs < BUDGET_MS, `a new thumbnail shown ${shownMs} ms after it was published (< ${BUDGET_MS} ms; the event came at ${sseMs} ms)`);
  check(await page.evaluate(() => window.__sameDocument === true), 'still the same document (no reload)');

  // 3. The vessel view: scrub the timeline by keyboard and pointer.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.click('#fleet li[data-vessel="ship-one"] h3 a');
  await page.waitForSelector('#vessel-view[data-loaded]:not([hidden])', { timeout: 10_000 });
  await page.waitForFunction(() => Number(document.querySelector('#timeline').getAttribute('aria-valuemax')) >= 10, null, { timeout: 20_000 });
  const slider = page.locator('#timeline');
  const state = () => page.evaluate(() => {
    const s = document.querySelector('#timeline');
    const m = document.querySelector('#track-marker');
    const f = document.querySelector('#frame');
    return {
      now: Number(s.getAttribute('aria-valuenow')),
      max: Number(s.getAttribute('aria-valuemax')),
      text: s.getAttribute('aria-valuetext'),
      thumb: f.dataset.thumbId,
      cx: m && m.getAttribute('cx'), cy: m && m.getAttribute('cy'),
      lat: m && Number(m.dataset.lat), lon: m && Number(m.dataset.lon),
      hidden: !m || m.getAttribute('visibility') === 'hidden',
      cursor: document.querySelector('#timeline-cursor').style.left,
    };
  });
  const markerMatches = async (s) => {
    // Asked from the page: its session cookie goes with it.
    const t = await page.evaluate(async (id) => (await fetch(`/api/v1/thumbs/${id}`)).json(), s.thumb);
    // A frame taken before the first fix has no position: no marker then.
    if (t.lat === null || t.lon === null) return s.hidden;
    return !s.hidden && t.lat === s.lat && t.lon === s.lon;
  };
  await slider.focus();
  await page.keyboard.press('Home');
  const first = await state();
  check(first.now === 0 && /UTC, frame 1 of/.test(first.text), `Home → frame 1 (${first.text})`);
  check(await markerMatches(first), `the marker is at frame 1's position (${first.lat}, ${first.lon})`);
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  const second = await state();
  check(second.now === 2 && second.thumb !== first.thumb && second.text !== first.text, `→ → frame 3 (${second.text})`);
  await page.keyboard.press('PageUp');
  const third = await state();
  check(third.now === 12 || third.now === third.max, `Page Up → ten frames on (${third.text})`);
  await page.keyboard.press('End');
  const last = await state();
  check(last.now === last.max && last.cursor !== first.cursor, `End → the newest frame (${last.text})`);
  check(await markerMatches(last), `the marker is at the newest frame's position (${last.lat}, ${last.lon})`);
  if (last.lat !== first.lat || last.lon !== first.lon) {
    check(last.cx !== first.cx || last.cy !== first.cy, `the marker moved on the track (${first.cx},${first.cy} → ${last.cx},${last.cy})`);
  }
  const box = await slider.boundingBox();
  await page.mouse.move(box.x + box.width * 0.25, box.y + box.height / 2);
  const hovered = await state();
  check(hovered.now > 0 && hovered.now < last.max && hovered.thumb !== last.thumb, `the pointer scrubs to frame ${hovered.now + 1} of ${hovered.max + 1}`);
  check(await markerMatches(hovered), 'the marker follows the frame under the pointer');
  await page.waitForFunction(() => { const f = document.querySelector('#frame'); return f.complete && f.naturalWidth > 0; }, null, { timeout: 5_000 });
  await shot(page, 'vessel.png');

  // 4. The config panel: the operator's change (PATCH, the panel's
  //    default; the session's cookie and CSRF token) reaches the agent,
  //    whose ack shows.
  const body = '{\n  "retention": { "max_age_s": 86400 }\n}';
  await page.fill('#cfg-body', body);
  await page.click('#config-form button[type="submit"]');
  await page.waitForFunction(() => /Pushed version \d+/.test(document.querySelector('#cfg-result').textContent), null, { timeout: 5_000 });
  const version = Number((await page.textContent('#cfg-result')).match(/version (\d+)/)[1]);
  await page.waitForFunction((v) => {
    const a = document.querySelector('#cfg-ack');
    return a.dataset.status === 'applied' && Number(a.dataset.version) === v;
  }, version, { timeout: 20_000 });
  check(true, `version ${version} applied by the agent: "${await page.textContent('#cfg-ack')}"`);
  check(/"max_age_s": 86400/.test(await page.textContent('#cfg-desired')), 'the desired config shows');
  const newest = await page.$eval('#cfg-history-rows tr', (tr) => [tr.dataset.status, tr.cells[0].textContent]);
  check(newest[0] === 'applied' && Number(newest[1]) === version, `the ack heads the recent acks (${newest.join(' ')})`);
  await page.locator('#config-panel').scrollIntoViewIfNeeded();
  await shot(page, 'config.png');

  // 5. A tablet (768 px), signed in as a viewer: the fleet reads without
  //    sideways scrolling; a viewer sees the config but cannot push; then
  //    signs out (the form again, and the API refuses the old session).
  const tablet = await browser.newPage({ viewport: { width: 768, height: 1024 } });
  const viewer = await signIn(tablet, VIEWER, VIEWER_PASSWORD);
  check(viewer.role === 'viewer', `signed in as ${viewer.name} (${viewer.role})`);
  await tablet.waitForSelector(`body[data-cards="${FLEET}"]`, { timeout: 10_000 });
  const overflow = await tablet.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `no horizontal scrolling on a 768 px tablet (${overflow} px over)`);
  await tablet.screenshot({ path: join(ARTIFACTS, 'fleet-tablet.png') });
  await tablet.click('#fleet li[data-vessel="ship-one"] h3 a');
  await tablet.waitForFunction(() => /max_age_s/.test(document.querySelector('#cfg-desired').textContent), null, { timeout: 10_000 });
  check(await tablet.isHidden('#config-form') && await tablet.isVisible('#cfg-readonly'), 'a viewer sees the config and no push form');
  await tablet.click('#sign-out');
  await tablet.waitForSelector('#sign-in-form', { state: 'visible', timeout: 10_000 });
  check(await tablet.isHidden('#main'), 'signed out: the form again, the fleet hidden');
  const after = await tablet.evaluate(async () => (await fetch('/api/v1/vessels')).status);
  check(after === 401, `after signing out the API answers ${after}`);
  await tablet.close();

  // 6. The shore's own API only, and no errors.
  check(outside.length === 0, `no request left the shore ${outside.length ? outside.join(', ') : ''}`);
  check(consoleErrors.length === 0, `no console errors ${consoleErrors.join(' | ')}`);
  // Expected: who is signed in before signing in (401) and the config of
  // a vessel never configured (404, before the push).
  const unexpected = failed.filter((f) => !/^GET .*\/api\/v1\/vessels\/ship-one\/config 404$/.test(f) && !/^GET .*\/api\/v1\/session 401$/.test(f));
  check(unexpected.length === 0, `no failed request but the expected 404 and 401 ${unexpected.join(', ')}`);
  console.log('PASS');
} catch (e) {
  if (page) await shot(page, 'failure.png').catch(() => {});
  console.log(`FAIL ${e && e.stack ? e.stack : e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  process.stdin.destroy();
}

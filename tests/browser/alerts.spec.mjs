// The fleet page shows a vessel's alerts, in headless Chromium, against a
// running shore. Driven by the alert test of tests/e2e/tests/fleet_page.rs
// (which starts Mosquitto, the shore and publishes the vessel's statuses);
// run alone it needs SHORE_URL, SHORE_USER, SHORE_PASSWORD (a viewer's),
// ARTIFACTS_DIR, VESSEL, [CHROMIUM]. It signs in through the page's form.
// Asks the driver to break and mend the vessel's camera with a line on
// stdout ("CAMERA-FAIL <camera>", "CAMERA-BACK <camera>") and waits for
// its answer on stdin ("DONE").
// Exits non-zero with a message on the first failed check.

import { chromium } from 'playwright-core';
import { signIn } from './sign-in.mjs';
import { createInterface } from 'node:readline';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const SHORE = need('SHORE_URL');
const USER = need('SHORE_USER');
const PASSWORD = need('SHORE_PASSWORD');
const ARTIFACTS = need('ARTIFACTS_DIR');
const VESSEL = need('VESSEL');
const CAMERA = 'mast';

function need(name) {
  const v = process.env[name];
  if (!v) { console.log(`FAIL ${name} is not set`); process.exit(1); }
  return v;
}

function check(cond, msg) {
  if (!cond) throw new Error(msg);
  console.log(`ok   ${msg}`);
}

const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function ask(line) {
  console.log(line);
  const { value, done } = await stdinLines.next();
  if (done || value !== 'DONE') throw new Error(`no answer to ${line}`);
}

mkdirSync(ARTIFACTS, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
let page;
try {
  page = await (await browser.newContext({ viewport: { width: 1366, height: 768 } })).newPage();
  // Signed in first: before it, the page's own GET /api/v1/session is a
  // 401 that the browser logs as an error.
  await signIn(page, SHORE, USER, PASSWORD);
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const card = `#fleet li[data-vessel="${VESSEL}"]`;
  await page.waitForSelector(`${card}[data-alerts="0"]`, { timeout: 10_000 });
  check(await page.locator(`${card} .alert-badge`).isHidden(), 'a healthy vessel: no alert badge');
  const stats = await page.textContent(`${card} .health`);
  check(/Agent 2\.0\.0/.test(stats) && /backlog 0/.test(stats), `its status shows (${stats})`);
  check(await page.getAttribute(`${card} .cam-state[data-camera="${CAMERA}"]`, 'class') === 'cam-state up', `${CAMERA} shows up`);
  await page.evaluate(() => { window.__sameDocument = true; });

  // The camera fails: the alert shows on the card, live.
  await ask(`CAMERA-FAIL ${CAMERA}`);
  const item = `${card} .alerts li[data-kind="camera_down"][data-camera="${CAMERA}"]`;
  await page.waitForSelector(item, { timeout: 15_000 });
  const text = await page.textContent(item);
  check(/Camera down \(mast\): state "retrying", since/.test(text), `the alert reads "${text}"`);
  check(await page.textContent(`${card} .alert-badge`) === '1 alert' && await page.locator(`${card} .alert-badge`).isVisible(), 'the card carries a "1 alert" badge');
  check(await page.getAttribute(`${card} .health-box`, 'aria-live') === 'polite', 'the alert list is announced (aria-live)');
  check(await page.getAttribute(`${card} .cam-state[data-camera="${CAMERA}"]`, 'class') === 'cam-state down', `${CAMERA} shows down`);
  await page.locator(card).scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(ARTIFACTS, 'alert.png') });

  // It comes back: the alert clears, without a reload.
  await ask(`CAMERA-BACK ${CAMERA}`);
  await page.waitForSelector(`${card}[data-alerts="0"]`, { timeout: 15_000 });
  check(await page.locator(`${card} .alerts li`).count() === 0, 'the alert cleared');
  check(await page.locator(`${card} .alert-badge`).isHidden(), 'the badge is gone');
  check(await page.evaluate(() => window.__sameDocument === true), 'live, in the same document');
  check(errors.length === 0, `no page errors ${errors.join(' | ')}`);
  console.log('PASS');
} catch (e) {
  if (page) await page.screenshot({ path: join(ARTIFACTS, 'alert-failure.png') }).catch(() => {});
  console.log(`FAIL ${e && e.stack ? e.stack : e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  process.stdin.destroy();
}

// The admin dashboard in Debian's chromium, headless, against real weir and demo upstream
// processes: what an operator sees must be what `weirctl` says, and follow a rollout live.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cleanup, tempDir, waitFor, startUpstream, startWeir, startLoad, startBrowser, screenshotPath,
  config,
} from './harness.mjs';

after(cleanup);

const ROUTE = 'app-route';
const TOKEN = 'b1946ac92492d2347c6235b4d2611184';

// What the page shows of the route: its weights, phase and current step (-1 when none).
async function shown(page) {
  return page.evaluate((route) => {
    const section = document.querySelector(`section.route[data-route="${route}"]`);
    if (!section) return null;
    const weights = {};
    for (const s of section.querySelectorAll('[data-weight-service]'))
      weights[s.dataset.weightService] = Number(s.dataset.weight);
    const current = section.querySelector('li.step[aria-current="step"]');
    const phase = section.querySelector('[data-field="phase"]');
    const chart = section.querySelector('svg[data-chart="rps"]');
    return {
      weights,
      phase: phase ? phase.textContent.trim() : '',
      step: current ? Number(current.dataset.stepIndex) : -1,
      chartEnd: chart ? Number(chart.getAttribute('data-end-ms')) : 0,
      chartPoints: chart ? Number(chart.getAttribute('data-points')) : 0,
      buttons: section.querySelectorAll('button[data-action]').length,
    };
  }, ROUTE);
}

function weightsOf(showRoutes) {
  const route = showRoutes.routes.find((r) => r.name === ROUTE);
  return Object.fromEntries(route.backends.map((b) => [b.service, b.weight]));
}

// Every control on the page has an accessible name (what a screen reader announces).
async function unnamedControls(page) {
  const tree = await page.accessibility.snapshot({ interestingOnly: false });
  const unnamed = [];
  const roles = new Set(['button', 'textbox', 'combobox', 'searchbox', 'checkbox', 'spinbutton', 'link']);
  const walk = (n) => {
    if (roles.has(n.role) && !(n.name && n.name.trim())) unnamed.push(`${n.role}`);
    for (const c of n.children || []) walk(c);
  };
  walk(tree);
  return unnamed;
}

async function postAction(admin, body, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const r = await fetch(`${admin}/dashboard/action`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: r.status, body: await r.text() };
}

test('read-only: loads without errors, shows the weights `show routes` gives, no actions', async () => {
  const dir = tempDir();
  const v1 = await startUpstream('app-v1');
  const v2 = await startUpstream('app-v2');
  const weir = await startWeir(dir, config({ v1, v2, dir,
    steps: '[{ set_weight: 10 }, { pause: {} }, { set_weight: 100 }]' }));
  startLoad(weir.proxy, 30);
  const { open, problems } = await startBrowser();
  const page = await open(`${weir.admin}/`);
  await waitFor(async () => (await shown(page))?.weights?.['app-v1/app'] !== undefined,
    { what: 'the route drawn' });
  assert.deepEqual((await shown(page)).weights, weightsOf(await weir.ctl('show', 'routes')));

  // Changed through the control socket: the page follows within 2 s.
  await weir.ctl('set', 'weight', ROUTE, 'app-v1/app=60', 'app-v2/app=40');
  const changed = Date.now();
  await waitFor(async () => (await shown(page)).weights['app-v2/app'] === 40,
    { timeout: 2000, what: 'weight 40 shown within 2 s' });
  console.log(`weights shown ${Date.now() - changed} ms after set weight`);
  assert.deepEqual((await shown(page)).weights, weightsOf(await weir.ctl('show', 'routes')));

  // Read-only: no action control, and the endpoint refuses.
  assert.equal((await shown(page)).buttons, 0);
  assert.equal(await page.$$eval('form.unlock', (f) => f.length), 0);
  assert.equal((await postAction(weir.admin, { action: 'pause', route: ROUTE }, TOKEN)).status, 403);

  // Streaming for a few seconds moves nothing on the page.
  const updated = await page.$eval('#status', (s) => Number(s.dataset.updated));
  await waitFor(async () => (await page.$eval('#status', (s) => Number(s.dataset.updated))) >= updated + 3000,
    { timeout: 6000, what: 'three more seconds of updates' });
  const shift = await page.evaluate(() => window.__shift);
  assert.ok(shift < 0.01, `layout shift ${shift} while data streamed`);
  assert.deepEqual(await unnamedControls(page), []);

  // A phone-sized window: everything fits its width.
  const phone = await open(`${weir.admin}/dashboard`, { width: 390, height: 844, mobile: true });
  await waitFor(async () => (await shown(phone))?.chartPoints > 0, { what: 'charts on the phone' });
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone`);
  await phone.screenshot({ path: screenshotPath('phone.png'), fullPage: true });
  assert.deepEqual(problems, []);
});

test('a real rollout: steps, weights and charts follow within 2 s; an abort is a marker and an event', async () => {
  const dir = tempDir();
  const v1 = await startUpstream('app-v1');
  const v2 = await startUpstream('app-v2');
  const weir = await startWeir(dir, config({ v1, v2, dir,
    steps: '[{ set_weight: 10 }, { pause: { duration: 4s } }, { set_weight: 50 }, { pause: {} }, { set_weight: 100 }]' }));
  const load = startLoad(weir.proxy, 40);
  const { open, problems } = await startBrowser();
  const page = await open(`${weir.admin}/`);
  await waitFor(async () => (await shown(page))?.chartPoints > 0, { what: 'charts drawn' });

  // Each change as weirctl sees it, then on the page within 2 s.
  const follow = async (what, check) => {
    const seen = await waitFor(async () => {
      const s = (await weir.ctl('rollout', 'status', ROUTE)).rollout;
      return check(s) ? s : null;
    }, { timeout: 15000, every: 50, what: `${what} in weirctl` });
    const at = Date.now();
    await waitFor(async () => {
      const p = await shown(page);
      return p.step === seen.step && p.phase === seen.phase &&
        seen.split.every((b) => p.weights[b.service] === b.weight);
    }, { timeout: 2000, every: 50, what: `${what} on the page within 2 s` });
    console.log(`${what}: on the page ${Date.now() - at} ms after weirctl saw it`);
    return seen;
  };
  await weir.ctl('rollout', 'start', ROUTE);
  await follow('step 2 (timed pause) at 10 %', (s) => s.step === 1 && s.canary_weight === 10);
  const chartEnd = (await shown(page)).chartEnd;
  await waitFor(async () => (await shown(page)).chartEnd > chartEnd,
    { timeout: 2000, what: 'the charts move on within 2 s' });
  await follow('the manual gate at 50 %', (s) => s.phase === 'Paused' && s.canary_weight === 50);
  // A weight marker where the weight moved.
  await waitFor(async () => (await page.$$('section.route svg[data-chart="rps"] g.marker[data-marker-type="weight"]')).length > 0,
    { timeout: 3000, what: 'a weight marker' });
  await page.screenshot({ path: screenshotPath('rollout.png'), fullPage: true });

  await weir.ctl('rollout', 'abort', ROUTE);
  const aborted = Date.now();
  await waitFor(async () => page.evaluate(() =>
    document.querySelectorAll('svg[data-chart] g.marker[data-marker-type="aborted"]').length > 0 &&
    document.querySelectorAll('li.event[data-event-type="aborted"]').length > 0),
  { timeout: 2000, what: 'the abort as a marker and an event within 2 s' });
  console.log(`abort marker and event ${Date.now() - aborted} ms after the abort`);
  await follow('Degraded at 0 %', (s) => s.phase === 'Degraded' && s.canary_weight === 0);

  // The event filter keeps the aborts only.
  await page.select('select.event-filter-type', 'aborted');
  await waitFor(async () => page.evaluate(() => {
    const shown = [...document.querySelectorAll('li.event')].filter((e) => e.offsetParent !== null);
    return shown.length > 0 && shown.every((e) => e.dataset.eventType === 'aborted');
  }), { timeout: 2000, what: 'the type filter applied' });
  await page.screenshot({ path: screenshotPath('aborted.png'), fullPage: true });
  load.stop();
  assert.deepEqual(problems, []);
});

test('actions: promote at a manual gate with the token; without it no button and 403', async () => {
  const dir = tempDir();
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const v1 = await startUpstream('app-v1');
  const v2 = await startUpstream('app-v2');
  const weir = await startWeir(dir, config({ v1, v2, dir,
    steps: '[{ set_weight: 20 }, { pause: {} }, { set_weight: 100 }]',
    admin: `{ address: 127.0.0.1:0, dashboard_actions: true, token_file: ${tokenFile} }` }));
  startLoad(weir.proxy, 20);
  await weir.ctl('rollout', 'start', ROUTE);
  await waitFor(async () => (await weir.ctl('rollout', 'status', ROUTE)).rollout.phase === 'Paused',
    { what: 'the manual gate' });

  const { open, problems } = await startBrowser();
  // Without the token: the page offers to unlock, shows no action, and the endpoint says 403.
  const locked = await open(`${weir.admin}/`);
  await waitFor(async () => (await shown(locked))?.phase === 'Paused', { what: 'the gate drawn' });
  assert.equal((await shown(locked)).buttons, 0);
  assert.equal(await locked.$$eval('form.unlock', (f) => f.length), 1);
  assert.equal((await postAction(weir.admin, { action: 'promote', route: ROUTE })).status, 403);
  assert.equal((await postAction(weir.admin, { action: 'promote', route: ROUTE }, 'x'.repeat(32))).status, 403);
  assert.equal((await weir.ctl('rollout', 'status', ROUTE)).rollout.phase, 'Paused');

  // With it (in the URL's fragment, never sent to the server): the buttons, and promote works.
  const page = await open(`${weir.admin}/#token=${TOKEN}`);
  const promote = `button[data-action="promote"][data-route="${ROUTE}"]`;
  await page.waitForSelector(`${promote}:not([disabled])`, { timeout: 5000 });
  assert.equal(await page.evaluate(() => location.hash), '', 'the token left the address bar');
  assert.deepEqual(await unnamedControls(page), []);
  assert.ok(await page.$eval(`button[data-action="resume"][data-route="${ROUTE}"]`, (b) => b.disabled),
    'a manual gate is passed by promote; weir refuses resume there');
  await page.click(promote);
  await waitFor(async () => (await weir.ctl('rollout', 'status', ROUTE)).rollout.phase === 'Healthy',
    { timeout: 5000, what: 'promoted, as the control socket says' });
  const history = (await weir.ctl('rollout', 'history', ROUTE)).events;
  const promoted = history.filter((e) => e.type === 'promoted').pop();
  assert.match(promoted.origin, /^dashboard 127\.0\.0\.1:\d+$/);
  // The event list says who did it.
  await waitFor(async () => page.evaluate(() => [...document.querySelectorAll('li.event[data-event-type="promoted"]')]
    .some((e) => e.textContent.includes('dashboard 127.0.0.1'))), { timeout: 3000, what: 'the origin in the event list' });
  assert.deepEqual(problems, []);
});

test('Firefox: the same page loads without errors and shows the weights, steps and charts', async () => {
  const dir = tempDir();
  const v1 = await startUpstream('app-v1');
  const v2 = await startUpstream('app-v2');
  const weir = await startWeir(dir, config({ v1, v2, dir,
    steps: '[{ set_weight: 30 }, { pause: {} }, { set_weight: 100 }]' }));
  startLoad(weir.proxy, 30);
  await weir.ctl('rollout', 'start', ROUTE);
  const { open, problems } = await startBrowser({ firefox: true });
  const page = await open(`${weir.admin}/`);
  await waitFor(async () => (await shown(page))?.chartPoints > 0, { what: 'charts drawn in Firefox' });
  const status = (await weir.ctl('rollout', 'status', ROUTE)).rollout;
  await waitFor(async () => {
    const p = await shown(page);
    return p.phase === status.phase && p.step === status.step;
  }, { timeout: 3000, what: 'the gate in Firefox' });
  assert.deepEqual((await shown(page)).weights, weightsOf(await weir.ctl('show', 'routes')));
  const phone = await open(`${weir.admin}/`, { width: 390, height: 844 });
  await waitFor(async () => (await shown(phone))?.chartPoints > 0, { what: 'charts on a phone in Firefox' });
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone in Firefox`);
  await page.screenshot({ path: screenshotPath('firefox.png') });
  assert.deepEqual(problems, []);
});

// Takes the README's picture of the dashboard (docs/dashboard.png): the demo's two versions
// behind conf/weir.yaml's route, with the plan of the README's walkthrough, under a steady load
// for a while before and during the rollout, at its manual gate, actions unlocked.
// Run by hand after a build: cd tests/browser && node readme-screenshot.mjs (about 3 minutes).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cleanup, tempDir, waitFor, startUpstream, startWeir, startLoad, startBrowser, sourceDir, config,
} from './harness.mjs';

const TOKEN = 'readme-screenshot-token-0123456789';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const dir = tempDir();
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
  const v1 = await startUpstream('app-v1', ['--delay-ms', '2']);
  const v2 = await startUpstream('app-v2', ['--delay-ms', '3', '--fail-rate', '0.001']);
  const weir = await startWeir(dir, config({ v1, v2, dir,
    steps: '[{ set_weight: 10 }, { analysis: { duration: 20s } }, { set_weight: 50 }, { pause: {} }, { set_weight: 100 }]',
    analysis: '{ interval: 5s, min_requests: 50, max_p99_increase: none, top_up: { rate: 20/s } }',
    more: 'fast_abort: { consecutive_errors: 5 }',
    admin: `{ address: 127.0.0.1:0, dashboard_actions: true, token_file: ${join(dir, 'token')} }` }));
  startLoad(weir.proxy, 60);
  await weir.ctl('set', 'weight', 'app-route', 'app-v1/app=100', 'app-v2/app=0');
  await sleep(100000); // traffic before the rollout, on stable alone
  await weir.ctl('clear', 'weight', 'app-route');
  await weir.ctl('rollout', 'start', 'app-route');
  await waitFor(async () => (await weir.ctl('rollout', 'status', 'app-route')).rollout.phase === 'Paused',
    { timeout: 120000, every: 500, what: 'the manual gate' });
  await sleep(20000); // some time at 50 %
  const { open } = await startBrowser();
  const page = await open(`${weir.admin}/#token=${TOKEN}`, { width: 1280, height: 900 });
  await page.waitForSelector('button[data-action="promote"]:not([disabled])', { timeout: 10000 });
  await sleep(2500);
  // The header and the route, from the top of the page.
  const bottom = await page.$eval('section.route', (r) => r.getBoundingClientRect().bottom + window.scrollY);
  await page.screenshot({ path: join(sourceDir, 'docs/dashboard.png'),
    clip: { x: 0, y: 0, width: 1280, height: Math.ceil(bottom) + 12 }, captureBeyondViewport: true });
  console.log('wrote docs/dashboard.png');
}

main().then(cleanup, async (e) => { console.error(e); await cleanup(); process.exit(1); });

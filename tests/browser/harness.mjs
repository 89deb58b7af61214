// What the browser tests start: real weir and demo upstream processes on loopback ports, the
// control socket through weirctl, a steady load, and Debian's chromium driven by puppeteer-core.
// Every wait has a deadline; nothing sleeps and hopes.
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import puppeteer from 'puppeteer-core';

const here = dirname(fileURLToPath(import.meta.url));
export const sourceDir = resolve(here, '../..');
// The build whose binaries are tested (./dev test sets it; build/ otherwise).
export const buildDir = resolve(process.env.WEIR_TEST_BUILD_DIR || join(sourceDir, 'build'));
// Where screenshots go: kept by CI as artifacts, never committed.
export const artifactDir = join(resolve(process.env.WEIR_ARTIFACT_DIR || join(sourceDir, 'build')),
  'dashboard-screenshots');
export const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
export const firefoxPath = process.env.FIREFOX || '/usr/bin/firefox-esr';

const cleanups = [];
export async function cleanup() {
  while (cleanups.length) {
    try { await cleanups.pop()(); } catch { /* the rest still goes */ }
  }
}

export function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'weir-browser-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// Resolves once `cond()` is truthy (its value), polling every `every` ms; rejects with `what`
// after `timeout` ms.
export async function waitFor(cond, { timeout = 10000, every = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await cond();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, every));
  }
}

// Starts `bin args`, resolving with the process once a line of its stdout matches `ready`
// (and the match); the process is SIGTERMed at cleanup and must have exited by then.
// `cpus` (a taskset list) pins it, as the benchmarks do (bench/dashboard.mjs).
function startProcess(bin, args, ready, what, cpus) {
  return new Promise((resolveStart, reject) => {
    const child = cpus
      ? spawn('taskset', ['-c', cpus, bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let matched = false;
    const timer = setTimeout(() => {
      if (!matched) { child.kill('SIGKILL'); reject(new Error(`${what} did not start:\n${out}`)); }
    }, 15000);
    const onData = (chunk) => {
      out += chunk;
      if (out.length > 1 << 20) out = out.slice(-(1 << 19));
      const m = !matched && out.match(ready);
      if (m) {
        matched = true;
        clearTimeout(timer);
        resolveStart({ child, match: m, output: () => out });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      if (!matched) { clearTimeout(timer); reject(new Error(`${what} exited (${code}) before it was ready:\n${out}`)); }
    });
    cleanups.push(() => new Promise((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      const kill = setTimeout(() => child.kill('SIGKILL'), 20000);
      child.on('exit', () => { clearTimeout(kill); done(); });
      child.kill('SIGTERM');
    }));
  });
}

// A demo upstream answering its name (weir-demo-upstream --help for `extra`).
export async function startUpstream(name, extra = []) {
  const { child, match } = await startProcess(join(buildDir, 'weir-demo-upstream'),
    ['--listen', '127.0.0.1:0', '--name', name, ...extra], /listening on (\S+)/, `upstream ${name}`);
  return { name, address: match[1], child };
}

// weir on `yaml` (written to a file in `dir`); its control socket at dir/weir.sock.
export async function startWeir(dir, yaml, { cpus } = {}) {
  const configPath = join(dir, 'weir.yaml');
  writeFileSync(configPath, yaml);
  const { child, output } = await startProcess(join(buildDir, 'weir'), ['--config', configPath],
    /worker\(s\) ready/, 'weir', cpus);
  const text = output();
  const admin = text.match(/weir: admin (\S+)/);
  const listener = text.match(/weir: listening public (\S+)/);
  if (!admin || !listener) throw new Error(`weir's addresses are not in its output:\n${text}`);
  const socket = join(dir, 'weir.sock');
  return {
    child, configPath, socket, output,
    admin: `http://${admin[1]}`,
    proxy: listener[1],
    // A control command through weirctl --json: its reply, parsed.
    ctl: (...words) => new Promise((ok, fail) => {
      execFile(join(buildDir, 'weirctl'), ['--socket', socket, '--json', ...words],
        { timeout: 10000 }, (err, stdout, stderr) => {
          try { ok(JSON.parse(stdout.trim().split('\n').pop())); } catch {
            fail(new Error(`weirctl ${words.join(' ')}: ${err ? err.message : ''} ${stderr} ${stdout}`));
          }
        });
    }),
  };
}

// GETs and POSTs on keep-alive connections at about `rps` requests a second until stopped:
// the traffic the charts draw.
export function startLoad(address, rps = 40) {
  if (rps % 10) throw new Error('startLoad sends in tenths of a second: rps must be a multiple of 10');
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  let sent = 0, failed = 0, stopped = false;
  const timer = setInterval(() => {
    for (let i = 0; i < rps / 10; ++i) {
      const req = http.get({ host, port, path: '/', agent }, (res) => { res.resume(); });
      req.on('error', () => { ++failed; });
      ++sent;
    }
  }, 100);
  const stop = () => { if (!stopped) { stopped = true; clearInterval(timer); agent.destroy(); } };
  cleanups.push(stop);
  return { stop, stats: () => ({ sent, failed }) };
}

// Chromium headless; every console error, page error and failed request of its pages is
// collected in `problems` (a test asserts it stays empty).
// With `firefox`: Debian's firefox-esr over WebDriver BiDi instead.
export async function startBrowser({ firefox = false } = {}) {
  const browser = firefox
    ? await puppeteer.launch({ browser: 'firefox', executablePath: firefoxPath, headless: true,
      protocol: 'webDriverBiDi' })
    : await puppeteer.launch({
      executablePath: chromiumPath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
        '--disable-extensions', '--disable-background-networking'],
    });
  cleanups.push(() => browser.close());
  const problems = [];
  return {
    browser, problems,
    async open(url, { width = 1280, height = 900, mobile = false } = {}) {
      const page = await browser.newPage();
      // Firefox (BiDi) takes a plain viewport; touch and media emulation are Chromium's (CDP).
      await page.setViewport(firefox ? { width, height }
        : { width, height, isMobile: mobile, hasTouch: mobile, deviceScaleFactor: 1 });
      page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warn') problems.push(`console ${m.type()}: ${m.text()}`); });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
      page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
      // Layout shifts, summed as the CLS score counts them (ignoring those right after input).
      // (Firefox does not report layout shifts.)
      await page.evaluateOnNewDocument(() => {
        window.__shift = 0;
        if (!PerformanceObserver.supportedEntryTypes.includes('layout-shift')) return;
        new PerformanceObserver((list) => {
          for (const e of list.getEntries()) if (!e.hadRecentInput) window.__shift += e.value;
        }).observe({ type: 'layout-shift', buffered: true });
      });
      // No transitions: a screenshot shows the bar at its weights, not on its way there.
      if (!firefox) await page.emulateMediaFeatures([{ name: 'prefers-reduced-motion', value: 'reduce' }]);
      await page.goto(url, { waitUntil: 'load' });
      return page;
    },
  };
}

export function screenshotPath(name) {
  mkdirSync(artifactDir, { recursive: true });
  return join(artifactDir, name);
}

// The demo's two versions behind one route with a rollout plan, as conf/weir.yaml has them.
// `analysis` and `more` (further keys of the plan, flow style) tune the plan.
export function config({ v1, v2, steps, admin = '{ address: 127.0.0.1:0 }', dir,
  analysis = '{ interval: 1s, min_requests: 5, max_p99_increase: none }', more = '' }) {
  return `workers: 1
listeners: [{ name: public, address: 127.0.0.1:0 }]
services:
  - { namespace: app-v1, name: app, endpoints: [${v1.address}], health_check: { path: /healthz, interval: 1s } }
  - { namespace: app-v2, name: app, endpoints: [${v2.address}], health_check: { path: /healthz, interval: 1s } }
routes:
  - name: app-route
    listener: public
    match: { path_prefix: / }
    backends: [{ service: app-v1/app, weight: 90 }, { service: app-v2/app, weight: 10 }]
    rollout:
      stable: app-v1/app
      canary: app-v2/app
      steps: ${steps}
      analysis: ${analysis}
${more ? `      ${more}\n` : ''}admin: ${admin}
control: { socket: ${join(dir, 'weir.sock')} }
state_dir: ${dir}
`;
}

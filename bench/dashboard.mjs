// What open dashboards cost weir: its CPU time with 10 dashboards open in headless chromium
// (each polling state.json once a second, during a running rollout, under steady proxy load)
// against the same minutes without them, and the same for HAProxy's own stats page (refreshed
// every second) and nginx's stub_status (polled every second), side by side in one run.
//
// Pinned as bench/run.sh pins: the proxy under test on CPU 0; this script, chromium, the load
// and the upstreams on CPU 1 (run by bench/dashboard.sh under `taskset -c 1`). CPU time is read
// from /proc/PID/stat (utime + stime of every thread) before and after each phase; syscalls from
// `strace -c -f` over a shorter phase of its own, so its overhead does not touch the CPU figure.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cleanup, tempDir, waitFor, startUpstream, startWeir, startLoad, startBrowser, config,
} from '../tests/browser/harness.mjs';

const PAGES = Number(process.env.PAGES || 10);
const SECONDS = Number(process.env.SECONDS_PER_PHASE || 30);
const RPS = Number(process.env.RPS || 200);
const TICK = 100; // USER_HZ as Linux reports it in /proc/PID/stat

function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICK; // utime, stime
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// CPU ms per second of `pid` over `seconds`.
async function cpuRate(pid, seconds) {
  const before = cpuMs(pid);
  const t0 = Date.now();
  await sleep(seconds * 1000);
  return (cpuMs(pid) - before) / ((Date.now() - t0) / 1000);
}

// Syscalls of `pid` (all threads) over `seconds`, from strace -c.
async function syscalls(pid, seconds) {
  const out = await new Promise((resolve) => {
    const s = spawn('strace', ['-c', '-f', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let text = '';
    s.stderr.on('data', (c) => { text += c; });
    s.on('exit', () => resolve(text));
    setTimeout(() => s.kill('SIGINT'), seconds * 1000);
  });
  const total = out.match(/^\s*100\.00\s+\S+\s+\S+\s+(\d+)\s+(?:\d+\s+)?total$/m); // % time, seconds, usecs/call, calls, [errors]
  return total ? Number(total[1]) : NaN;
}

function startServer(bin, args, what) {
  const child = spawn('taskset', ['-c', '0', bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c) => { out += c; });
  child.stderr.on('data', (c) => { out += c; });
  child.on('exit', (code) => { if (code) console.error(`${what} exited ${code}: ${out}`); });
  return child;
}

// Polls `url` once a second from `n` clients (nginx's status has no page of its own).
function pollers(url, n) {
  const timers = [];
  for (let i = 0; i < n; ++i)
    timers.push(setInterval(() => fetch(url).then((r) => r.text()).catch(() => {}), 1000));
  return () => timers.forEach(clearInterval);
}

async function measure(name, pid, openDashboards) {
  await sleep(3000); // the load settles
  const base = await cpuRate(pid, SECONDS);
  const baseCalls = await syscalls(pid, 10);
  const close = await openDashboards();
  await sleep(5000); // every page loaded and polling
  const withPages = await cpuRate(pid, SECONDS);
  const pageCalls = await syscalls(pid, 10);
  await close();
  const polls = PAGES; // each page asks once a second
  return {
    name, base, withPages,
    addedPct: (withPages - base) / 10, // ms per s → % of one core
    perPollUs: ((withPages - base) * 1000) / polls,
    syscallsPerPoll: (pageCalls - baseCalls) / 10 / polls,
  };
}

async function main() {
  const dir = tempDir();
  const v1 = await startUpstream('app-v1');
  const v2 = await startUpstream('app-v2');
  const { browser } = await startBrowser();
  const results = [];

  // weir, a rollout at its manual gate (charts, steps and events on every page).
  const weir = await startWeir(dir, config({ v1, v2, dir,
    steps: '[{ set_weight: 10 }, { pause: { duration: 5s } }, { set_weight: 50 }, { pause: {} }, { set_weight: 100 }]' }),
  { cpus: '0' });
  const load = startLoad(weir.proxy, RPS);
  await weir.ctl('rollout', 'start', 'app-route');
  await waitFor(async () => (await weir.ctl('rollout', 'status', 'app-route')).rollout.phase === 'Paused',
    { timeout: 20000, what: 'the manual gate' });
  let polls = 0;
  results.push(await measure('weir dashboard (/)', weir.child.pid, async () => {
    const pages = [];
    for (let i = 0; i < PAGES; ++i) {
      const page = await browser.newPage();
      await page.setViewport({ width: 1280, height: 900 });
      page.on('request', (r) => { if (r.url().endsWith('/dashboard/state.json')) ++polls; });
      await page.goto(`${weir.admin}/`, { waitUntil: 'load' });
      pages.push(page);
    }
    return async () => { for (const p of pages) await p.close(); };
  }));
  console.log(`weir: ${polls} state.json polls from ${PAGES} pages`);
  load.stop();
  weir.child.kill('SIGTERM');

  // HAProxy's stats page, refreshed every second by the browser.
  const hcfg = join(dir, 'haproxy.cfg');
  writeFileSync(hcfg, `global
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend public
  bind 127.0.0.1:18181
  default_backend app
backend app
  balance roundrobin
  server v1 ${v1.address} weight 90 check inter 1s
  server v2 ${v2.address} weight 10 check inter 1s
listen stats
  bind 127.0.0.1:18182
  stats enable
  stats uri /
  stats refresh 1s
`);
  const haproxy = startServer('haproxy', ['-f', hcfg, '-db'], 'haproxy');
  await waitFor(() => fetch('http://127.0.0.1:18182/').then((r) => r.ok), { what: 'haproxy' });
  const hload = startLoad('127.0.0.1:18181', RPS);
  results.push(await measure('HAProxy stats page (refresh 1s)', haproxy.pid, async () => {
    const pages = [];
    for (let i = 0; i < PAGES; ++i) {
      const page = await browser.newPage();
      await page.goto('http://127.0.0.1:18182/', { waitUntil: 'load' });
      pages.push(page);
    }
    return async () => { for (const p of pages) await p.close(); };
  }));
  hload.stop();
  haproxy.kill('SIGTERM');

  // nginx's stub_status, polled every second (it has no page).
  const ncfg = join(dir, 'nginx.conf');
  writeFileSync(ncfg, `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  upstream app { server ${v1.address} weight=9; server ${v2.address} weight=1; keepalive 32; }
  server { listen 127.0.0.1:18183; location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; } }
  server { listen 127.0.0.1:18184; location / { stub_status; } }
}
`);
  const nginx = startServer('nginx', ['-c', ncfg, '-p', dir], 'nginx');
  await waitFor(() => fetch('http://127.0.0.1:18184/').then((r) => r.ok), { what: 'nginx' });
  const nload = startLoad('127.0.0.1:18183', RPS);
  // nginx runs a master and a worker: the worker serves.
  const workerPid = await waitFor(() => {
    const kids = readFileSync(`/proc/${nginx.pid}/task/${nginx.pid}/children`, 'utf8').trim();
    return kids ? Number(kids.split(' ')[0]) : 0;
  }, { what: 'the nginx worker' });
  results.push(await measure('nginx stub_status (polled 1/s)', workerPid, async () => {
    const stop = pollers('http://127.0.0.1:18184/', PAGES);
    return async () => stop();
  }));
  nload.stop();
  nginx.kill('SIGTERM');

  console.log(`\n${PAGES} dashboards each polling once a second, ${RPS} proxied requests/s, ` +
    `${SECONDS} s per phase; CPU of the proxy only (pinned to CPU 0)\n`);
  console.log('what                               | proxy CPU ms/s without | with | added, % of a core | CPU per poll | syscalls per poll');
  for (const r of results)
    console.log(`${r.name.padEnd(34)} | ${r.base.toFixed(1).padStart(22)} | ${r.withPages.toFixed(1).padStart(4)} | ` +
      `${r.addedPct.toFixed(2).padStart(18)} | ${r.perPollUs.toFixed(0).padStart(9)} µs | ${r.syscallsPerPoll.toFixed(1).padStart(17)}`);
  const w = results[0];
  const pass = w.addedPct < 1;
  console.log(`\n${pass ? 'PASS' : 'FAIL'}: ${PAGES} open dashboards add ${w.addedPct.toFixed(2)} % of one core to weir ` +
    `(goal < 1 %); at ${RPS} requests/s weir itself used ${(w.base / 10).toFixed(2)} %.`);
  await cleanup();
  process.exit(pass ? 0 : 1);
}

main().catch(async (e) => { console.error(e); await cleanup(); process.exit(2); });

// weir rollout dashboard: polls /dashboard/state.json once a second and draws routes, rollouts
// and services. The page is served with a strict CSP (no inline script or style), and route
// names, messages and hook texts come from config files and hooks, so every node is built with
// createElement/textContent: no data ever goes through innerHTML. One concept a module: dom.js
// (helpers), charts.js, actions.js (token, lock and actions); this one polls, draws and wires.
import {
  el, setText, setAttr, changed, table, numCell, clock, dur, num, millis, pct, list, uid, $,
  STABLE_COLOR, CANARY_COLOR, PALETTE,
} from '/dashboard/dom.js';
import { buildCharts, drawCharts, eventKind } from '/dashboard/charts.js';
import { token, takeTokenFromFragment, refuseToken, drawLock, setMode, drawActions } from '/dashboard/actions.js';

const STATE_URL = '/dashboard/state.json';
const POLL_MS = 1000;

// The page's view state, shared with actions.js by passing it along (no globals).
const ui = {
  mode: null,        // 'off' (no actions), 'locked' (a token is needed) or 'on'
  lockNote: '',      // "token refused" and the like, beside the unlock form
  updated: 0,        // time_ms of the last state drawn
  routes: new Map(), // route name -> its view
  services: new Map(),
};

// --- polling ---------------------------------------------------------------------------------

async function poll() {
  const t = token.get();
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 5000);
  let state;
  try {
    const res = await fetch(STATE_URL, { cache: 'no-store', signal: ctl.signal,
      headers: t ? { Authorization: 'Bearer ' + t } : {} });
    if (res.status === 401 || res.status === 403) {
      // weir wants a token even to read: offer the unlock form.
      if (t) refuseToken(ui, 'token refused');
      setMode(ui, 'locked');
      return setStatus('error', `weir refused the state (HTTP ${res.status}): unlock with the admin token`);
    }
    if (!res.ok) return lost('HTTP ' + res.status);
    state = await res.json();
  } catch (e) {
    return lost(e && e.name === 'AbortError' ? 'no answer in 5 s' : '');
  } finally {
    clearTimeout(timer);
  }
  try {
    draw(state, t);
  } catch (e) {
    // A bug here must not stop the page: say so where the status goes, and keep polling.
    setStatus('error', 'cannot draw this state: ' + (e && e.message));
  }
}
// One poll at a time, started at most once a second: a slow weir is never asked twice.
async function loop() {
  const start = Date.now();
  await poll();
  setTimeout(loop, Math.max(100, POLL_MS - (Date.now() - start)));
}
function lost(why) {
  setStatus('lost', 'connection lost — retrying' + (why ? ` (${why})` : '') +
    (ui.updated ? ' · last update ' + clock(ui.updated) : ''));
  document.body.classList.add('stale');
}
function setStatus(kind, text) {
  setAttr($('status'), 'data-state', kind);
  setText($('status'), text);
}

// --- drawing a state -------------------------------------------------------------------------

function draw(state, tokenUsed) {
  document.body.classList.remove('stale');
  setText($('version'), state.version || '');
  ui.updated = Number(state.time_ms) || Date.now();
  setAttr($('status'), 'data-updated', ui.updated);
  setStatus('live', 'live · updated ' + clock(ui.updated));
  // A state fetched with a token that has changed since says nothing about the new one.
  if (tokenUsed === token.get()) drawLock(ui, state.actions || {}, tokenUsed);

  const routes = list(state.routes, 'routes');
  const rollouts = state.rollouts || {}, series = state.series || {};
  if (state.routes && state.routes.ok === false) setStatus('error', 'show routes: ' + state.routes.error);
  for (const r of routes) {
    const plan = rollouts[r.name] || null;
    let v = ui.routes.get(r.name);
    if (!v || v.hasPlan !== !!plan) {
      // Sections keep the order they came in: new ones go below, nothing moves up. A reload
      // that adds or drops a plan rebuilds the section in its place.
      const old = v;
      v = buildRoute(r.name, !!plan);
      if (old) old.section.replaceWith(v.section);
      else $('routes').append(v.section);
      ui.routes.set(r.name, v);
    }
    drawRoute(v, r, plan, series[r.name], ui.updated);
  }
  for (const [name, v] of ui.routes) {
    if (!routes.some((r) => r.name === name)) { v.section.remove(); ui.routes.delete(name); }
  }

  const probes = new Map(list(state.probes, 'services').map((p) => [p.service, p]));
  const services = list(state.services, 'services');
  $('services-group').hidden = !services.length;
  for (const s of services) {
    if (!ui.services.has(s.service)) {
      ui.services.set(s.service, buildService(s.service));
      $('services').append(ui.services.get(s.service).section);
    }
    drawService(ui.services.get(s.service), s, probes.get(s.service));
  }
  for (const [name, v] of ui.services) {
    if (!services.some((s) => s.service === name)) { v.section.remove(); ui.services.delete(name); }
  }
}

// --- a route ---------------------------------------------------------------------------------

function buildRoute(name, hasPlan) {
  const v = { name, hasPlan, busy: false, charts: {}, colors: {} };
  const field = (f, tag, cls) => el(tag, { 'data-field': f, class: cls });
  v.phase = hasPlan ? field('phase', 'span', 'phase')
    : el('span', { class: 'phase', 'data-phase': 'none', text: 'no rollout plan' });
  v.stable = field('stable', 'span', 'svc-stable');
  v.canary = field('canary', 'span', 'svc-canary');
  v.match = el('span', { class: 'route-match' });
  v.section = el('section', { class: 'route', 'data-route': name, 'aria-label': 'route ' + name },
    el('div', { class: 'route-head' }, el('h2', { text: name }), v.phase, v.match,
      hasPlan ? el('span', { class: 'versions' }, 'stable ', v.stable, ' → canary ', v.canary) : null));
  if (hasPlan) v.section.append((v.message = field('message', 'p', 'message')));
  const left = el('div', { class: 'route-left' }), right = el('div', { class: 'route-right' });
  v.section.append(el('div', { class: 'route-body' }, left, right));

  // Weights: a stacked bar, and a table with the numbers (readable on a phone too).
  v.bar = el('div', { class: 'weight-bar', role: 'img' });
  v.weightTable = el('div');
  left.append(el('div', { class: 'panel weights' }, el('h3', { text: 'Traffic split' }), v.bar, v.weightTable));

  if (hasPlan) {
    v.timeLeft = field('step-time-left', 'span', 'time-left');
    v.steps = el('ol', { class: 'steps' });
    v.facts = el('dl', { class: 'facts' });
    v.analysis = field('last-analysis', 'div', 'analysis');
    v.actions = el('div', { class: 'route-actions' });
    left.append(el('div', { class: 'panel rollout-panel' },
      el('h3', {}, 'Steps ', el('span', { class: 'muted' }, '· '), v.timeLeft), v.steps, v.facts,
      el('h3', { text: 'Last analysis' }), v.analysis, v.actions));
  }

  right.append(buildCharts(v));

  if (hasPlan) {
    v.typeSel = el('select', { class: 'event-filter-type', id: uid('type') },
      el('option', { value: '', text: 'all types' }));
    v.textIn = el('input', { type: 'search', class: 'event-filter-text', id: uid('text'),
      placeholder: 'filter messages' });
    v.events = el('ol', { class: 'events' });
    v.evCount = el('span', { class: 'muted' });
    v.typeSel.addEventListener('change', () => drawEvents(v));
    v.textIn.addEventListener('input', () => drawEvents(v));
    right.append(el('div', { class: 'panel events-panel' },
      el('div', { class: 'events-head' }, el('h3', {}, 'Events ', v.evCount),
        el('label', { for: v.typeSel.id, text: 'type' }), v.typeSel,
        el('label', { for: v.textIn.id, text: 'search' }), v.textIn),
      el('div', { class: 'events-box', tabindex: '0', 'aria-label': 'events of ' + name }, v.events)));
  }
  return v;
}

function drawRoute(v, r, plan, series, timeMs) {
  const ro = plan && plan.status && plan.status.rollout;
  const backends = list(r, 'backends');
  v.data = { r, ro, backends, series, timeMs, events: list(plan && plan.history, 'events') };
  const m = r.match || {};
  setText(v.match, [r.listener, m.host && 'host ' + m.host, m.path_prefix && 'path ' + m.path_prefix]
    .filter(Boolean).join(' · '));
  // Colours by role; they change only when the backends or the roles do.
  v.role = (s) => (ro && s === ro.stable ? 'stable' : ro && s === ro.canary ? 'canary' : '');
  if (changed(v.section, 'colors', [backends.map((b) => b.service), ro && ro.stable, ro && ro.canary])) {
    let i = 0;
    v.colors = {};
    for (const b of backends) {
      const role = v.role(b.service);
      v.colors[b.service] = role === 'stable' ? STABLE_COLOR : role === 'canary' ? CANARY_COLOR
        : PALETTE[i++ % PALETTE.length];
    }
  }
  drawWeights(v, r);
  if (v.hasPlan) {
    if (ro) drawRollout(v, ro);
    else setText(v.message, 'rollout status: ' + ((plan.status && plan.status.error) || 'not available'));
    drawActions(ui, v);
    drawEvents(v);
  }
  drawCharts(v);
}

function drawWeights(v, r) {
  const backends = v.data.backends;
  if (!changed(v.bar, 'w', [backends, v.colors, r.weights_from])) return;
  // share is what traffic gets (a backend with no endpoint available drops out); without
  // any share, the effective weights.
  const eff = backends.map((b) => b.effective_weight ?? b.weight ?? 0);
  const total = eff.reduce((a, b) => a + b, 0);
  const useShare = backends.some((b) => b.share > 0);
  const parts = backends.map((b, i) => (useShare ? b.share || 0 : total ? eff[i] / total : 0) * 100);
  if (changed(v.bar, 'names', backends.map((b) => b.service))) {
    // Each segment is laid out at the bar's left edge and moved by a transform: a weight
    // change resizes boxes but moves none, so it is no layout shift.
    v.bar.replaceChildren(...backends.map((b) => el('div', { class: 'weight-slot' },
      el('div', { class: 'weight-segment', 'data-weight-service': b.service }, el('span', { class: 'seg-label' })))));
  }
  let start = 0;
  backends.forEach((b, i) => {
    const slot = v.bar.children[i], seg = slot.firstChild;
    slot.style.transform = `translateX(${start}%)`;
    seg.style.width = parts[i] + '%';
    seg.style.backgroundColor = v.colors[b.service];
    setAttr(seg, 'data-weight', b.weight ?? 0);
    setAttr(seg, 'title', `${b.service}: weight ${b.weight}, ${parts[i].toFixed(1)}% of the traffic`);
    setText(seg.firstChild, `${b.service} ${Math.round(parts[i])}%`);
    start += parts[i];
  });
  setAttr(v.bar, 'aria-label', 'traffic split: ' +
    backends.map((b, i) => `${b.service} ${Math.round(parts[i])}%`).join(', '));
  const from = { operator: 'set by an operator', rollout: 'set by the rollout',
    config: 'from the config file' }[r.weights_from] || r.weights_from || '';
  v.weightTable.replaceChildren(table('weight-table', ['backend', 'weight', 'share', 'config'],
    backends.map((b, i) => {
      const sw = el('i', { class: 'swatch' });
      sw.style.backgroundColor = v.colors[b.service];
      const role = v.role(b.service);
      return { attrs: { 'data-service': b.service }, cells: [
        [[el('span', { class: 'svc-name' }, sw, b.service), role && el('span', { class: 'role', text: role })], {}],
        [b.weight + (eff[i] !== b.weight ? ' (no endpoint)' : ''), { class: 'num', title: 'weights ' + from }],
        numCell(parts[i].toFixed(1) + '%'), [b.configured_weight ?? '–', { class: 'num muted' }]] };
    })));
}

function stepText(s) {
  if ('set_weight' in s) return `set weight ${s.set_weight}%`;
  if ('pause_ms' in s) return s.pause_ms ? `pause ${dur(s.pause_ms)}` : 'pause: manual gate (promote goes on)';
  if ('analysis_ms' in s) return `analysis ${dur(s.analysis_ms)}`;
  if ('set_mirror' in s) return `mirror ${s.set_mirror}% of requests`;
  if ('set_header_route' in s) return `header route ${s.set_header_route}`;
  return Object.keys(s).filter((k) => k !== 'current' && k !== 'done').join(' ');
}

function drawRollout(v, ro) {
  setText(v.phase, ro.phase || '');
  setAttr(v.phase, 'data-phase', ro.phase || '');
  setText(v.stable, ro.stable || '–');
  setText(v.canary, ro.canary || '–');
  setText(v.message, ro.message || '');
  setAttr(v.message, 'title', ro.message || '');
  const steps = list(ro, 'steps');
  // rollout.step is where the rollout is: running, paused, or stopped there (Degraded).
  const at = ['Progressing', 'Paused', 'Degraded'].includes(ro.phase) ? ro.step : -1;
  if (changed(v.steps, 's', [steps, at, ro.phase])) {
    v.steps.replaceChildren(...steps.map((s, i) => {
      const state = s.current ? 'current' : s.done ? 'done' : i === at ? 'halted' : 'pending';
      return el('li', { class: 'step ' + state, 'data-step-index': i, 'aria-current': i === at ? 'step' : null },
        el('span', { class: 'step-mark', 'aria-hidden': 'true',
          text: { current: '▶', done: '✓', halted: '✕', pending: String(i + 1) }[state] }),
        el('span', { class: 'step-text', text: stepText(s) }));
    }));
  }
  // The current step's time left, as weir counts it: every poll brings it a second down.
  const cur = steps.find((s) => s.current);
  let left = ro.phase === 'Idle' ? 'not started' : '—';
  if (ro.waiting_for) left = `waiting for the ${ro.waiting_for} hooks`;
  else if (ro.starting) left = 'starting: waiting for the pre_rollout hooks';
  else if (cur && cur.pause_ms === 0) left = 'waiting for promote';
  else if (cur && ro.step_remaining_ms != null) {
    left = `${dur(ro.step_remaining_ms)} left${ro.phase === 'Paused' ? ' (paused)' : ''}`;
  } else if (ro.phase === 'Healthy') left = 'done';
  else if (ro.phase === 'Degraded') left = 'stopped';
  setText(v.timeLeft, at >= 0 ? `step ${at + 1} of ${steps.length} · ${left}` : left);

  const obs = ro.observed || {};
  const total = (obs.canary_requests || 0) + (obs.stable_requests || 0);
  const plan = ro.plan_weight != null && ro.plan_weight !== ro.canary_weight ? ` (plan ${ro.plan_weight}%)` : '';
  const notes = [ro.held && 'held: ' + ro.held, ro.fleet && 'fleet: ' + ro.fleet,
    ro.mirror && `mirror ${ro.mirror.percent}% → ${ro.mirror.service}`,
    ...list(ro, 'header_routes').map((h) => 'header route ' + h.name)].filter(Boolean);
  const facts = [
    ['canary weight', ro.canary_weight != null ? `${ro.canary_weight}%${plan}` : '–',
      ro.weights_from === 'operator' ? ' · set by an operator' : ''],
    [`served (${obs.seconds || 10} s)`, total ? `canary ${pct(obs.canary_share)} of ${total}` : 'no requests'],
    ['verdicts', `${ro.failures || 0} failed · ${ro.inconclusive || 0} inconclusive`],
    ['top-up', ro.top_up ? (ro.top_up.running ? `on, ${ro.top_up.rate}/s` : 'off') : '–'],
    ['notes', notes.join(' · ') || '–'], // always a row: one coming later moves nothing
  ];
  if (changed(v.facts, 'f', facts)) {
    v.facts.replaceChildren(...facts.flatMap(([k, ...val]) =>
      [el('dt', { text: k }), el('dd', { text: val.join('') })]));
  }
  if (!changed(v.analysis, 'a', ro.last_analysis || null)) return;
  const a = ro.last_analysis;
  if (!a) return v.analysis.replaceChildren(el('p', { class: 'muted', text: 'no analysis yet' }));
  v.analysis.replaceChildren(
    el('p', { class: 'verdict', title: a.reason || '' },
      el('span', { class: 'outcome', 'data-outcome': a.outcome || '', text: a.outcome || '?' }), ' ', a.reason || ''),
    table('analysis-table', ['', 'requests', 'errors', 'p99', 'req/s'], ['stable', 'canary'].map((side) => {
      const w = a[side] || {};
      return { cells: [side, numCell(w.requests), numCell(pct(w.error_rate)), numCell(millis(w.p99_ms)),
        numCell(num(w.rps))] };
    })));
}

// --- events ----------------------------------------------------------------------------------

function drawEvents(v) {
  const events = v.data.events;
  const types = [...new Set(events.map((e) => e.type))].sort();
  if (changed(v.typeSel, 't', types)) {
    const keep = v.typeSel.value;
    v.typeSel.replaceChildren(el('option', { value: '', text: 'all types' }),
      ...types.map((t) => el('option', { value: t, text: t })));
    v.typeSel.value = types.includes(keep) ? keep : '';
  }
  const type = v.typeSel.value, q = v.textIn.value.trim().toLowerCase();
  const last = events[events.length - 1] || {};
  if (!changed(v.events, 'e', [events.length, events[0] && events[0].time, last.time, last.message, type, q])) return;
  const shown = events.filter((e) => (!type || e.type === type) &&
    (!q || [e.type, e.message, e.origin].some((s) => s && String(s).toLowerCase().includes(q))));
  setText(v.evCount, shown.length + (shown.length !== events.length ? ' of ' + events.length : ''));
  // Newest first. A reader scrolled down keeps what they were reading in place.
  const box = v.events.parentNode, fromEnd = box.scrollTop > 0 ? box.scrollHeight - box.scrollTop : -1;
  v.events.replaceChildren(...shown.reverse().map((e) => {
    const t = Date.parse(e.time), kind = eventKind(e);
    return el('li', { class: 'event', 'data-event-type': e.type, 'data-kind': kind },
      el('time', { datetime: e.time, title: e.time, text: isNaN(t) ? e.time : clock(t) }),
      el('span', { class: 'ev-type', text: kind.replace('-', ' ') }),
      el('span', { class: 'ev-msg', text: e.message || '' }),
      e.origin ? el('span', { class: 'ev-origin', text: 'by ' + e.origin }) : null);
  }));
  if (!shown.length) {
    v.events.append(el('li', { class: 'muted empty', text: events.length ? 'no event matches' : 'no events yet' }));
  }
  if (fromEnd >= 0) box.scrollTop = box.scrollHeight - fromEnd;
}

// --- a service -------------------------------------------------------------------------------

function buildService(name) {
  const v = { name };
  v.ready = el('span', { class: 'badge', 'data-field': 'ready' });
  v.avail = el('span', { class: 'muted' });
  v.endpoints = el('div');
  v.discovery = el('div', { class: 'discovery' });
  v.probes = el('div', { class: 'probes' });
  v.section = el('section', { class: 'service panel', 'data-service': name, 'aria-label': 'service ' + name },
    el('div', { class: 'svc-head' }, el('h3', { text: name }), v.ready, v.avail), v.endpoints, v.discovery, v.probes);
  return v;
}

function drawService(v, s, probe) {
  const ready = probe ? probe.ready : s.ready;
  setText(v.ready, ready ? 'ready' : 'not ready');
  setAttr(v.ready, 'data-ok', !!ready);
  const eps = list(s, 'endpoints');
  const available = s.endpoints_available ?? eps.filter((e) => e.available).length;
  setText(v.avail, `${available} of ${eps.length} endpoints available`);
  const yes = (b) => (b ? 'yes' : 'no');
  const flag = (text, bad) => [text, { class: bad ? 'flag' : null }];
  if (changed(v.endpoints, 'e', eps)) {
    v.endpoints.replaceChildren(table('endpoints',
      ['endpoint', 'health', 'drained', 'ejected', 'available', 'active'], eps.map((e) => {
        const marks = [e.drained && 'drained', e.ejected && 'ejected', !e.available && 'unavailable'];
        const health = el('span', { class: 'health', 'data-health': String(e.health || '').split(' ')[0],
          text: e.health || '–' });
        const why = e.last_error && el('span', { class: 'muted small', text: ' ' + e.last_error });
        const ejected = yes(e.ejected) + (e.ejections != null ? ` (${e.ejections}×)` : '');
        return { attrs: { 'data-endpoint': e.address, class: marks.filter(Boolean).join(' ') || null },
          cells: [[e.address, { class: 'mono' }], [[health, why], { class: 'health-cell' }],
            flag(yes(e.drained), e.drained), flag(ejected, e.ejected), flag(yes(e.available), !e.available),
            numCell(e.active ?? 0)] };
      })));
    if (!eps.length) v.endpoints.append(el('p', { class: 'muted small', text: 'no endpoints' }));
  }
  const sources = list(s, 'discovery');
  if (changed(v.discovery, 'd', sources)) {
    const source = (d) => el('li', {}, el('span', { class: 'mono', text: `${d.kind || ''} ${d.source || ''}` }),
      ` — ${d.answered ? d.endpoints + ' endpoint(s)' : 'no answer yet'}, ${d.updates} update(s), ` +
      `${d.failures} failure(s)`,
      d.last_error && el('span', { class: 'bad', text: ' · last error: ' + d.last_error }),
      d.problem && el('span', { class: 'bad', text: ' · problem: ' + d.problem }));
    v.discovery.replaceChildren(...(sources.length ? [el('h4', { text: 'Discovery' }),
      el('ul', {}, ...sources.map(source))] : []));
  }
  const probes = probe ? list(probe, 'probes') : [];
  if (!changed(v.probes, 'p', [!!probe, probes])) return;
  if (!probes.length) {
    return v.probes.replaceChildren(el('p', { class: 'muted small', text: probe ? 'no synthetic probes' : '' }));
  }
  v.probes.replaceChildren(el('h4', { text: 'Probes' }), table('probe-table',
    ['probe', 'ready', 'last', 'pass', 'fail', 'streak', 'latency', 'endpoint', 'reason'],
    probes.map((p) => ({ attrs: { 'data-probe': p.name }, cells: [p.name,
      [yes(p.ready), { class: p.ready ? 'good' : 'flag' }], [p.last, { 'data-last': p.last }],
      numCell(p.passes), numCell(p.failures), numCell(`${p.consecutive_passes}/${p.ready_after}`),
      numCell(p.ran ? millis(p.latency_ms) : '–'), [p.endpoint || '–', { class: 'mono' }],
      [p.last_failure || '', { class: p.last_failure ? 'bad' : 'muted' }]] }))));
}

// --- start -----------------------------------------------------------------------------------

// Charts are drawn at their real width: draw them again after a resize.
let resizeTimer = 0;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { for (const v of ui.routes.values()) if (v.data) drawCharts(v); }, 150);
});
takeTokenFromFragment();
loop();

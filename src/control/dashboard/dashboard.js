// weir rollout dashboard: polls /dashboard/state.json once a second and draws routes, rollouts
// and services. The page is served with a strict CSP (no inline script or style), and route
// names, messages and hook texts come from config files and hooks, so every node is built with
// createElement/textContent: no data ever goes through innerHTML.
'use strict';

(() => {
  const STATE_URL = '/dashboard/state.json';
  const ACTION_URL = '/dashboard/action';
  const TOKEN_KEY = 'weir-dashboard-token';
  const POLL_MS = 1000;
  const WINDOW_POINTS = 300; // the series hold 5 minutes, a point a second
  const CHART_H = 120;
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const CHARTS = [
    { key: 'rps', field: 'rps', title: 'Requests/s', scale: 1, unit: '', fmt: (v) => num(v) },
    { key: 'error_rate', field: 'error_rate', title: 'Error rate', scale: 100, unit: '%', fmt: (v) => pct(v / 100) },
    { key: 'p99', field: 'p99_ms', title: 'p99 latency', scale: 1, unit: ' ms', fmt: (v) => millis(v) },
  ];
  const MARKERS = [['weight', 'weight change'], ['analysis-pass', 'analysis pass'],
    ['analysis-fail', 'analysis fail'], ['analysis-inconclusive', 'inconclusive'], ['paused', 'paused'],
    ['aborted', 'aborted'], ['promoted', 'promoted']];
  const MARKED_EVENTS = new Set(['analysis', 'paused', 'aborted', 'promoted']);
  // The phases each action makes sense in (weir refuses the others anyway, with a 409).
  const ACTIONS = { promote: ['Progressing', 'Paused'], pause: ['Progressing'], resume: ['Paused'],
    abort: ['Progressing', 'Paused'] };
  // Stable is blue and canary orange everywhere (bar, tables, charts); other backends after.
  const STABLE_COLOR = '#2563eb', CANARY_COLOR = '#ea580c';
  const PALETTE = ['#0f766e', '#7c3aed', '#db2777', '#4d7c0f', '#0369a1', '#a16207', '#475569'];

  // --- small helpers -----------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    setAttrs(e, attrs);
    for (const c of children) if (c != null && c !== false) e.append(c); // strings become text nodes
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS(SVG_NS, tag);
    setAttrs(e, attrs);
    return e;
  }
  function setAttrs(e, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  // Write only what differs, so an unchanged poll touches nothing in the DOM.
  function setText(e, text) {
    if (e.textContent !== String(text)) e.textContent = text;
  }
  function setAttr(e, k, v) {
    if (e.getAttribute(k) !== String(v)) e.setAttribute(k, v);
  }
  // True when `data` differs from what was drawn last under (element, key): redraw only then.
  const drawn = new WeakMap();
  function changed(e, key, data) {
    const sig = JSON.stringify(data);
    const m = drawn.get(e) || {};
    drawn.set(e, m);
    if (m[key] === sig) return false;
    m[key] = sig;
    return true;
  }
  // A table: header texts, then rows of cells; a cell is a text/number/node or [content, attrs].
  function table(cls, head, rows) {
    const cell = (c) => (Array.isArray(c) ? el('td', c[1], ...[].concat(c[0])) : el('td', {}, c ?? '–'));
    return el('div', { class: 'table-wrap' }, el('table', { class: cls },
      el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col', text: h })))),
      el('tbody', {}, ...rows.map((r) => el('tr', r.attrs, ...r.cells.map(cell))))));
  }
  const numCell = (v) => [v == null ? '–' : v, { class: 'num' }];
  const pad = (n) => String(n).padStart(2, '0');
  function clock(ms) {
    const d = new Date(ms);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }
  function dur(ms) {
    if (ms < 1000) return Math.round(ms) + 'ms';
    const s = Math.round(ms / 1000);
    if (s < 60) return s + 's';
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + ':' + pad(m) : m) + ':' + pad(s % 60);
  }
  function num(v) {
    if (v == null || !isFinite(v)) return '–';
    return Math.abs(v) >= 100 ? String(Math.round(v)) : v.toFixed(Math.abs(v) >= 10 ? 1 : 2);
  }
  const millis = (v) => (v == null ? '–' : (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v)) + ' ms');
  const pct = (f) => (f == null ? '–' : (f * 100).toFixed(2) + '%');
  const list = (reply, key) => (reply && Array.isArray(reply[key]) ? reply[key] : []);
  // The y axis ends at a round number: 1, 2, 2.5 or 5 times a power of ten.
  function niceMax(v) {
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    return [1, 2, 2.5, 5, 10].find((m) => m * p >= v - 1e-9) * p;
  }
  let uids = 0;
  const uid = (p) => `${p}-${++uids}`;
  const $ = (id) => document.getElementById(id);

  // --- the token: sessionStorage, set from #token=… or the unlock form ---------------------

  const token = {
    get() {
      try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
    },
    set(t) {
      try {
        if (t) sessionStorage.setItem(TOKEN_KEY, t);
        else sessionStorage.removeItem(TOKEN_KEY);
      } catch (e) { /* storage off: no token, the page stays read-only */ }
    },
  };
  // #token=XYZ: kept for this tab, and out of the address bar (and out of screenshots).
  function takeTokenFromFragment() {
    const m = /^#token=(.+)$/.exec(location.hash);
    if (!m) return;
    try { token.set(decodeURIComponent(m[1])); } catch (e) { token.set(m[1]); }
    history.replaceState(null, '', location.pathname + location.search);
  }

  const ui = {
    mode: null,        // 'off' (no actions), 'locked' (a token is needed) or 'on'
    lockNote: '',      // "token refused" and the like, beside the unlock form
    updated: 0,        // time_ms of the last state drawn
    routes: new Map(), // route name -> its view
    services: new Map(),
  };

  // --- polling -------------------------------------------------------------------------------

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
        if (t) refuseToken('token refused');
        setMode('locked');
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

  // --- drawing a state -----------------------------------------------------------------------

  function draw(state, tokenUsed) {
    document.body.classList.remove('stale');
    setText($('version'), state.version || '');
    ui.updated = Number(state.time_ms) || Date.now();
    setAttr($('status'), 'data-updated', ui.updated);
    setStatus('live', 'live · updated ' + clock(ui.updated));
    // A state fetched with a token that has changed since says nothing about the new one.
    if (tokenUsed === token.get()) drawLock(state.actions || {}, tokenUsed);

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

  // --- the actions lock ----------------------------------------------------------------------

  function refuseToken(note) {
    token.set('');
    ui.lockNote = note;
  }
  function drawLock(actions, tokenUsed) {
    // The token in use (typed, from the URL or from before) is wrong: forget it, say so.
    if (actions.enabled && !actions.authorized && tokenUsed) refuseToken('token refused');
    if (actions.authorized) ui.lockNote = '';
    setMode(!actions.enabled ? 'off' : actions.authorized ? 'on' : 'locked');
  }
  function setMode(mode) {
    const note = document.querySelector('#lock .lock-note');
    if (note) setText(note, ui.lockNote);
    if (mode === ui.mode) return;
    ui.mode = mode;
    $('lock').replaceChildren();
    if (mode === 'locked') {
      const input = el('input', { type: 'password', name: 'token', id: 'unlock-token', required: true,
        autocomplete: 'current-password', placeholder: 'admin token' });
      const form = el('form', { class: 'unlock' },
        // A user name lets password managers file the token (and quiets Chrome's DOM hint).
        el('input', { type: 'text', name: 'username', autocomplete: 'username', value: 'weir-admin', hidden: true }),
        el('label', { for: 'unlock-token', text: 'Token' }), input,
        el('button', { type: 'submit', text: 'Unlock actions' }),
        el('span', { class: 'lock-note', role: 'status', text: ui.lockNote }));
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const t = input.value.trim();
        input.value = ''; // a refused token must not stay in the field
        if (!t) return;
        token.set(t); // used from the next poll on, whose state says whether it is right
        ui.lockNote = 'checking…';
        setText(form.querySelector('.lock-note'), ui.lockNote);
      });
      $('lock').append(form);
    } else if (mode === 'on') {
      $('lock').append(el('span', { class: 'unlocked', text: 'actions unlocked' }));
      if (token.get()) {
        const relock = el('button', { type: 'button', class: 'relock', text: 'Lock' });
        relock.addEventListener('click', () => { refuseToken(''); setMode('locked'); });
        $('lock').append(relock);
      }
    }
    for (const v of ui.routes.values()) if (v.hasPlan && v.data) drawActions(v);
  }

  // --- a route -------------------------------------------------------------------------------

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

    // Charts: one legend for the three; each a fixed-height SVG redrawn from the series.
    v.legend = el('div', { class: 'legend' });
    const markers = el('div', { class: 'legend marker-legend', 'aria-label': 'marker kinds' },
      ...MARKERS.map(([type, label]) =>
        el('span', { class: 'key', 'data-marker-type': type }, el('i', { class: 'marker-swatch' }), label)));
    right.append(el('div', { class: 'panel charts' }, el('div', { class: 'legends' }, v.legend, markers),
      ...CHARTS.map((c) => {
        const s = svg('svg', { 'data-chart': c.key, role: 'img', 'data-points': 0, 'data-end-ms': 0,
          viewBox: `0 0 600 ${CHART_H}`, preserveAspectRatio: 'none' });
        const now = el('span', { class: 'chart-now' });
        v.charts[c.key] = { svg: s, now };
        return el('figure', { class: 'chart' },
          el('figcaption', {}, el('span', { class: 'chart-title', text: c.title }), now), s);
      })));

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
      drawActions(v);
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

  // --- actions -------------------------------------------------------------------------------

  function drawActions(v) {
    // The controls' room is kept while they are locked (CSS), so unlocking moves nothing.
    setAttr(v.actions, 'data-mode', ui.mode || 'off');
    if (ui.mode !== 'on') {
      if (ui.mode === 'locked' && !v.actions.querySelector('.locked-note')) {
        v.actions.replaceChildren(el('p', { class: 'locked-note', text: 'Actions are locked: unlock them with '
          + 'the admin token to promote, pause, resume, abort or set weights.' }));
      } else if (ui.mode !== 'locked') v.actions.replaceChildren();
      return;
    }
    const backends = v.data.backends, ro = v.data.ro;
    const backendsChanged = changed(v.actions, 'b', backends.map((b) => b.service));
    if (backendsChanged || !v.buttons || !v.actions.contains(v.buttons[0])) buildActions(v, backends);
    // At a manual gate (a pause step without a duration) only promote goes on: weir refuses resume.
    const step = ro && Array.isArray(ro.steps) ? ro.steps[ro.step] : null;
    const atGate = ro && ro.phase === 'Paused' && step && step.pause_ms === 0;
    for (const b of v.buttons) {
      b.disabled = v.busy || !ACTIONS[b.dataset.action].includes(ro && ro.phase) ||
        (atGate && b.dataset.action === 'resume');
    }
    // The weight inputs show the live weights, except where the operator is typing.
    for (const b of backends) {
      const input = v.weightForm.elements.namedItem(b.service);
      if (!input || input.dataset.dirty || document.activeElement === input) continue;
      const w = b.weight ?? 0;
      const value = String(w <= 100 ? w : Math.round((b.share || 0) * 100));
      if (input.value !== value) input.value = value;
    }
  }
  function buildActions(v, backends) {
    const name = v.name;
    v.buttons = Object.keys(ACTIONS).map((a) => {
      const label = a[0].toUpperCase() + a.slice(1);
      const b = el('button', { type: 'button', class: 'btn-' + a, 'data-action': a, 'data-route': name,
        'aria-label': `${label} ${name}`, text: label });
      b.addEventListener('click', () => {
        if (a === 'abort' && !confirm(`Abort the rollout of ${name}? Traffic goes back to the stable version.`)) return;
        act(v, { action: a, route: name }, label);
      });
      return b;
    });
    const force = el('input', { type: 'checkbox', name: 'force' });
    v.weightForm = el('form', { class: 'set-weight', 'data-route': name },
      el('span', { class: 'sw-title', text: 'Set weights' }),
      ...backends.map((b) => {
        const input = el('input', { type: 'number', name: b.service, min: 0, max: 100, step: 1, required: true });
        input.addEventListener('input', () => { input.dataset.dirty = '1'; });
        return el('label', { class: 'sw-field' }, el('span', { text: b.service }), input);
      }),
      el('label', { class: 'sw-force' }, force, ' force (pauses a running rollout)'),
      el('button', { type: 'submit', 'aria-label': `Set weights of ${name}`, text: 'Set' }));
    v.weightForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const weights = {};
      for (const b of backends) weights[b.service] = Number(v.weightForm.elements.namedItem(b.service).value);
      if (!(await act(v, { action: 'set_weight', route: name, weights, force: force.checked }, 'Set weights'))) return;
      force.checked = false;
      for (const i of v.weightForm.querySelectorAll('input[type=number]')) delete i.dataset.dirty;
    });
    v.result = el('p', { class: 'action-result', role: 'status' });
    v.actions.replaceChildren(el('div', { class: 'buttons' }, ...v.buttons), v.weightForm, v.result);
  }
  function showResult(v, kind, text) {
    v.result.dataset.kind = kind;
    setText(v.result, text);
  }
  // POSTs one action. The answer goes into the route's .action-result, never to the console.
  async function act(v, body, label) {
    const t = token.get();
    const headers = { 'Content-Type': 'application/json' };
    if (t) headers.Authorization = 'Bearer ' + t;
    v.busy = true;
    drawActions(v);
    showResult(v, 'pending', label + '…');
    let ok = false;
    try {
      const res = await fetch(ACTION_URL, { method: 'POST', cache: 'no-store', headers, body: JSON.stringify(body) });
      const reply = await res.json().catch(() => null);
      const error = (reply && reply.error) || 'HTTP ' + res.status;
      if (res.status === 403) {
        // The token is wrong, or weir's changed: back to the unlock form.
        refuseToken('token refused: ' + error);
        v.busy = false;
        setMode('locked');
        return false;
      }
      ok = res.ok && !!reply && reply.ok === true;
      showResult(v, ok ? 'ok' : 'error', ok ? `${label}: done` : `${label} refused: ${error}`);
    } catch (e) {
      showResult(v, 'error', `${label}: no answer from weir`);
    }
    v.busy = false;
    drawActions(v);
    return ok;
  }

  // --- events --------------------------------------------------------------------------------

  // "analysis-pass" and the like for analyses, else the event's type.
  function eventKind(e) {
    if (e.type !== 'analysis') return e.type;
    const m = /^(pass|fail|inconclusive)\b/.exec(e.message || ''); // "pass: 20 requests, …"
    return 'analysis-' + ((e.details && e.details.outcome) || (m && m[1]) || 'inconclusive');
  }
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

  // --- charts --------------------------------------------------------------------------------

  // Vertical markers: where a backend's weight changed (from the series' weights), and the
  // history's analyses, pauses, aborts and promotions inside the window.
  function chartMarkers(ser, events, t0, t1) {
    const out = [];
    const step = ser.step_ms || 1000, n = ser.points || 0;
    const backends = Object.entries(ser.backends || {});
    for (let i = 1; i < n; i++) {
      const moved = backends.filter(([, b]) => b.weight && b.weight[i] != null && b.weight[i - 1] != null &&
        b.weight[i] !== b.weight[i - 1]);
      if (!moved.length) continue;
      const t = ser.end_ms - (n - 1 - i) * step;
      out.push({ t, type: 'weight', title: `${clock(t)} weights: ` +
        moved.map(([s, b]) => `${s} ${b.weight[i - 1]} → ${b.weight[i]}`).join(', ') });
    }
    for (const e of events) {
      const t = Date.parse(e.time);
      if (!MARKED_EVENTS.has(e.type) || isNaN(t) || t < t0 || t > t1) continue;
      const kind = eventKind(e);
      out.push({ t, type: kind, title: `${clock(t)} ${kind.replace('-', ' ')}: ${e.message || ''}` });
    }
    return out;
  }

  function drawCharts(v) {
    const { series: ser, events } = v.data;
    const names = ser ? Object.keys(ser.backends || {}) : [];
    const color = (s) => v.colors[s] || PALETTE[names.indexOf(s) % PALETTE.length];
    if (changed(v.legend, 'l', [names, v.colors])) {
      v.legend.replaceChildren(...names.map((s) => {
        const sw = el('i', { class: 'line-swatch' });
        sw.style.backgroundColor = color(s);
        return el('span', { class: 'key' }, sw, s + (v.role(s) ? ` (${v.role(s)})` : ''));
      }));
    }
    // The window is always 5 minutes ending at the series' last point; a young series starts
    // part way along it.
    const n = ser ? ser.points || 0 : 0, step = (ser && ser.step_ms) || 1000;
    const t1 = ser ? ser.end_ms : v.data.timeMs, t0 = t1 - (Math.max(n, WINDOW_POINTS) - 1) * step;
    const markers = ser ? chartMarkers(ser, events, t0, t1) : [];
    for (const c of CHARTS) drawChart(v, c, { ser, names, color, markers, t0, t1, step, n });
  }

  function drawChart(v, c, { ser, names, color, markers, t0, t1, step, n }) {
    const { svg: s, now } = v.charts[c.key];
    // Drawn at its real width (the viewBox follows it), so text is never stretched.
    const W = Math.max(240, Math.round(s.getBoundingClientRect().width) || 600), H = CHART_H;
    const data = names.map((k) =>
      ((ser.backends[k] || {})[c.field] || []).map((x) => (x == null ? null : x * c.scale)));
    if (!changed(s, 'c', [W, t1, data, markers, v.colors])) return;
    const L = 46, R = 8, T = 8, B = 18, pw = W - L - R, ph = H - T - B;
    const max = niceMax(Math.max(1, ...data.flat().filter((x) => x != null)));
    const X = (t) => L + ((t - t0) / (t1 - t0 || 1)) * pw, Y = (y) => T + ph - (y / max) * ph;
    const nodes = [];
    for (const f of [0, 0.5, 1]) { // grid lines and y labels: 0, half and the top
      nodes.push(svg('line', { class: 'grid', x1: L, x2: W - R, y1: Y(max * f), y2: Y(max * f) }),
        svg('text', { class: 'axis', x: L - 5, y: Y(max * f) + 3.5, 'text-anchor': 'end',
          text: f ? +(max * f).toPrecision(3) + c.unit : '0' }));
    }
    // Time axis: a tick every whole minute (every two when narrow), by the wall clock; a label
    // near the right edge is aligned to it rather than cut.
    const every = pw < 380 ? 120000 : 60000;
    for (let t = Math.ceil(t0 / every) * every; t <= t1; t += every) {
      const edge = X(t) + 24 > W;
      nodes.push(svg('line', { class: 'tick', x1: X(t), x2: X(t), y1: T, y2: T + ph + 3 }),
        svg('text', { class: 'axis', x: edge ? W - 3 : X(t), y: H - 4, 'text-anchor': edge ? 'end' : 'middle',
          text: clock(t) }));
    }
    for (const m of markers) {
      const x = X(m.t).toFixed(1);
      const g = svg('g', { class: 'marker', 'data-marker-type': m.type });
      g.append(svg('title', { text: m.title }), svg('line', { class: 'hit', x1: x, x2: x, y1: T, y2: T + ph }),
        svg('line', { class: 'mark', x1: x, x2: x, y1: T, y2: T + ph }), svg('circle', { cx: x, cy: T + 1.5, r: 3 }));
      nodes.push(g);
    }
    // One line per backend, broken where a point is null.
    let points = 0;
    const latest = data.map((d, k) => {
      let path = '', last = null;
      d.forEach((y, i) => {
        if (y == null) {
          last = null;
          return;
        }
        path += (last == null ? 'M' : 'L') + X(t1 - (n - 1 - i) * step).toFixed(1) + ' ' + Y(y).toFixed(1);
        last = y;
      });
      points = Math.max(points, d.filter((y) => y != null).length);
      if (path) {
        nodes.push(svg('path', { class: 'series', d: path, stroke: color(names[k]), 'data-service': names[k] }));
      }
      return [names[k], d.length ? d[d.length - 1] : null];
    });
    if (!points) {
      nodes.push(svg('text', { class: 'nodata', x: L + pw / 2, y: T + ph / 2, 'text-anchor': 'middle',
        text: ser ? 'no data in the last 5 minutes' : 'no series for this route' }));
    }
    setAttr(s, 'viewBox', `0 0 ${W} ${H}`);
    s.replaceChildren(...nodes);
    setAttr(s, 'data-points', points);
    setAttr(s, 'data-end-ms', ser ? ser.end_ms : 0);
    const desc = latest.map(([k, y]) => `${k} ${y == null ? 'no data' : c.fmt(y)}`).join(', ');
    setAttr(s, 'aria-label', `${c.title} of ${v.name} over the last 5 minutes` +
      (desc ? `; now ${desc}` : '') + `; ${markers.length} markers`);
    now.replaceChildren(...latest.map(([k, y]) => {
      const dot = el('i', { class: 'dot' });
      dot.style.backgroundColor = color(k);
      return el('span', { class: 'now-value', title: k }, dot, y == null ? '–' : c.fmt(y));
    }));
  }

  // --- a service -----------------------------------------------------------------------------

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

  // --- start ---------------------------------------------------------------------------------

  // Charts are drawn at their real width: draw them again after a resize.
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { for (const v of ui.routes.values()) if (v.data) drawCharts(v); }, 150);
  });
  takeTokenFromFragment();
  loop();
})();

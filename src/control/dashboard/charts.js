// The route's three charts (requests/s, error rate, p99 latency) over the last 5 minutes: one
// SVG each, redrawn from the series at its real width, with markers for weight changes and the
// history's analyses, pauses, aborts and promotions.
import { el, svg, setAttr, changed, clock, num, millis, pct, niceMax, PALETTE } from '/dashboard/dom.js';

const WINDOW_POINTS = 300; // the series hold 5 minutes, a point a second
const CHART_H = 120;
const CHARTS = [
  { key: 'rps', field: 'rps', title: 'Requests/s', scale: 1, unit: '', fmt: (v) => num(v) },
  { key: 'error_rate', field: 'error_rate', title: 'Error rate', scale: 100, unit: '%', fmt: (v) => pct(v / 100) },
  { key: 'p99', field: 'p99_ms', title: 'p99 latency', scale: 1, unit: ' ms', fmt: (v) => millis(v) },
];
const MARKERS = [['weight', 'weight change'], ['analysis-pass', 'analysis pass'],
  ['analysis-fail', 'analysis fail'], ['analysis-inconclusive', 'inconclusive'], ['paused', 'paused'],
  ['aborted', 'aborted'], ['promoted', 'promoted']];
const MARKED_EVENTS = new Set(['analysis', 'paused', 'aborted', 'promoted']);

// "analysis-pass" and the like for analyses, else the event's type (the event list's kinds too).
export function eventKind(e) {
  if (e.type !== 'analysis') return e.type;
  const m = /^(pass|fail|inconclusive)\b/.exec(e.message || ''); // "pass: 20 requests, …"
  const outcome = (e.details && e.details.outcome) || (m && m[1]);
  // Without a known outcome (an old state file) the kind says analysis, never a guess.
  return outcome ? 'analysis-' + outcome : 'analysis';
}

// A route's charts panel (into v.legend and v.charts): one legend for the three; each a
// fixed-height SVG redrawn from the series.
export function buildCharts(v) {
  v.legend = el('div', { class: 'legend' });
  const markers = el('div', { class: 'legend marker-legend', 'aria-label': 'marker kinds' },
    ...MARKERS.map(([type, label]) =>
      el('span', { class: 'key', 'data-marker-type': type }, el('i', { class: 'marker-swatch' }), label)));
  return el('div', { class: 'panel charts' }, el('div', { class: 'legends' }, v.legend, markers),
    ...CHARTS.map((c) => {
      const s = svg('svg', { 'data-chart': c.key, role: 'img', 'data-points': 0, 'data-end-ms': 0,
        viewBox: `0 0 600 ${CHART_H}`, preserveAspectRatio: 'none' });
      const now = el('span', { class: 'chart-now' });
      v.charts[c.key] = { svg: s, now };
      return el('figure', { class: 'chart' },
        el('figcaption', {}, el('span', { class: 'chart-title', text: c.title }), now), s);
    }));
}

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
    // "promoted: promoted: …" says it twice: the kind only when the message does not start so.
    const msg = e.message || '';
    const said = msg.startsWith(e.type) || /^(pass|fail|inconclusive)\b/.test(msg);
    out.push({ t, type: kind, title: `${clock(t)} ${said ? msg : `${kind.replace('-', ' ')}: ${msg}`}` });
  }
  return out;
}

export function drawCharts(v) {
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

// The dashboard's small helpers: DOM nodes built with createElement/textContent (never
// innerHTML: route names, messages and hook texts come from config files and hooks), writes
// that skip what is unchanged, and the formatting of times, durations and numbers.

const SVG_NS = 'http://www.w3.org/2000/svg';
// Stable is blue and canary orange everywhere (bar, tables, charts); other backends after.
export const STABLE_COLOR = '#2563eb', CANARY_COLOR = '#ea580c';
export const PALETTE = ['#0f766e', '#7c3aed', '#db2777', '#4d7c0f', '#0369a1', '#a16207', '#475569'];

export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  setAttrs(e, attrs);
  for (const c of children) if (c != null && c !== false) e.append(c); // strings become text nodes
  return e;
}
export function svg(tag, attrs) {
  const e = document.createElementNS(SVG_NS, tag);
  setAttrs(e, attrs);
  return e;
}
export function setAttrs(e, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
}
// Write only what differs, so an unchanged poll touches nothing in the DOM.
export function setText(e, text) {
  if (e.textContent !== String(text)) e.textContent = text;
}
export function setAttr(e, k, v) {
  if (e.getAttribute(k) !== String(v)) e.setAttribute(k, v);
}
// True when `data` differs from what was drawn last under (element, key): redraw only then.
const drawn = new WeakMap();
export function changed(e, key, data) {
  const sig = JSON.stringify(data);
  const m = drawn.get(e) || {};
  drawn.set(e, m);
  if (m[key] === sig) return false;
  m[key] = sig;
  return true;
}
// A table: header texts, then rows of cells; a cell is a text/number/node or [content, attrs].
export function table(cls, head, rows) {
  const cell = (c) => (Array.isArray(c) ? el('td', c[1], ...[].concat(c[0])) : el('td', {}, c ?? '–'));
  return el('div', { class: 'table-wrap' }, el('table', { class: cls },
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, ...rows.map((r) => el('tr', r.attrs, ...r.cells.map(cell))))));
}
export const numCell = (v) => [v == null ? '–' : v, { class: 'num' }];
const pad = (n) => String(n).padStart(2, '0');
export function clock(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
export function dur(ms) {
  if (ms < 1000) return Math.round(ms) + 'ms';
  const s = Math.round(ms / 1000);
  if (s < 60) return s + 's';
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return (h ? h + ':' + pad(m) : m) + ':' + pad(s % 60);
}
export function num(v) {
  if (v == null || !isFinite(v)) return '–';
  return Math.abs(v) >= 100 ? String(Math.round(v)) : v.toFixed(Math.abs(v) >= 10 ? 1 : 2);
}
export const millis = (v) =>
  (v == null ? '–' : (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v)) + ' ms');
export const pct = (f) => (f == null ? '–' : (f * 100).toFixed(2) + '%');
export const list = (reply, key) => (reply && Array.isArray(reply[key]) ? reply[key] : []);
// The y axis ends at a round number: 1, 2, 2.5 or 5 times a power of ten.
export function niceMax(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  return [1, 2, 2.5, 5, 10].find((m) => m * p >= v - 1e-9) * p;
}
let uids = 0;
export const uid = (p) => `${p}-${++uids}`;
export const $ = (id) => document.getElementById(id);

// The dashboard's actions: the admin token (kept in sessionStorage, taken from #token=… or the
// unlock form), the lock in the page's header, and each rollout's buttons and set-weight form,
// which POST to /dashboard/action. The shared view state `ui` (mode, lockNote, routes) comes
// from dashboard.js as an argument.
import { el, setText, setAttr, changed, $ } from '/dashboard/dom.js';

const ACTION_URL = '/dashboard/action';
const TOKEN_KEY = 'weir-dashboard-token';
// The phases each action makes sense in (weir refuses the others anyway, with a 409).
const ACTIONS = { promote: ['Progressing', 'Paused'], pause: ['Progressing'], resume: ['Paused'],
  abort: ['Progressing', 'Paused'] };

// --- the token: sessionStorage, set from #token=… or the unlock form -----------------------

export const token = {
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
export function takeTokenFromFragment() {
  const m = /^#token=(.+)$/.exec(location.hash);
  if (!m) return;
  try { token.set(decodeURIComponent(m[1])); } catch (e) { token.set(m[1]); }
  history.replaceState(null, '', location.pathname + location.search);
}

// --- the actions lock ------------------------------------------------------------------------

export function refuseToken(ui, note) {
  token.set('');
  ui.lockNote = note;
}
export function drawLock(ui, actions, tokenUsed) {
  if (actions.problem) {
    // weir cannot read its token file for now: the token is not wrong, so it is kept.
    ui.lockNote = actions.problem;
  } else if (actions.enabled && !actions.authorized && tokenUsed) {
    // The token in use (typed, from the URL or from before) is wrong: forget it, say so.
    refuseToken(ui, 'token refused');
  }
  if (actions.authorized) ui.lockNote = '';
  setMode(ui, !actions.enabled ? 'off' : actions.authorized ? 'on' : 'locked');
}
export function setMode(ui, mode) {
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
      relock.addEventListener('click', () => { refuseToken(ui, ''); setMode(ui, 'locked'); });
      $('lock').append(relock);
    }
  }
  for (const v of ui.routes.values()) if (v.hasPlan && v.data) drawActions(ui, v);
}

// --- actions ---------------------------------------------------------------------------------

export function drawActions(ui, v) {
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
  if (backendsChanged || !v.buttons || !v.actions.contains(v.buttons[0])) buildActions(ui, v, backends);
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
    // Raw weights, as `set weight` takes them: a Set with nothing changed changes nothing.
    const value = String(b.weight ?? 0);
    if (input.value !== value) input.value = value;
  }
}
function buildActions(ui, v, backends) {
  const name = v.name;
  v.buttons = Object.keys(ACTIONS).map((a) => {
    const label = a[0].toUpperCase() + a.slice(1);
    const b = el('button', { type: 'button', class: 'btn-' + a, 'data-action': a, 'data-route': name,
      'aria-label': `${label} ${name}`, text: label });
    b.addEventListener('click', () => {
      if (a === 'abort' && !confirm(`Abort the rollout of ${name}? Traffic goes back to the stable version.`)) return;
      act(ui, v, { action: a, route: name }, label);
    });
    return b;
  });
  const force = el('input', { type: 'checkbox', name: 'force' });
  v.weightForm = el('form', { class: 'set-weight', 'data-route': name },
    el('span', { class: 'sw-title', text: 'Set weights' }),
    ...backends.map((b) => {
      const input = el('input', { type: 'number', name: b.service, min: 0, max: 1000000, step: 1, required: true });
      input.addEventListener('input', () => { input.dataset.dirty = '1'; });
      return el('label', { class: 'sw-field' }, el('span', { text: b.service }), input);
    }),
    el('label', { class: 'sw-force' }, force, ' force (pauses a running rollout)'),
    el('button', { type: 'submit', 'aria-label': `Set weights of ${name}`, text: 'Set' }));
  v.weightForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const weights = {};
    for (const b of backends) weights[b.service] = Number(v.weightForm.elements.namedItem(b.service).value);
    const body = { action: 'set_weight', route: name, weights, force: force.checked };
    if (!(await act(ui, v, body, 'Set weights'))) return;
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
async function act(ui, v, body, label) {
  const t = token.get();
  const headers = { 'Content-Type': 'application/json' };
  if (t) headers.Authorization = 'Bearer ' + t;
  v.busy = true;
  drawActions(ui, v);
  showResult(v, 'pending', label + '…');
  let ok = false;
  try {
    const res = await fetch(ACTION_URL, { method: 'POST', cache: 'no-store', headers, body: JSON.stringify(body) });
    const reply = await res.json().catch(() => null);
    const error = (reply && reply.error) || 'HTTP ' + res.status;
    if (res.status === 403) {
      // The token is wrong, or weir's changed (kept when weir only cannot read its file now):
      // back to the unlock form.
      if (/cannot be read/.test(error)) ui.lockNote = error;
      else refuseToken(ui, 'token refused: ' + error);
      v.busy = false;
      setMode(ui, 'locked');
      return false;
    }
    ok = res.ok && !!reply && reply.ok === true;
    showResult(v, ok ? 'ok' : 'error', ok ? `${label}: done` : `${label} refused: ${error}`);
  } catch (e) {
    showResult(v, 'error', `${label}: no answer from weir`);
  }
  v.busy = false;
  drawActions(ui, v);
  return ok;
}

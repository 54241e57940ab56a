/* SPDX-License-Identifier: Apache-2.0 */
// Small helpers shared by the pages: building elements, talking to the
// console's API, event streams, the confirmation dialog, formatting.

// h('tag.class', {attr: value, onclick: fn}, children...): an element.
// Text is always set as text, never parsed as HTML.
export function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag || 'div');
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const session = { token: '', write: false, zk: '', root: '', user: null };

export async function loadSession() {
  Object.assign(session, await getJSON('/api/session'));
  return session;
}

export async function getJSON(url) {
  const r = await fetch(url, { headers: { Accept: 'application/json' } });
  const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

// A write: JSON body, the session's CSRF token.
export async function postJSON(url, data) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': session.token },
    body: JSON.stringify(data),
  });
  const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

export function q(params) {
  return new URLSearchParams(params).toString();
}

// Follows an event stream; handlers maps event names to functions of the
// parsed data. Returns a function that closes it.
export function stream(url, handlers) {
  const es = new EventSource(url);
  for (const [name, fn] of Object.entries(handlers)) {
    es.addEventListener(name, (e) => fn(JSON.parse(e.data)));
  }
  es.onopen = () => setConn(true);
  es.onerror = () => setConn(false);
  return () => es.close();
}

function setConn(ok) {
  const el = document.getElementById('conn');
  el.dataset.ok = ok ? '1' : '0';
  el.textContent = (ok ? 'live' : 'reconnecting…') + (session.write ? ' · read-write' : ' · read-only');
}

// Asks before a change. Resolves true when confirmed.
export function confirmAction(title, text, okLabel) {
  const dlg = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  const ok = document.getElementById('confirm-ok');
  ok.textContent = okLabel;
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true });
    dlg.returnValue = '';
    dlg.showModal();
    document.getElementById('confirm-cancel').focus();
  });
}

let toastTimer = 0;
export function toast(message, kind) {
  const el = document.getElementById('toast');
  el.textContent = message;
  el.dataset.kind = kind || 'error';
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, kind === 'ok' ? 4000 : 15000);
}

export function fmtTime(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function fmtAgo(ms) {
  if (!ms) return '';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

// JSON with keys sorted and two-space indentation: the form diffs compare.
export function prettyJSON(v) {
  const sort = (x) => {
    if (Array.isArray(x)) return x.map(sort);
    if (x && typeof x === 'object') {
      const o = {};
      for (const k of Object.keys(x).sort()) o[k] = sort(x[k]);
      return o;
    }
    return x;
  };
  return JSON.stringify(sort(v), null, 2);
}

export function heading(text, ...extra) {
  return h('div.pagehead', {}, h('h1', { text }), ...extra);
}

// Debounces fn to the next animation frame.
export function onFrame(fn) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; fn(); });
  };
}

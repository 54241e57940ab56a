/* SPDX-License-Identifier: Apache-2.0 */
// Configuration: the apps with their current version; one app's history
// (who, when, message), a side-by-side diff of any two versions, rollback
// (with --write: confirmed, compare-and-set against the version shown) and
// its lock state. Live: a publish from anywhere shows up at once.
import { h, heading, stream, session, getJSON, postJSON, confirmAction, toast, fmtTime, fmtAgo, prettyJSON, q } from './util.js';
import { sideBySide } from './diff.js';

export function render(main, app) {
  return app ? renderApp(main, app) : renderList(main);
}

function renderList(main) {
  const filter = h('input', { type: 'search', id: 'app-filter', autocomplete: 'off' });
  const body = h('tbody');
  let apps = [];
  main.append(heading('Configuration'),
    h('div.toolbar', {}, h('label', { for: 'app-filter', text: 'Filter' }), filter),
    h('div.scrollx', {}, h('table.grid', { id: 'apps' },
      h('caption.sr', { text: 'Configuration apps' }),
      h('thead', {}, h('tr', {}, ['App', 'Version', 'Published', 'Author'].map((t) => h('th', { scope: 'col', text: t })))),
      body)));
  const draw = () => {
    const f = filter.value.trim().toLowerCase();
    body.replaceChildren(...apps.filter((a) => !f || a.name.toLowerCase().includes(f)).map((a) =>
      h('tr', { 'data-app': a.name },
        h('th', { scope: 'row' }, h('a', { href: `#/config/${encodeURIComponent(a.name)}`, text: a.name })),
        h('td.num', { text: a.version < 0 ? 'unreadable' : a.version }),
        h('td', { text: `${fmtTime(a.time)} (${fmtAgo(a.time)})` }),
        h('td', { text: a.author }))));
    if (!apps.length) body.append(h('tr', {}, h('td', { colspan: 4, text: 'No app was ever published.' })));
  };
  filter.addEventListener('input', draw);
  return stream('/api/events/apps', { apps: (d) => { apps = d.apps; draw(); } });
}

function renderApp(main, app) {
  let detail = null;
  let left = null, right = null; // versions compared; null: follow the latest
  const docs = new Map(); // version -> pretty text
  const lock = h('p', { id: 'lock' });
  const current = h('p', { id: 'current' });
  const histBody = h('tbody');
  const selL = h('select', { id: 'diff-left' }), selR = h('select', { id: 'diff-right' });
  const diffBox = h('div.diff', { id: 'diff', 'aria-live': 'polite' });
  main.append(
    heading(app, h('a.back', { href: '#/config', text: '← all apps' })),
    h('div.facts', {}, current, lock),
    h('h2', { text: 'History' }),
    h('div.scrollx', {}, h('table.grid', { id: 'history' },
      h('caption.sr', { text: `Versions of ${app}` }),
      h('thead', {}, h('tr', {}, ['Version', 'When', 'Who', 'Message', 'Checksum', ...(session.write ? ['Action'] : [])]
        .map((t) => h('th', { scope: 'col', text: t })))),
      histBody)),
    h('h2', { text: 'Compare versions' }),
    h('div.toolbar', {}, h('label', { for: 'diff-left', text: 'Left' }), selL,
      h('label', { for: 'diff-right', text: 'Right' }), selR),
    diffBox);
  selL.addEventListener('change', () => { left = +selL.value; drawDiff(); });
  selR.addEventListener('change', () => { right = +selR.value; drawDiff(); });

  async function doc(v) {
    if (!docs.has(v)) {
      const d = await getJSON(`/api/config/version?${q({ name: app, version: v })}`);
      docs.set(v, prettyJSON(d.document));
    }
    return docs.get(v);
  }

  let drawing = 0;
  async function drawDiff() {
    const hist = detail.history;
    if (!hist.length) return;
    const latest = hist[hist.length - 1].version;
    const l = left ?? (hist.length > 1 ? hist[hist.length - 2].version : latest), r = right ?? latest;
    selL.value = l; selR.value = r;
    const ticket = ++drawing;
    let a, b;
    try {
      [a, b] = await Promise.all([doc(l), doc(r)]);
    } catch (e) {
      diffBox.replaceChildren(h('p.error', { text: e.message }));
      return;
    }
    if (ticket !== drawing) return;
    const A = a.split('\n'), B = b.split('\n');
    const rows = sideBySide(A, B);
    const changed = rows.filter((x) => x.kind === 'change').length;
    const tbody = h('tbody');
    for (const row of rows) {
      const cls = row.kind === 'same' ? 'same' : 'change';
      tbody.append(h('tr', { class: cls },
        h('td.ln', { text: row.l === undefined ? '' : row.l + 1 }),
        h('td', { class: row.kind === 'same' ? 'code' : row.l === undefined ? 'code none' : 'code del', text: row.l === undefined ? '' : A[row.l] }),
        h('td.ln', { text: row.r === undefined ? '' : row.r + 1 }),
        h('td', { class: row.kind === 'same' ? 'code' : row.r === undefined ? 'code none' : 'code add', text: row.r === undefined ? '' : B[row.r] })));
    }
    diffBox.replaceChildren(
      h('p.muted', { role: 'status', text: changed ? `version ${l} → ${r}: ${changed} changed line${changed === 1 ? '' : 's'}` : `versions ${l} and ${r} are the same` }),
      h('div.scrollx', {}, h('table.difftable', {},
        h('caption.sr', { text: `Version ${l} beside version ${r}` }),
        h('colgroup', {}, h('col.lncol'), h('col'), h('col.lncol'), h('col')),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', colspan: 2, text: `version ${l}` }), h('th', { scope: 'col', colspan: 2, text: `version ${r}` }))),
        tbody)));
  }

  async function rollback(v) {
    const cur = detail.current;
    const ok = await confirmAction(`Roll ${app} back to version ${v}?`,
      `Publishes the content of version ${v} of ${app} as a new version, on top of version ${cur} (refused if someone publishes meanwhile).`,
      `Roll back to ${v}`);
    if (!ok) return;
    try {
      const r = await postJSON('/api/config/rollback', { app, version: v, ifVersion: cur });
      toast(`${app}: version ${r.version} published with the content of version ${v}`, 'ok');
    } catch (e) {
      toast(e.message);
    }
  }

  function draw() {
    const hist = detail.history;
    current.textContent = `Current version: ${detail.current}`;
    current.dataset.version = detail.current;
    const lk = detail.lock || {};
    lock.textContent = lk.locked === undefined ? 'Lock: unknown (ACL unreadable)'
      : lk.locked ? `Locked: only ${lk.writers.join(', ') || 'nobody'} may publish` : 'Not locked: every client may publish';
    lock.className = lk.locked ? 'locked' : '';
    histBody.replaceChildren(...hist.slice().reverse().map((m) => h('tr', { 'data-version': m.version },
      h('th.num', { scope: 'row', text: m.version }),
      h('td', { text: fmtTime(m.time), title: fmtAgo(m.time) }),
      h('td', { text: m.author }),
      h('td', { text: m.message }),
      h('td.code', { text: m.checksum.replace(/^sha256:/, '').slice(0, 12), title: m.checksum }),
      session.write ? h('td', {}, m.version === detail.current ? h('span.muted', { text: 'current' })
        : h('button.small', { type: 'button', 'data-action': 'rollback', 'aria-label': `Roll back to version ${m.version}`,
          text: 'Roll back', onclick: () => rollback(m.version) })) : null)));
    const opts = () => hist.slice().reverse().map((m) => h('option', { value: m.version, text: `version ${m.version}` }));
    selL.replaceChildren(...opts());
    selR.replaceChildren(...opts());
    drawDiff();
  }

  return stream(`/api/events/app?name=${encodeURIComponent(app)}`, {
    app: (d) => { detail = d; draw(); },
    failed: (d) => { main.querySelector('#history tbody').replaceChildren(h('tr', {}, h('td', { colspan: 6, class: 'error', text: d.error }))); },
  });
}

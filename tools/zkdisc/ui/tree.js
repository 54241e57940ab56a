/* SPDX-License-Identifier: Apache-2.0 */
// Tree: a lazy, keyboard-driven browser of any path; the selected node's
// data (pretty JSON, text or a hex dump), Stat and ACL, live; search by name
// (a glob or a part of it) and by content, as find and grep do.
import { h, heading, stream, getJSON, q } from './util.js';

function join(parent, name) {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

function bytesOf(node) {
  if (node.data === null) return new Uint8Array();
  if (node.encoding === 'base64') return Uint8Array.from(atob(node.data), (c) => c.charCodeAt(0));
  return new TextEncoder().encode(node.data);
}

function hexDump(bytes) {
  const lines = [];
  for (let off = 0; off < bytes.length; off += 16) {
    const row = bytes.slice(off, off + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ').padEnd(47);
    const asc = [...row].map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${off.toString(16).padStart(8, '0')}  ${hex}  |${asc}|`);
  }
  return lines.join('\n') || '(no data)';
}

export function render(main, start) {
  let selected = null, closeNode = null;
  const treeEl = h('ul.tree', { role: 'tree', 'aria-label': 'ZooKeeper tree' });
  const detail = h('section.detail', { 'aria-label': 'Selected node', id: 'node' });
  const under = h('input', { id: 's-path', value: start || '/', autocomplete: 'off' });
  const name = h('input', { id: 's-name', placeholder: 'instance-*  or a part of it', autocomplete: 'off' });
  const content = h('input', { id: 's-content', placeholder: 'text in the data', autocomplete: 'off' });
  const results = h('div', { id: 'search-results', 'aria-live': 'polite' });
  const form = h('form.search', { role: 'search', onsubmit: (e) => { e.preventDefault(); search(); } },
    h('div.field', {}, h('label', { for: 's-path', text: 'Under' }), under),
    h('div.field', {}, h('label', { for: 's-name', text: 'Name' }), name),
    h('div.field', {}, h('label', { for: 's-content', text: 'Content' }), content),
    h('button', { type: 'submit', id: 's-go', text: 'Search' }));
  main.append(heading('Tree'), form, results,
    h('div.panes', {}, h('div.treepane', {}, treeEl), detail));

  async function search() {
    results.replaceChildren(h('p.muted', { text: 'Searching…' }));
    try {
      const r = await getJSON(`/api/tree/search?${q({ path: under.value || '/', name: name.value, content: content.value })}`);
      results.replaceChildren(
        h('p.muted', { role: 'status', text: `${r.hits.length}${r.truncated ? '+' : ''} found among ${r.visited} nodes` }),
        h('ul.hits', {}, r.hits.map((x) => h('li', {}, h('a', { href: '#', 'data-path': x.path, text: x.path,
          onclick: (e) => { e.preventDefault(); reveal(x.path); } })))));
    } catch (e) {
      results.replaceChildren(h('p.error', { role: 'alert', text: e.message }));
    }
  }

  // One tree item; children are listed when it is first expanded.
  function item(path, label, level, info) {
    const li = h('li', { role: 'treeitem', 'aria-level': level, 'aria-selected': 'false', tabindex: -1, 'data-path': path });
    const has = !info || info.children > 0;
    if (has) li.setAttribute('aria-expanded', 'false');
    const lab = h('span.label', {}, h('span.twisty', { 'aria-hidden': 'true', text: has ? '▸' : ' ' }),
      h('span', { text: label }), info && info.ephemeral ? h('span.tag', { text: 'ephemeral' }) : null,
      info && info.children ? h('span.muted', { text: ` ${info.children}` }) : null);
    li.append(lab);
    lab.addEventListener('click', (e) => { e.stopPropagation(); select(li); if (has) toggle(li); });
    return li;
  }

  async function load(li) {
    const path = li.dataset.path;
    const group = h('ul', { role: 'group' });
    try {
      const r = await getJSON(`/api/tree/children?${q({ path })}`);
      const level = +li.getAttribute('aria-level') + 1;
      for (const c of r.children) group.append(item(join(path, c.name), c.name, level, c));
    } catch (e) {
      group.append(h('li.error', { text: e.message }));
    }
    li.querySelector(':scope > ul')?.remove();
    li.append(group);
  }

  async function expand(li) {
    if (!li.hasAttribute('aria-expanded')) return;
    if (!li.querySelector(':scope > ul')) await load(li);
    li.setAttribute('aria-expanded', 'true');
    li.querySelector(':scope > .label .twisty').textContent = '▾';
  }
  function collapse(li) {
    if (li.getAttribute('aria-expanded') !== 'true') return;
    li.setAttribute('aria-expanded', 'false');
    li.querySelector(':scope > .label .twisty').textContent = '▸';
  }
  function toggle(li) {
    if (li.getAttribute('aria-expanded') === 'true') collapse(li); else expand(li);
  }

  function visible() {
    return [...treeEl.querySelectorAll('[role=treeitem]')].filter((li) => {
      for (let p = li.parentElement.closest('[role=treeitem]'); p; p = p.parentElement.closest('[role=treeitem]'))
        if (p.getAttribute('aria-expanded') !== 'true') return false;
      return true;
    });
  }

  function focusItem(li) {
    for (const x of treeEl.querySelectorAll('[tabindex="0"]')) x.tabIndex = -1;
    li.tabIndex = 0;
    li.focus();
  }

  treeEl.addEventListener('keydown', (e) => {
    const li = e.target.closest('[role=treeitem]');
    if (!li) return;
    const items = visible(), k = items.indexOf(li);
    const key = e.key;
    if (key === 'ArrowDown' && k + 1 < items.length) focusItem(items[k + 1]);
    else if (key === 'ArrowUp' && k > 0) focusItem(items[k - 1]);
    else if (key === 'Home') focusItem(items[0]);
    else if (key === 'End') focusItem(items[items.length - 1]);
    else if (key === 'ArrowRight') {
      if (li.getAttribute('aria-expanded') === 'false') expand(li);
      else if (li.getAttribute('aria-expanded') === 'true') { const c = li.querySelector(':scope > ul > [role=treeitem]'); if (c) focusItem(c); }
    } else if (key === 'ArrowLeft') {
      if (li.getAttribute('aria-expanded') === 'true') collapse(li);
      else { const p = li.parentElement.closest('[role=treeitem]'); if (p) focusItem(p); }
    } else if (key === 'Enter' || key === ' ') select(li);
    else return;
    e.preventDefault();
  });

  async function showNode(path) {
    let node;
    try {
      node = await getJSON(`/api/tree/node?${q({ path })}`);
    } catch (e) {
      detail.replaceChildren(h('h2', { text: path }), h('p.error', { role: 'alert', text: e.message }));
      return;
    }
    if (selected?.dataset.path !== path) return;
    const bytes = bytesOf(node);
    let parsed;
    try { parsed = node.encoding === 'utf-8' ? JSON.parse(node.data) : undefined; } catch { parsed = undefined; }
    const views = [];
    if (parsed !== undefined) views.push(['json', 'JSON', JSON.stringify(parsed, null, 2)]);
    if (node.encoding === 'utf-8') views.push(['text', 'Text', node.data]);
    views.push(['hex', 'Hex', hexDump(bytes)]);
    const pre = h('pre.data', { id: 'node-data', tabindex: 0, 'aria-label': 'Node data' });
    const tabs = h('div.seg', { role: 'radiogroup', 'aria-label': 'Show data as' });
    const show = (v) => {
      pre.textContent = v[2];
      pre.dataset.view = v[0];
      for (const b of tabs.children) b.setAttribute('aria-checked', b.dataset.view === v[0] ? 'true' : 'false');
    };
    for (const v of views) tabs.append(h('button', { type: 'button', role: 'radio', 'data-view': v[0], text: v[1], onclick: () => show(v) }));
    show(views[0]);
    const st = node.stat;
    const stat = h('dl.stat', {}, Object.entries(st).flatMap(([k, v]) => [h('dt', { text: k }),
      h('dd', { text: v })]));
    const acl = h('table.grid', {}, h('caption.sr', { text: 'ACL' }),
      h('thead', {}, h('tr', {}, ['Scheme', 'Id', 'Permissions'].map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, node.acl.map((a) => h('tr', {}, h('td', { text: a.scheme }), h('td.code', { text: a.id }), h('td', { text: a.perms })))));
    detail.replaceChildren(h('h2', { text: path }),
      h('p.muted', { text: node.data === null ? 'no data' : `${bytes.length} bytes` }),
      tabs, pre, h('h3', { text: 'Stat' }), stat, h('h3', { text: 'ACL' }), h('div.scrollx', {}, acl));
  }

  function select(li) {
    if (selected) selected.setAttribute('aria-selected', 'false');
    selected = li;
    li.setAttribute('aria-selected', 'true');
    focusItem(li);
    const path = li.dataset.path;
    history.replaceState(null, '', `#/tree${path === '/' ? '' : path}`);
    if (closeNode) closeNode();
    showNode(path);
    // Live: the node's data or children change -> read them again.
    closeNode = stream(`/api/events/node?${q({ path })}`, {
      changed: () => {
        showNode(path);
        if (li.getAttribute('aria-expanded') === 'true') load(li);
      },
    });
  }

  // Expands the tree down to `path` and selects it.
  async function reveal(path) {
    let li = treeEl.firstElementChild;
    const parts = path.split('/').filter(Boolean);
    let cur = '/';
    for (const p of parts) {
      await expand(li);
      cur = join(cur, p);
      const next = [...li.querySelectorAll(':scope > ul > [role=treeitem]')].find((x) => x.dataset.path === cur);
      if (!next) break;
      li = next;
    }
    select(li);
    li.scrollIntoView({ block: 'nearest' });
  }

  treeEl.append(item('/', '/', 1, null));
  reveal(start || '/');
  return () => { if (closeNode) closeNode(); };
}

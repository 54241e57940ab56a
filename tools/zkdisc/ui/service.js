/* SPDX-License-Identifier: Apache-2.0 */
// A service: its instances, sortable and filterable, live. The table draws
// only the rows in view (virtual scrolling), so 10,000 instances scroll and
// filter as smoothly as ten. With --write each row can be drained or
// undrained, after a confirmation naming the instance.
import { h, heading, stream, session, confirmAction, postJSON, toast, fmtTime, onFrame } from './util.js';

const ROW = 34; // px, fixed: the virtual scroller's arithmetic relies on it

const columns = [
  { key: 'id', label: 'ID' },
  { key: 'znode', label: 'Znode' },
  { key: 'endpoint', label: 'Endpoint' },
  { key: 'zone', label: 'Zone' },
  { key: 'weight', label: 'Weight', num: true },
  { key: 'state', label: 'State' },
  { key: 'metaText', label: 'Metadata' },
  { key: 'registered', label: 'Registered', num: true },
];

// One instance as the table needs it, from a record sent as an array in
// the order of `columns`. The metadata and search texts are made the first
// time they are asked for, and kept (prototype getters: every instance has
// the same shape, which keeps 10,000 of them fast to sort and filter).
class Inst {
  constructor(row, columns) {
    this.znode = ''; this.id = ''; this.endpoint = ''; this.zone = ''; this.version = null;
    this.weight = 0; this.enabled = true; this.registered = 0; this.format = ''; this.payload = null;
    for (let k = 0; k < columns.length; k++) this[columns[k]] = row[k];
    this.zone = this.zone || '';
    this.state = this.enabled ? 'live' : 'drained';
    this.meta_ = undefined;
    this.search_ = undefined;
  }

  get metaText() {
    if (this.meta_ === undefined) {
      const p = this.payload && typeof this.payload === 'object' ? this.payload : {};
      const m = this.format === 'nerve' ? p.labels : p.metadata;
      let t = '';
      if (m && typeof m === 'object')
        for (const k in m) t += `${t ? ', ' : ''}${k}=${typeof m[k] === 'string' ? m[k] : JSON.stringify(m[k])}`;
      this.meta_ = t;
    }
    return this.meta_;
  }

  get search() {
    if (this.search_ === undefined)
      this.search_ = `${this.id}\n${this.znode}\n${this.endpoint}\n${this.zone}\n${this.state}\n${this.version || ''}\n${this.metaText}`.toLowerCase();
    return this.search_;
  }
}

export function render(main, name) {
  const byZnode = new Map();
  let view = [];
  let sortKey = 'id', sortDir = 1;
  let malformed = 0, stale = false;
  const write = session.write;

  const filter = h('input', { type: 'search', id: 'inst-filter', placeholder: 'id, endpoint, zone, state, metadata', autocomplete: 'off' });
  const summary = h('p.muted', { id: 'inst-count', role: 'status' });
  const cols = write ? [...columns, { key: null, label: 'Action' }] : columns;
  const template = 'minmax(9rem,1.4fr) minmax(9rem,1.4fr) minmax(10rem,1.3fr) 6rem 4.5rem 5.5rem minmax(10rem,2fr) 12.5rem' + (write ? ' 7rem' : '');

  const headRow = h('div.vrow.vhead', { role: 'row', 'aria-rowindex': 1 });
  headRow.style.gridTemplateColumns = template;
  const headCells = cols.map((c) => {
    const cell = h('div', { role: 'columnheader', class: c.num ? 'num' : '' });
    if (c.key) {
      cell.append(h('button.sort', { type: 'button', text: c.label, onclick: () => {
        if (sortKey === c.key) sortDir = -sortDir; else { sortKey = c.key; sortDir = 1; }
        recompute();
      } }));
    } else {
      cell.append(h('span', { text: c.label }));
    }
    headRow.append(cell);
    return cell;
  });
  const spacer = h('div.vspace');
  const layer = h('div.vrows', { role: 'rowgroup' });
  const scroller = h('div.vscroll', { tabindex: 0, 'aria-label': `Instances of ${name}, scrollable` }, spacer, layer);
  const table = h('div.vtable', { role: 'table', id: 'instances', 'aria-label': `Instances of ${name}` },
    h('div', { role: 'rowgroup' }, headRow), scroller);
  main.append(
    heading(name, h('a.back', { href: '#/services', text: '← all services' })),
    h('div.toolbar', {}, h('label', { for: 'inst-filter', text: 'Filter' }), filter),
    summary,
    h('div.scrollx', {}, table));

  const pool = [];
  function rowEl(k) {
    if (pool[k]) return pool[k];
    const r = h('div.vrow', { role: 'row' });
    r.style.gridTemplateColumns = template;
    r.cells_ = columns.map((c) => {
      const cell = h('div', { role: 'cell', class: c.num ? 'num' : '' });
      r.append(cell);
      return cell;
    });
    if (write) {
      const b = h('button.small', { type: 'button', onclick: () => act(r.inst_) });
      r.append(h('div', { role: 'cell' }, b));
      r.button_ = b;
    }
    layer.append(r);
    return (pool[k] = r);
  }

  function paint() {
    const top = scroller.scrollTop, height = scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW) - 5);
    const last = Math.min(view.length, Math.ceil((top + height) / ROW) + 5);
    layer.style.transform = `translateY(${first * ROW}px)`;
    let k = 0;
    for (let n = first; n < last; n++, k++) {
      const inst = view[n], r = rowEl(k);
      r.hidden = false;
      r.inst_ = inst;
      r.dataset.znode = inst.znode;
      r.dataset.state = inst.state;
      r.setAttribute('aria-rowindex', n + 2);
      r.cells_[0].textContent = inst.id;
      r.cells_[1].textContent = inst.znode;
      r.cells_[2].textContent = inst.endpoint;
      r.cells_[3].textContent = inst.zone;
      r.cells_[4].textContent = inst.weight;
      r.cells_[5].textContent = inst.state;
      r.cells_[5].className = inst.enabled ? 'live' : 'drained';
      r.cells_[6].textContent = inst.metaText;
      r.cells_[6].title = inst.metaText;
      r.cells_[7].textContent = fmtTime(inst.registered);
      if (write) {
        r.button_.textContent = inst.enabled ? 'Drain' : 'Undrain';
        r.button_.setAttribute('aria-label', `${inst.enabled ? 'Drain' : 'Undrain'} instance ${inst.id}`);
        r.button_.dataset.action = inst.enabled ? 'drain' : 'undrain';
      }
    }
    for (; k < pool.length; k++) pool[k].hidden = true;
  }

  function recompute() {
    const f = filter.value.trim().toLowerCase();
    const all = [...byZnode.values()];
    view = f ? all.filter((i) => i.search.includes(f)) : all;
    const numeric = columns.find((c) => c.key === sortKey)?.num;
    view.sort((a, b) => {
      const x = a[sortKey], y = b[sortKey];
      const c = numeric ? x - y : x < y ? -1 : x > y ? 1 : 0;
      return (c || (a.znode < b.znode ? -1 : a.znode > b.znode ? 1 : 0)) * sortDir;
    });
    headCells.forEach((cell, n) => {
      if (cols[n].key === sortKey) cell.setAttribute('aria-sort', sortDir > 0 ? 'ascending' : 'descending');
      else cell.removeAttribute('aria-sort');
    });
    spacer.style.height = `${view.length * ROW}px`;
    table.setAttribute('aria-rowcount', view.length + 1);
    let live = 0;
    for (const i of byZnode.values()) live += i.enabled ? 1 : 0;
    summary.textContent = `${view.length} of ${byZnode.size} instances shown; ${live} live, ${byZnode.size - live} drained` +
      (malformed ? `, ${malformed} malformed znodes skipped` : '') + (stale ? ' (stale: ZooKeeper unreachable)' : '');
    summary.dataset.total = byZnode.size;
    summary.dataset.shown = view.length;
    paint();
    performance.mark('zkui-painted'); // the browser suite times the page by these marks
  }
  const later = onFrame(recompute);

  async function act(inst) {
    const drain = inst.enabled;
    const verb = drain ? 'Drain' : 'Undrain';
    const ok = await confirmAction(`${verb} ${inst.id}?`,
      drain ? `Drain instance ${inst.id} (znode ${inst.znode}, ${inst.endpoint}) of ${name}: balancers and agents stop sending it traffic until it is undrained.`
            : `Undrain instance ${inst.id} (znode ${inst.znode}, ${inst.endpoint}) of ${name}: it takes traffic again.`,
      verb);
    if (!ok) return;
    try {
      await postJSON('/api/service/drain', { service: name, znode: inst.znode, enabled: !drain });
      toast(`${drain ? 'Drained' : 'Undrained'} ${inst.id}`, 'ok');
    } catch (e) {
      toast(e.message);
    }
  }

  filter.addEventListener('input', later);
  scroller.addEventListener('scroll', onFrame(paint), { passive: true });
  window.addEventListener('resize', later);
  const close = stream(`/api/events/service?name=${encodeURIComponent(name)}`, {
    full: (d) => {
      byZnode.clear();
      for (const r of d.instances) { const i = new Inst(r, d.columns); byZnode.set(i.znode, i); }
      malformed = d.malformed; stale = !!d.stale;
      later();
    },
    delta: (d) => {
      for (const z of d.removed) byZnode.delete(z);
      for (const r of d.set) { const i = new Inst(r, d.columns); byZnode.set(i.znode, i); }
      malformed = d.malformed; stale = !!d.stale;
      later();
    },
  });
  return () => { close(); window.removeEventListener('resize', later); };
}

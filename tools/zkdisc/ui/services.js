/* SPDX-License-Identifier: Apache-2.0 */
// Services: every service with its live, drained and malformed counts and
// its zones, updated live from the console's caches; a filter box.
import { h, heading, stream } from './util.js';

export function render(main) {
  let all = [];
  const filter = h('input', { type: 'search', id: 'svc-filter', placeholder: 'name or zone', autocomplete: 'off' });
  const count = h('p.muted', { id: 'svc-count', role: 'status' });
  const body = h('tbody');
  const table = h('table.grid', { id: 'services' },
    h('caption.sr', { text: 'Services' }),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', text: 'Service' }),
      h('th.num', { scope: 'col', text: 'Live' }),
      h('th.num', { scope: 'col', text: 'Drained' }),
      h('th.num', { scope: 'col', text: 'Malformed' }),
      h('th', { scope: 'col', text: 'Zones' }))),
    body);
  main.append(
    heading('Services'),
    h('div.toolbar', {}, h('label', { for: 'svc-filter', text: 'Filter' }), filter),
    count,
    h('div.scrollx', {}, table));

  const draw = () => {
    const f = filter.value.trim().toLowerCase();
    const shown = all.filter((s) => !f || s.name.toLowerCase().includes(f) ||
      s.zones.some((z) => z.toLowerCase().includes(f)));
    body.replaceChildren(...shown.map((s) => h('tr', { 'data-service': s.name },
      h('th', { scope: 'row' }, h('a', { href: `#/service/${encodeURIComponent(s.name)}`, text: s.name }),
        s.stale ? h('span.badge.warn', { text: 'stale', title: 'ZooKeeper unreachable: last known state' }) : null),
      h('td.num.live', { text: s.live }),
      h('td.num', { text: s.drained, class: s.drained ? 'num drained' : 'num' }),
      h('td.num', { text: s.malformed, class: s.malformed ? 'num bad' : 'num' }),
      h('td', {}, [...s.zones].sort().map((z) => h('span.tag', { text: z }))))));
    const live = all.reduce((n, s) => n + s.live, 0);
    count.textContent = `${shown.length} of ${all.length} services, ${live} live instances`;
  };
  filter.addEventListener('input', draw);
  return stream('/api/events/services', {
    services: (d) => { all = d.services; draw(); },
  });
}

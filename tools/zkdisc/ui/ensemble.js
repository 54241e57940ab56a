/* SPDX-License-Identifier: Apache-2.0 */
// Ensemble: every server of the connect string, probed with the four-letter
// words every 2 s while the page is open (what zkdisc health shows).
import { h, heading, stream } from './util.js';

const num = (v, digits) => (v === undefined ? '–' : digits === undefined ? String(v) : v.toFixed(digits));

export function render(main) {
  const quorum = h('p', { id: 'quorum', role: 'status' });
  const body = h('tbody');
  main.append(heading('Ensemble'), quorum,
    h('div.scrollx', {}, h('table.grid', { id: 'servers' },
      h('caption.sr', { text: 'ZooKeeper servers' }),
      h('thead', {}, h('tr', {}, ['Server', 'Mode', 'Zxid', 'RTT ms', 'Avg latency ms', 'Max latency ms', 'Connections', 'Znodes', 'Watches', 'Queue', 'Version']
        .map((t, i) => h('th', { scope: 'col', class: i > 2 && i < 10 ? 'num' : '', text: t })))),
      body)));
  return stream('/api/events/ensemble', {
    ensemble: (d) => {
      const qd = d.quorum;
      quorum.textContent = `${d.healthy ? 'Healthy' : 'Unhealthy'}: quorum ${qd.ok ? 'ok' : 'LOST'} (${qd.voting} of ${qd.members} voting members serving, ${qd.needed} needed)` +
        (qd.leader ? `; leader ${qd.leader}` : '');
      quorum.className = d.healthy ? 'ok' : 'bad';
      body.replaceChildren(...d.servers.map((s) => h('tr', { 'data-server': s.server },
        h('th', { scope: 'row', text: s.server }),
        h('td', { class: s.ok ? 'live' : 'bad', text: s.mode }),
        h('td.code', { text: s.zxid || '–' }),
        h('td.num', { text: num(s.rttMs, 1) }),
        h('td.num', { text: num(s.avgLatencyMs, 1) }),
        h('td.num', { text: num(s.maxLatencyMs, 1) }),
        h('td.num', { text: num(s.connections) }),
        h('td.num', { text: num(s.znodes) }),
        h('td.num', { text: num(s.watches) }),
        h('td.num', { text: num(s.outstanding) }),
        h('td', { text: s.error ? s.error : (s.version || '') }))));
    },
    failed: (d) => { quorum.textContent = d.error; },
  });
}

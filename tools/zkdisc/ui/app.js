/* SPDX-License-Identifier: Apache-2.0 */
// The console's entry point: loads the session, routes #/page/... to the
// page modules, each of which returns a function that stops its streams.
import { h, loadSession, session } from './util.js';
import * as services from './services.js';
import * as service from './service.js';
import * as config from './config.js';
import * as tree from './tree.js';
import * as ensemble from './ensemble.js';

const routes = [
  [/^#\/services\/?$/, services, 'services'],
  [/^#\/service\/(.+)$/, service, 'services'],
  [/^#\/config\/?$/, config, 'config'],
  [/^#\/config\/(.+)$/, config, 'config'],
  [/^#\/tree(\/.*)?$/, tree, 'tree'],
  [/^#\/ensemble\/?$/, ensemble, 'ensemble'],
];

let stop = null;

function route() {
  const hash = location.hash || '#/services';
  performance.mark('zkui-route');
  if (stop) { stop(); stop = null; }
  document.getElementById('toast').hidden = true; /* a message belongs to the page it came from */
  const main = document.getElementById('main');
  main.replaceChildren();
  for (const [re, mod, nav] of routes) {
    const m = hash.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll('nav a')) {
      if (a.dataset.page === nav) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    const arg = m[1] ? decodeURIComponent(m[1]) : undefined;
    stop = mod.render(main, arg) || null;
    return;
  }
  main.append(h('p', { text: `No page ${hash}.` }));
}

async function start() {
  try {
    await loadSession();
  } catch (e) {
    document.getElementById('main').append(h('p.error', { role: 'alert', text: `Cannot reach the console: ${e.message}` }));
    return;
  }
  document.body.dataset.write = session.write ? '1' : '0';
  const conn = document.getElementById('conn');
  conn.textContent = session.write ? 'read-write' : 'read-only';
  conn.title = `ZooKeeper ${session.zk}, root ${session.root}` + (session.user ? `, as ${session.user}` : '');
  window.addEventListener('hashchange', () => {
    route();
    document.getElementById('main').focus({ preventScroll: true });
  });
  route();
}

start();

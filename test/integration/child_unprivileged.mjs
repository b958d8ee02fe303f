// Child of unprivileged.test.ts (issue 11): started as `nobody` (setpriv, no capabilities) inside a
// test namespace, which is then this process's own namespace. Reads it through the library and
// through `ip -j` (same user, same namespace), tries each kind of write, prints one JSON line.
//   node child_unprivileged.mjs NAME_FOR_A_NAMESPACE_THAT_MUST_NOT_APPEAR
import { execFileSync } from 'node:child_process';

const dist = (p) => import(new URL(`../../dist/lib/${p}`, import.meta.url).href);
const { Netns } = await dist('index.js');
const { ipView, libView } = await dist('format/link_views.js');
const { canonical, ipAddrInfos, ipAddrView, ipNeighView, ipRouteView, stripIpRoute } = await dist('format/ip_views.js');

const ipj = (...args) => {
  const out = execFileSync('ip', ['-j', ...args], { encoding: 'utf8' });
  return out.trim() ? JSON.parse(out) : [];
};
const ns = await Netns.current();
const uid = process.getuid();

const links = await ns.links.list();
const ipLinks = ipj('-d', '-s', 'link', 'show');
const names = new Map(ipLinks.map((l) => [l.ifindex, l.ifname]));
const wanted = new Map(ipLinks.map((l) => [l.ifname, ipView(l, names)]));
const addresses = await ns.addresses.list();
const routes = await ns.routes.list();
const neighbours = await ns.neighbours.list();
const forward = await ns.sysctl.get('net.ipv4.ip_forward');

const reads = {
  links: [canonical(links.map((l) => libView(l, wanted.get(l.name) ?? { index: -1 }, names))), canonical([...wanted.values()])],
  addresses: [canonical(addresses.map(ipAddrView)), canonical(ipAddrInfos(ipj('address', 'show')))],
  routes: [routes.map((r) => ipRouteView(r, false)), [...stripIpRoute(ipj('route', 'show')), ...stripIpRoute(ipj('-6', 'route', 'show'))]],
  neighbours: [canonical(neighbours.map(ipNeighView)), canonical(ipj('neigh', 'show', 'nud', 'all'))],
  sysctl: [forward, execFileSync('sysctl', ['-n', 'net.ipv4.ip_forward'], { encoding: 'utf8' }).trim()],
};

const writes = {};
const attempt = async (what, f) => {
  try {
    await f();
    writes[what] = { ok: true };
  } catch (e) {
    writes[what] = { name: e.name, code: e.code, message: e.message };
  }
};
await attempt('link', () => ns.links.add({ kind: 'bridge', name: 'br-nobody' }));
await attempt('address', () => ns.addresses.add('v0', '10.1.0.99/24'));
await attempt('route', () => ns.routes.add({ destination: '10.77.0.0/16', gateway: '10.1.0.2' }));
await attempt('sysctl', () => ns.sysctl.set('net.ipv4.ip_forward', 0));
await attempt('netns', () => Netns.create(process.argv[2]));
await ns.close();
console.log(JSON.stringify({ uid, reads, writes }));

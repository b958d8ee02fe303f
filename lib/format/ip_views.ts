/**
 * Map the library's typed objects to the JSON `ip -j` prints for the same kernel object, so tests
 * compare them with one `toEqual`. The rules are iproute2 6.x's print_addrinfo / print_route /
 * print_neigh: what it leaves out by default is left out here too.
 */
import type { Address } from '../api/address/index.js';
import type { Neighbour } from '../api/neighbour/index.js';
import type { Route } from '../api/route/view.js';

const FOREVER = 4294967295;

/** One entry of `ip -j address show`'s `addr_info`. */
export function ipAddrView(a: Address): Record<string, unknown> {
  const v: Record<string, unknown> = { family: a.family === 4 ? 'inet' : 'inet6', local: a.address, prefixlen: a.prefixLength };
  if (a.peer !== undefined) v.address = a.peer;
  if (a.broadcast !== undefined) v.broadcast = a.broadcast;
  if (a.anycast !== undefined) v.anycast = a.anycast;
  v.scope = String(a.scope);
  for (const f of a.flags) if (f !== 'permanent') v[f] = true;
  if (!a.flags.includes('permanent')) v.dynamic = true;
  if (a.label !== undefined) v.label = a.label;
  if (a.metric !== undefined) v.metric = a.metric;
  v.valid_life_time = a.validLifetime === 'forever' ? FOREVER : a.validLifetime;
  v.preferred_life_time = a.preferredLifetime === 'forever' ? FOREVER : a.preferredLifetime;
  return v;
}

/** The `addr_info` entries `ip -j address show` printed, flattened over links (optionally one link). */
export function ipAddrInfos(ipJson: any[], dev?: string): Record<string, unknown>[] {
  return ipJson.filter((l) => dev === undefined || l.ifname === dev).flatMap((l) => l.addr_info as Record<string, unknown>[]);
}

const TABLE_NAMES: Record<number, string> = { 253: 'default', 254: 'main', 255: 'local' };

/**
 * One entry of `ip -j route show` (`withTable`: as printed when no table filter was given, which
 * adds "table" for routes outside main). Lifetimes-dependent keys (`expires`) and `cache` are not
 * compared.
 */
export function ipRouteView(r: Route, withTable: boolean): Record<string, unknown> {
  const cloned = (r.rawFlags & 0x200) !== 0; // RTM_F_CLONED: answers of `ip route get`
  const v: Record<string, unknown> = {};
  if (r.type !== 'unicast') v.type = r.type;
  v.dst = r.destination;
  if (r.from !== undefined) v.from = r.from;
  if (r.gateway !== undefined) v.gateway = r.gateway;
  if (r.dev !== undefined) v.dev = r.dev;
  if (withTable && r.table !== 254 && r.table !== 0) v.table = TABLE_NAMES[r.table] ?? String(r.table);
  if (!cloned && r.protocol !== 'boot') v.protocol = String(r.protocol);
  if (!cloned && r.scope !== 'global') v.scope = String(r.scope);
  if (r.source !== undefined) v.prefsrc = r.source;
  if (r.metric !== undefined) v.metric = r.metric;
  v.flags = r.flags;
  if (r.mark !== undefined) v.mark = r.mark;
  if (r.iif !== undefined) v.iif = r.iif;
  if (r.uid !== undefined) v.uid = r.uid;
  if (r.metrics !== undefined) {
    const { lock: _lock, ...values } = r.metrics;
    v.metrics = [values];
  }
  if (r.pref !== undefined) v.pref = r.pref;
  if (r.nexthops !== undefined) {
    v.nexthops = r.nexthops.map((nh) => {
      const h: Record<string, unknown> = {};
      if (nh.gateway !== undefined) h.gateway = nh.gateway;
      if (nh.dev !== undefined) h.dev = nh.dev;
      h.weight = nh.weight;
      h.flags = nh.flags;
      return h;
    });
  }
  return v;
}

/** `ip -j route` output without the keys {@link ipRouteView} does not model. */
export function stripIpRoute(ipJson: any[]): Record<string, unknown>[] {
  return ipJson.map(({ cache: _c, expires: _e, ...rest }) => rest);
}

/** One entry of `ip -j neigh show nud all`. */
export function ipNeighView(n: Neighbour): Record<string, unknown> {
  const v: Record<string, unknown> = { dst: n.address, dev: n.dev };
  if (n.lladdr !== undefined) v.lladdr = n.lladdr;
  if (n.router) v.router = null;
  if (n.state !== 'none') v.state = [n.state.toUpperCase()];
  return v;
}

/** JSON with object keys sorted at every level, so equal objects give equal strings. */
function stableJson(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(stableJson).join(',')}]`;
  if (x && typeof x === 'object') {
    return `{${Object.keys(x).sort().map((k) => `${JSON.stringify(k)}:${stableJson((x as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(x) ?? 'undefined';
}

/** A list of plain objects in a canonical order, to compare lists whose order is not meaningful. */
export function canonical(xs: unknown[]): string[] {
  return xs.map(stableJson).sort();
}

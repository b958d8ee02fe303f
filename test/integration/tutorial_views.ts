/**
 * What `ip -j` shows of one namespace of a tutorial topology, normalized so that two builds of the
 * same topology (one by `ip`, one by the library, in differently named namespaces) compare equal:
 * ifindexes, MAC addresses (and the IPv6 link-local addresses derived from them), link-netnsids,
 * bridge ids and timers are dropped; a veth's peer is named as `role/ifname`.
 */
import { canonical } from '../../lib/format/ip_views.js';
import { ipJson, run } from './helpers.js';

/** The real namespace name of each role of one build. */
export type RoleNames = ReadonlyMap<string, string>;

export interface NsView {
  /** `ip -j -d link show`, one entry per link, sorted by name. */
  links: Record<string, any>[];
  /** `ip -j address show`'s addr_info entries with their `dev`, in canonical order. */
  addresses: string[];
  /** `ip -j [-6] route show table all`, in canonical order. */
  routes: string[];
}

/** IPv6 link-local addresses come from the (random) MAC: only their presence is compared. */
const LINK_LOCAL = /^fe80::[0-9a-f:]+$/;
function maskLinkLocal(ip: unknown): unknown {
  return typeof ip === 'string' && LINK_LOCAL.test(ip) ? 'fe80::(from MAC)' : ip;
}

/** Bridge and port data without the values made of MACs or of running timers. */
function scrub(data: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (data === undefined) return undefined;
  return Object.fromEntries(Object.entries(data).filter(([k]) => !/_timer$|^bridge_id$|^root_id$|^designated_(root|bridge)$/.test(k)));
}

/** The role and link name of the other end of a link that `ip -j` shows with link_netnsid/link_index. */
function peerName(names: RoleNames, ns: string, link: Record<string, any>): string {
  const ownRole = [...names].find(([, n]) => n === ns)?.[0];
  if (typeof link.link === 'string') return `${ownRole}/${link.link}`;
  // list-id names ids by opening every pin under /run/netns; other runs' half-deleted namespaces make
  // it complain on stderr, which run() keeps out of the test output.
  const ids = JSON.parse(run('ip', ['-n', ns, '-j', 'netns', 'list-id']) || '[]') as { nsid: number; name?: string }[];
  const peerNs = ids.find((e) => e.nsid === link.link_netnsid)?.name;
  const role = [...names].find(([, n]) => n === peerNs)?.[0];
  if (peerNs === undefined || role === undefined) return `outside the topology (nsid ${link.link_netnsid})`;
  const peer = ipJson<{ ifindex: number; ifname: string }[]>(['link', 'show'], peerNs).find((l) => l.ifindex === link.link_index);
  return `${role}/${peer?.ifname ?? `index ${link.link_index}`}`;
}

function linkView(names: RoleNames, ns: string, l: Record<string, any>): Record<string, any> {
  const { ifindex: _i, address: _a, link: _l, link_index: _li, link_netnsid: _ln, linkinfo, ...rest } = l;
  const v: Record<string, any> = { ...rest, kind: linkinfo?.info_kind ?? null };
  if (linkinfo?.info_data) v.info_data = scrub(linkinfo.info_data);
  if (linkinfo?.info_slave_kind) v.slave_kind = linkinfo.info_slave_kind;
  if (linkinfo?.info_slave_data) v.slave_data = scrub(linkinfo.info_slave_data);
  if (l.link !== undefined || l.link_netnsid !== undefined) v.peer = peerName(names, ns, l);
  return v;
}

/** The normalized `ip -j` view of the namespace playing `role`. */
export function ipView(names: RoleNames, role: string): NsView {
  const ns = names.get(role);
  if (ns === undefined) throw new Error(`no namespace plays ${role}`);
  const links = ipJson<Record<string, any>[]>(['-d', 'link', 'show'], ns)
    .map((l) => linkView(names, ns, l))
    .sort((a, b) => String(a.ifname).localeCompare(String(b.ifname)));
  const addresses = ipJson<{ ifname: string; addr_info: Record<string, unknown>[] }[]>(['address', 'show'], ns)
    .flatMap((l) => l.addr_info.map((a) => ({ dev: l.ifname, ...a, local: maskLinkLocal(a.local) })));
  const routes = [...ipJson<Record<string, unknown>[]>(['route', 'show', 'table', 'all'], ns), ...ipJson<Record<string, unknown>[]>(['-6', 'route', 'show', 'table', 'all'], ns)]
    .map(({ expires: _e, cache: _c, ...r }) => ({ ...r, dst: maskLinkLocal(r.dst) }));
  return { links, addresses: canonical(addresses), routes: canonical(routes) };
}

/** One link of a view, by name. */
export function linkOf(view: NsView, ifname: string): Record<string, any> | undefined {
  return view.links.find((l) => l.ifname === ifname);
}

/** The `a.b.c.d/len` IPv4 addresses `ip -j` shows on a link. */
export function ipv4Of(ns: string, ifname: string): string[] {
  return ipJson<{ addr_info: { family: string; local: string; prefixlen: number }[] }[]>(['address', 'show', 'dev', ifname], ns)
    .flatMap((l) => l.addr_info)
    .filter((a) => a.family === 'inet')
    .map((a) => `${a.local}/${a.prefixlen}`);
}

/** Whether any IPv6 address of the namespace is still doing duplicate address detection. */
export function dadPending(ns: string): boolean {
  return ipJson<{ addr_info?: unknown[] }[]>(['-6', 'address', 'show', 'tentative'], ns).some((l) => (l.addr_info ?? []).length > 0);
}

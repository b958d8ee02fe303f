/**
 * Routes of one namespace (`ip route`).
 * @module
 */
import { NetnsError, ValidationError, isNotFound } from '../../errors.js';
import { NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from '../../netlink/constants.js';
import { formatIp } from '../../netlink/wire_formats.js';
import { AF_INET, AF_INET6, AF_UNSPEC, RTM_DELROUTE, RTM_GETROUTE, RTM_NEWROUTE } from '../../rtnl/constants.js';
import {
  RTM_F_CLONED,
  RTM_F_FIB_MATCH,
  RTM_F_LOOKUP_TABLE,
  decodeRouteMessage,
  encodeRouteBody,
  routeTable,
  type RouteAttrs,
  type RouteMessage,
} from '../../rtnl/route/index.js';
import { PROTOCOLS, ROUTE_TYPES, numberOf, tableId, type RouteProtocol, type RouteTable, type RouteType } from '../../rtnl/route/names.js';
import { familyBits, parseFamily, parseIp, type IpFamily } from '../../validate/ip.js';
import { checkKeys } from '../../validate/options.js';
import { checkInt, checkLinkRef, ifindexOf, linkNames } from '../link/resolve.js';
import type { LinkRef } from '../link/index.js';
import type { NsContext } from '../context.js';
import { checkRoute, encodeRoute, routeLinkRefs, type RouteSpec } from './spec.js';
import { withIndexes } from '../link/index_cache.js';
import { toRoute, type Route } from './view.js';

/** Selects routes for {@link Routes.list}. */
export interface RouteFilter {
  /** Default `'main'`, as `ip route` shows; `'all'` for every table. */
  table?: RouteTable | 'all';
  family?: IpFamily | 'inet' | 'inet6';
  /** Only routes leaving through this link (single-path `dev`, or any next hop's). */
  dev?: LinkRef;
  type?: RouteType;
  protocol?: RouteProtocol;
}

/** Options of {@link Routes.get}. */
export interface RouteLookupOptions {
  /** Source address of the packet (`ip route get ... from A`). */
  from?: string;
  /** Pretend the packet arrived on this link (`iif`); needs `from` for a meaningful answer. */
  iif?: LinkRef;
  /** Force the output link (`oif`). */
  oif?: LinkRef;
  /** Firewall mark of the packet. */
  mark?: number;
  /** Return the FIB entry that matched instead of the resolved route (`ip route get fibmatch`). */
  fibMatch?: boolean;
}

/** Options of {@link Routes.delete}. */
export interface RouteDeleteOptions {
  /** Resolve `false` instead of throwing when no route matches (ESRCH) or the link is gone. */
  ifExists?: boolean;
}

/** `ip route` verbs acting inside one namespace. */
export class Routes {
  /** @internal The handle makes it (users reach it as `ns.links`, `ns.tc`, ...). */
  constructor(private readonly ns: NsContext) {}

  /**
   * Add a route. Fails with EEXIST when the same route exists.
   *
   * Equivalent to: `ip route add 10.1.0.0/16 via 10.0.0.254 dev eth0 metric 10 table 100`
   * @example
   * ```ts
   * await ns.routes.add({ destination: 'default', gateway: '10.0.0.254' });
   * await ns.routes.add({ destination: '10.8.0.0/16', type: 'blackhole' });
   * await ns.routes.add({
   *   destination: '10.9.0.0/16',
   *   nexthops: [{ gateway: '10.0.0.2', dev: 'eth0', weight: 2 }, { gateway: '10.0.0.3', dev: 'eth0' }],
   * });
   * ```
   * @throws {@link ValidationError} for malformed input (nothing is sent); a {@link NetlinkError}
   *   with the kernel's code and text otherwise ('EEXIST', 'ENETUNREACH' "Nexthop has invalid gateway", ...).
   */
  add(spec: RouteSpec): Promise<void> {
    return this.modify(spec, NLM_F_CREATE | NLM_F_EXCL, 'add');
  }

  /**
   * Add a route or replace the one with the same destination, table, tos and metric.
   *
   * Equivalent to: `ip route replace default via 10.0.0.254`
   * @example
   * ```ts
   * await ns.routes.replace({ destination: 'default', gateway: '10.0.0.1', dev: 'eth0' });
   * ```
   */
  replace(spec: RouteSpec): Promise<void> {
    return this.modify(spec, NLM_F_CREATE | NLM_F_REPLACE, 'replace');
  }

  /**
   * Add a route next to existing ones with the same destination (for IPv6 this adds a path to a
   * multipath route).
   *
   * Equivalent to: `ip route append 2001:db8::/64 via fe80::1 dev eth0`
   * @example
   * ```ts
   * await ns.routes.append({ destination: '2001:db8::/64', gateway: 'fe80::2', dev: 'eth0' });
   * ```
   */
  append(spec: RouteSpec): Promise<void> {
    return this.modify(spec, NLM_F_CREATE | NLM_F_APPEND, 'append');
  }

  /**
   * Delete the first route that matches; fields left out match anything (gateway, dev, metric,
   * protocol, scope, type), except the table, which is `main` unless given.
   *
   * Equivalent to: `ip route del 10.1.0.0/16 [via GW] [dev D] [table T]`
   * @example
   * ```ts
   * await ns.routes.delete('10.1.0.0/16');
   * await ns.routes.delete({ destination: 'default', table: 100 }, { ifExists: true });
   * ```
   * @returns true when a route was deleted; false when none matched and `ifExists` was set.
   * @throws a {@link NetlinkError} with code 'ESRCH' when no route matches.
   */
  async delete(spec: RouteSpec | string, opts: RouteDeleteOptions = {}): Promise<boolean> {
    checkKeys('', opts, ['ifExists']);
    const checked = checkRoute(spec, 'delete');
    try {
      await this.send(RTM_DELROUTE, 0, checked, this.ns.op(`ip ${checked.family === 6 ? '-6 ' : ''}route del ${describe(spec)}`));
      return true;
    } catch (e) {
      if (opts.ifExists && isNotFound(e)) return false;
      throw e;
    }
  }

  /**
   * The routes of one table (main by default), optionally of one family, link, type or protocol.
   * Unlike `ip route`, both families are listed unless `family` says otherwise.
   *
   * Equivalent to: `ip route show [table T] [dev D] [type T] [proto P]` and `ip -6 route show ...`
   * @example
   * ```ts
   * const defaults = (await ns.routes.list({ family: 4 })).filter((r) => r.destination === 'default');
   * const everything = await ns.routes.list({ table: 'all' });
   * ```
   */
  async list(filter: RouteFilter = {}): Promise<Route[]> {
    checkKeys('filter', filter, ['table', 'family', 'dev', 'type', 'protocol']);
    const table = filter.table === 'all' ? 0 : tableId(filter.table ?? 'main');
    const family = filter.family === undefined ? undefined : parseFamily(filter.family);
    const type = filter.type === undefined ? undefined : numberOf(ROUTE_TYPES, filter.type, 'type');
    const protocol = filter.protocol === undefined ? undefined : numberOf(PROTOCOLS, filter.protocol, 'protocol');
    const devRef = filter.dev === undefined ? undefined : checkLinkRef(filter.dev);
    const oif = devRef === undefined ? undefined : await ifindexOf(this.ns, devRef);
    const conn = await this.ns.rtnl();
    const af = family === undefined ? AF_UNSPEC : family === 4 ? AF_INET : AF_INET6;
    // The kernel is not asked to filter by table: for a table that does not exist it answers ENOENT
    // where an empty list is the truthful answer.
    const [msgs, names] = await Promise.all([conn.dump(RTM_GETROUTE, encodeRouteBody({ family: af }, {}), this.ns.op('ip route show')), linkNames(this.ns)]);
    return msgs
      .filter((m) => m.type === RTM_NEWROUTE)
      .map((m) => decodeRouteMessage(m.payload))
      .filter((m) => {
        const h = m.header;
        // An AF_UNSPEC dump also returns multicast routing families (RTNL_FAMILY_IPMR, ...).
        if (h.family !== AF_INET && h.family !== AF_INET6) return false;
        if (af !== AF_UNSPEC && h.family !== af) return false;
        if (h.flags & RTM_F_CLONED) return false; // cache entries, not routes (`ip route show cache`)
        if (table !== 0 && routeTable(m) !== table) return false;
        if (type !== undefined && h.type !== type) return false;
        if (protocol !== undefined && h.protocol !== protocol) return false;
        if (oif !== undefined && !usesLink(m, oif)) return false;
        return true;
      })
      .map((m) => toRoute(m, names));
  }

  /**
   * Ask the kernel which route a packet to `destination` would take: type, device, gateway, source
   * address and table, the way `ip route get` answers.
   *
   * Equivalent to: `ip route get 10.1.2.3 [from A] [iif D] [oif D] [mark M] [fibmatch]`
   * @example
   * ```ts
   * const r = await ns.routes.get('8.8.8.8');
   * console.log(r.dev, r.gateway, r.source);
   * ```
   * @throws a {@link NetlinkError} such as 'ENETUNREACH' ("Network is unreachable") when no route matches.
   */
  async get(destination: string, opts: RouteLookupOptions = {}): Promise<Route> {
    checkKeys('', opts, ['from', 'iif', 'oif', 'mark', 'fibMatch']);
    const dst = parseIp(destination, 'destination');
    const bits = familyBits(dst.family);
    const attrs: RouteAttrs = { dst: formatIp(dst.bytes) };
    let srcLen = 0;
    if (opts.from !== undefined) {
      const from = parseIp(opts.from, 'from');
      if (from.family !== dst.family) throw new ValidationError('from', opts.from, `is not an IPv${dst.family} address`);
      attrs.src = formatIp(from.bytes);
      srcLen = bits;
    }
    const iif = opts.iif === undefined ? undefined : checkLinkRef(opts.iif, 'iif');
    const oif = opts.oif === undefined ? undefined : checkLinkRef(opts.oif, 'oif');
    if (opts.mark !== undefined) attrs.mark = checkInt('mark', opts.mark, 0, 0xffffffff);
    if (opts.fibMatch !== undefined && typeof opts.fibMatch !== 'boolean') throw new ValidationError('fibMatch', opts.fibMatch, 'must be true or false');
    if (iif !== undefined) attrs.iif = await ifindexOf(this.ns, iif);
    if (oif !== undefined) attrs.oif = await ifindexOf(this.ns, oif);
    // IPv4 reports the table the answer came from only when asked (RTM_F_LOOKUP_TABLE); IPv6 always
    // does, and under strict checking rejects any flag but RTM_F_FIB_MATCH ("Invalid flags for get
    // route request").
    const flags = (dst.family === 4 ? RTM_F_LOOKUP_TABLE : 0) | (opts.fibMatch ? RTM_F_FIB_MATCH : 0);
    const body = encodeRouteBody({ family: dst.family === 4 ? AF_INET : AF_INET6, dstLen: bits, srcLen, flags }, attrs);
    const conn = await this.ns.rtnl();
    const [msgs, names] = await Promise.all([conn.request(RTM_GETROUTE, 0, body, this.ns.op(`ip route get ${destination}`)), linkNames(this.ns)]);
    const m = msgs.find((x) => x.type === RTM_NEWROUTE);
    if (!m) throw new NetnsError(this.ns.op(`ip route get ${destination}: the kernel sent no route`), { code: 'ERR_NO_ANSWER', operation: this.ns.op(`ip route get ${destination}`) });
    return toRoute(decodeRouteMessage(m.payload), names);
  }

  private async modify(spec: RouteSpec, flags: number, verb: string): Promise<void> {
    const checked = checkRoute(spec, 'modify');
    await this.send(RTM_NEWROUTE, flags, checked, this.ns.op(`ip ${checked.family === 6 ? '-6 ' : ''}route ${verb} ${describe(spec)}`));
  }

  private async send(type: number, flags: number, checked: ReturnType<typeof checkRoute>, operation: string): Promise<void> {
    // Links named by the route come from the handle's name -> ifindex cache, kept true by retrying
    // once with fresh indexes when the request fails (docs/performance.md, "Levers of the request path").
    const conn = await this.ns.rtnl();
    await withIndexes(this.ns, routeLinkRefs(checked), undefined, (index) => conn.request(type, flags, encodeRoute(checked, index), operation));
  }
}

/** True when the route leaves through `oif` (directly or by one of its next hops). */
function usesLink(m: RouteMessage, oif: number): boolean {
  return m.attrs.oif === oif || (m.attrs.multipath ?? []).some((nh) => nh.ifindex === oif);
}

/** A short `ip route`-like description of a spec for error messages. */
function describe(spec: RouteSpec | string): string {
  if (typeof spec === 'string') return spec;
  const parts = [spec.type && spec.type !== 'unicast' ? `${spec.type} ${spec.destination}` : spec.destination];
  if (spec.gateway) parts.push(`via ${spec.gateway}`);
  if (spec.dev !== undefined) parts.push(`dev ${spec.dev}`);
  if (spec.table !== undefined) parts.push(`table ${spec.table}`);
  if (spec.metric !== undefined) parts.push(`metric ${spec.metric}`);
  return parts.join(' ');
}

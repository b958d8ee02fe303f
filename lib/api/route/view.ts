/**
 * The public shape of a route read back from the kernel, spelled as `ip -j route` spells it.
 * @module
 */
import { AF_INET, USER_HZ } from '../../rtnl/constants.js';
import { ICMPV6_ROUTER_PREF_HIGH, ICMPV6_ROUTER_PREF_LOW, ICMPV6_ROUTER_PREF_MEDIUM, routeTable, type MetricsAttrs, type RouteMessage } from '../../rtnl/route/index.js';
import {
  PROTOCOLS,
  ROUTE_TYPES,
  SCOPES,
  nameOf,
  routeFlagNames,
  type RouteFlag,
  type RoutePref,
  type RouteProtocol,
  type RouteType,
  type Scope,
} from '../../rtnl/route/names.js';
import type { IpFamily } from '../../validate/ip.js';
import { METRIC_IDS, type LockableMetric, type RouteMetrics } from './spec.js';

/** One path of a multipath route as read back. */
export interface NextHop {
  gateway?: string;
  ifindex: number;
  dev?: string;
  /** rtnh_hops + 1, as `ip` shows it. */
  weight: number;
  flags: RouteFlag[];
}

/** A route as read back from the kernel. */
export interface Route {
  family: IpFamily;
  type: RouteType;
  /** As `ip route` prints it: `'default'`, `'10.0.0.0/24'`, or a bare address for a host route. */
  destination: string;
  dstLength: number;
  /** Source selector (`ip`'s `from`), same format as `destination`. */
  from?: string;
  gateway?: string;
  ifindex?: number;
  dev?: string;
  /** Preferred source address (`ip`'s `src`, shown as `prefsrc` by `ip -j`). */
  source?: string;
  /** RTA_PRIORITY, present when the kernel reports one (IPv4 routes with metric 0 have none). */
  metric?: number;
  /** Table id; 0 when the kernel did not say (lookups forced through `oif`). */
  table: number;
  protocol: RouteProtocol;
  scope: Scope;
  tos: number;
  flags: RouteFlag[];
  /** Raw rtm_flags. */
  rawFlags: number;
  metrics?: RouteMetrics;
  nexthops?: NextHop[];
  /** IPv6 router preference. */
  pref?: RoutePref;
  /** Seconds until the route expires (IPv6 routes learned from router advertisements). */
  expires?: number;
  /** The input interface of a lookup made with `iif`. */
  iif?: string;
  /** The uid the lookup was made for (answers of {@link Routes.get}). */
  uid?: number;
  /** Firewall mark the lookup was made for (answers of {@link Routes.get} with `mark`). */
  mark?: number;
}


/** Format a prefix the way `ip route` does: host routes without a length, `default` for /0. */
export function formatPrefix(addr: string | undefined, len: number, family: IpFamily): string {
  if (addr === undefined) return len === 0 ? 'default' : `0/${len}`;
  return len === (family === 4 ? 32 : 128) ? addr : `${addr}/${len}`;
}

function decodeMetrics(m: MetricsAttrs): RouteMetrics {
  const { lock, ...values } = m;
  const out: RouteMetrics = { ...values };
  if (lock) {
    const names = (Object.keys(METRIC_IDS) as LockableMetric[]).filter((k) => lock & (1 << METRIC_IDS[k]));
    if (names.length > 0) out.lock = names;
  }
  return out;
}

function prefName(p: number): RoutePref | undefined {
  if (p === ICMPV6_ROUTER_PREF_MEDIUM) return 'medium';
  if (p === ICMPV6_ROUTER_PREF_HIGH) return 'high';
  if (p === ICMPV6_ROUTER_PREF_LOW) return 'low';
  return undefined;
}

/** Turn a decoded RTM_NEWROUTE into the public shape; `names` maps ifindexes to link names. */
export function toRoute(m: RouteMessage, names?: Map<number, string>): Route {
  const h = m.header;
  const a = m.attrs;
  const family: IpFamily = h.family === AF_INET ? 4 : 6;
  const type = nameOf(ROUTE_TYPES, h.type);
  const r: Route = {
    family,
    type: typeof type === 'number' ? 'unspec' : type,
    destination: formatPrefix(a.dst, h.dstLen, family),
    dstLength: h.dstLen,
    table: routeTable(m),
    protocol: nameOf(PROTOCOLS, h.protocol),
    scope: nameOf(SCOPES, h.scope),
    tos: h.tos,
    flags: routeFlagNames(h.flags),
    rawFlags: h.flags,
  };
  if (a.src !== undefined || h.srcLen > 0) r.from = formatPrefix(a.src, h.srcLen, family);
  if (a.gateway !== undefined) r.gateway = a.gateway;
  if (a.oif !== undefined) {
    r.ifindex = a.oif;
    const dev = names?.get(a.oif);
    if (dev !== undefined) r.dev = dev;
  }
  if (a.iif !== undefined) r.iif = names?.get(a.iif) ?? String(a.iif);
  if (a.prefsrc !== undefined) r.source = a.prefsrc;
  if (a.priority !== undefined) r.metric = a.priority;
  if (a.metrics !== undefined) r.metrics = decodeMetrics(a.metrics);
  if (a.multipath !== undefined) {
    r.nexthops = a.multipath.map((nh) => {
      const out: NextHop = { ifindex: nh.ifindex, weight: nh.hops + 1, flags: routeFlagNames(nh.flags) };
      if (nh.attrs.gateway !== undefined) out.gateway = nh.attrs.gateway;
      const dev = names?.get(nh.ifindex);
      if (dev !== undefined) out.dev = dev;
      return out;
    });
  }
  if (a.pref !== undefined) {
    const p = prefName(a.pref);
    if (p) r.pref = p;
  }
  if (a.cacheinfo && a.cacheinfo.expires > 0) r.expires = Math.round(a.cacheinfo.expires / USER_HZ);
  if (a.uid !== undefined) r.uid = a.uid;
  if (a.mark !== undefined) r.mark = a.mark;
  return r;
}

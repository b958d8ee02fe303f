/**
 * What a caller may say about a route, its strict validation, and its encoding into RTM_NEWROUTE /
 * RTM_DELROUTE with the defaults `ip route` applies. Pure (no system call), so every rejection and
 * every byte is unit-tested without root.
 * @module
 */
import { ValidationError } from '../../errors.js';
import { formatIp } from '../../netlink/wire_formats.js';
import { AF_INET, AF_INET6 } from '../../rtnl/constants.js';
import {
  RTAX_ADVMSS,
  RTAX_CC_ALGO,
  RTAX_CWND,
  RTAX_FASTOPEN_NO_COOKIE,
  RTAX_FEATURES,
  RTAX_HOPLIMIT,
  RTAX_INITCWND,
  RTAX_INITRWND,
  RTAX_MTU,
  RTAX_QUICKACK,
  RTAX_REORDERING,
  RTAX_RTO_MIN,
  RTAX_RTT,
  RTAX_RTTVAR,
  RTAX_SSTHRESH,
  RTAX_WINDOW,
  RTNH_F_ONLINK,
  RTN_ANYCAST,
  RTN_BROADCAST,
  RTN_LOCAL,
  RTN_MULTICAST,
  RTN_NAT,
  RTN_UNICAST,
  RTN_UNSPEC,
  RTPROT_BOOT,
  RT_SCOPE_HOST,
  RT_SCOPE_LINK,
  RT_SCOPE_NOWHERE,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_MAIN,
  RT_TABLE_UNSPEC,
  RTA_DST,
  RTA_GATEWAY,
  RTA_OIF,
  encodeRouteBody,
  type MetricsAttrs,
  type RouteAttrs,
  type RtNexthop,
} from '../../rtnl/route/index.js';
import {
  PREFS,
  PROTOCOLS,
  ROUTE_TYPES,
  SCOPES,
  numberOf,
  tableId,
  type RoutePref,
  type RouteProtocol,
  type RouteTable,
  type RouteType,
  type Scope,
} from '../../rtnl/route/names.js';
import { familyBits, parseFamily, parseIpOfFamily, parseRoutePrefix, type IpFamily, type RoutePrefix } from '../../validate/ip.js';
import { checkKeys } from '../../validate/options.js';
import { checkInt, checkLinkRef } from '../link/resolve.js';
import type { LinkRef } from '../link/index.js';

/** Route metrics (RTA_METRICS), named as `ip route` names them; values as the kernel stores them. */
export interface RouteMetrics {
  mtu?: number;
  window?: number;
  rtt?: number;
  rttvar?: number;
  ssthresh?: number;
  cwnd?: number;
  advmss?: number;
  reordering?: number;
  hoplimit?: number;
  initcwnd?: number;
  features?: number;
  rtoMin?: number;
  initrwnd?: number;
  quickack?: number;
  /** Congestion control algorithm (`ip`'s `congctl`). */
  congctl?: string;
  fastopenNoCookie?: number;
  /** Metrics the kernel must not change on its own (`ip`'s `mtu lock 1400`). */
  lock?: LockableMetric[];
}

/** RTAX_* number of each metric, for the lock mask. */
export const METRIC_IDS = {
  mtu: RTAX_MTU,
  window: RTAX_WINDOW,
  rtt: RTAX_RTT,
  rttvar: RTAX_RTTVAR,
  ssthresh: RTAX_SSTHRESH,
  cwnd: RTAX_CWND,
  advmss: RTAX_ADVMSS,
  reordering: RTAX_REORDERING,
  hoplimit: RTAX_HOPLIMIT,
  initcwnd: RTAX_INITCWND,
  features: RTAX_FEATURES,
  rtoMin: RTAX_RTO_MIN,
  initrwnd: RTAX_INITRWND,
  quickack: RTAX_QUICKACK,
  congctl: RTAX_CC_ALGO,
  fastopenNoCookie: RTAX_FASTOPEN_NO_COOKIE,
} as const;
export type LockableMetric = keyof typeof METRIC_IDS;

/** One path of a multipath route (`ip route add ... nexthop via GW dev D weight W`). */
export interface NextHopSpec {
  gateway?: string;
  dev?: LinkRef;
  /** 1..256, default 1. */
  weight?: number;
  /** Use the gateway even if it is not on a connected subnet of `dev`. */
  onlink?: boolean;
}

/** A route to add, replace or delete. */
export interface RouteSpec {
  /** `'default'`, `a.b.c.d/len`, `x::y/len`, or a bare address for a host route. */
  destination: string;
  /** Needed only for `'default'` when nothing else shows the family (IPv4 is assumed, as `ip` does). */
  family?: IpFamily | 'inet' | 'inet6';
  /** Default `'unicast'`. */
  type?: RouteType;
  gateway?: string;
  dev?: LinkRef;
  /** Preferred source address for packets sent along the route (`ip`'s `src`, RTA_PREFSRC). */
  source?: string;
  /** Source prefix the route applies to (`ip`'s `from`, RTA_SRC; IPv6 subtrees). */
  from?: string;
  /** Priority (`ip`'s `metric`, RTA_PRIORITY); lower wins. */
  metric?: number;
  /** Default `'main'`. */
  table?: RouteTable;
  /** Default as `ip` chooses: `link` for IPv4 unicast routes without a gateway, `host` for local routes, else `global`. */
  scope?: Scope;
  /** Default `'boot'` (what `ip route add` sets). */
  protocol?: RouteProtocol;
  tos?: number;
  onlink?: boolean;
  /** Several paths; `gateway`/`dev` then go in each next hop, not on the route. */
  nexthops?: NextHopSpec[];
  metrics?: RouteMetrics;
  /** IPv6 router preference. */
  pref?: RoutePref;
}
const SPEC_KEYS = [
  'destination', 'family', 'type', 'gateway', 'dev', 'source', 'from', 'metric', 'table', 'scope', 'protocol', 'tos', 'onlink',
  'nexthops', 'metrics', 'pref',
] as const;

/** Route types that drop or reject packets: no gateway, no next hops. */
const NO_NEXTHOP_TYPES = new Set<RouteType>(['blackhole', 'unreachable', 'prohibit', 'throw']);

/** A validated route request; link references are resolved to ifindexes by {@link encodeRoute}. */
export interface CheckedRoute {
  family: IpFamily;
  dst: RoutePrefix;
  from?: RoutePrefix;
  header: { table: number; protocol: number; scope: number; type: number; tos: number; flags: number };
  table: number;
  gateway?: string;
  source?: string;
  metric?: number;
  dev?: LinkRef;
  nexthops?: { gateway?: string; dev?: LinkRef; weight: number; flags: number }[];
  metrics?: MetricsAttrs;
  pref?: number;
}

/**
 * Validate a route for `add`/`replace` (mode 'modify') or `delete`. Throws ValidationError, before any
 * system call, for anything malformed or contradictory.
 */
export function checkRoute(spec: RouteSpec | string, mode: 'modify' | 'delete'): CheckedRoute {
  const s: RouteSpec = typeof spec === 'string' ? { destination: spec } : spec;
  if (typeof s !== 'object' || s === null) throw new ValidationError('route', spec, 'must be an object or a destination string');
  checkKeys('', s, SPEC_KEYS);
  if (typeof s.destination !== 'string') throw new ValidationError('destination', s.destination, "must be a string ('default', a prefix or an address)");
  const family = inferFamily(s);
  const dst = parseRoutePrefix(s.destination, 'destination', family);
  const type = s.type === undefined ? (mode === 'delete' ? RTN_UNSPEC : RTN_UNICAST) : numberOf(ROUTE_TYPES, s.type, 'type');
  const table = s.table === undefined ? RT_TABLE_MAIN : tableId(s.table);
  const out: CheckedRoute = {
    family,
    dst,
    table,
    header: {
      // ids above 255 travel in RTA_TABLE only, as `ip` sends them.
      table: table < 256 ? table : RT_TABLE_UNSPEC,
      protocol: s.protocol === undefined ? (mode === 'delete' ? 0 : RTPROT_BOOT) : numberOf(PROTOCOLS, s.protocol, 'protocol'),
      scope: 0,
      type,
      tos: s.tos === undefined ? 0 : checkInt('tos', s.tos, 0, 255),
      flags: s.onlink === undefined ? 0 : checkBool('onlink', s.onlink) ? RTNH_F_ONLINK : 0,
    },
  };
  if (s.from !== undefined) out.from = parseRoutePrefix(s.from, 'from', family);
  if (s.gateway !== undefined) out.gateway = formatIp(parseIpOfFamily(s.gateway, 'gateway', family).bytes);
  if (s.source !== undefined) out.source = formatIp(parseIpOfFamily(s.source, 'source', family).bytes);
  if (s.metric !== undefined) out.metric = checkInt('metric', s.metric, 0, 0xffffffff);
  if (s.dev !== undefined) out.dev = checkLinkRef(s.dev, 'dev');
  if (s.nexthops !== undefined) out.nexthops = checkNexthops(s, family);
  if (s.metrics !== undefined) out.metrics = checkMetrics(s.metrics);
  if (s.pref !== undefined) {
    if (family !== 6) throw new ValidationError('pref', s.pref, 'exists only for IPv6 routes');
    if (!Object.prototype.hasOwnProperty.call(PREFS, s.pref)) throw new ValidationError('pref', s.pref, "must be 'low', 'medium' or 'high'");
    out.pref = PREFS[s.pref];
  }
  const typeName = s.type ?? 'unicast';
  if (NO_NEXTHOP_TYPES.has(typeName) && (out.gateway !== undefined || out.nexthops !== undefined)) {
    throw new ValidationError('type', typeName, 'routes of this type have no gateway or next hops');
  }
  out.header.scope = s.scope !== undefined ? numberOf(SCOPES, s.scope, 'scope') : defaultScope(out, mode);
  return out;
}

/** The scope `ip route` picks when none is given (iproute.c, iproute_modify). */
function defaultScope(r: CheckedRoute, mode: 'modify' | 'delete'): number {
  if (mode === 'delete') return RT_SCOPE_NOWHERE; // "any scope" for the kernel's match
  if (r.family === 6) return RT_SCOPE_UNIVERSE;
  const t = r.header.type;
  if (t === RTN_LOCAL || t === RTN_NAT) return RT_SCOPE_HOST;
  if (t === RTN_BROADCAST || t === RTN_MULTICAST || t === RTN_ANYCAST) return RT_SCOPE_LINK;
  if (t === RTN_UNICAST && r.gateway === undefined && r.nexthops === undefined) return RT_SCOPE_LINK;
  return RT_SCOPE_UNIVERSE;
}

/** The family shown by the explicit option or by any address in the spec; IPv4 by default. */
function inferFamily(s: RouteSpec): IpFamily {
  const explicit = s.family === undefined ? undefined : parseFamily(s.family);
  const seen: string[] = [];
  if (s.destination !== 'default') seen.push(s.destination);
  for (const v of [s.gateway, s.source, s.from]) if (typeof v === 'string' && v !== 'default') seen.push(v);
  if (Array.isArray(s.nexthops)) for (const nh of s.nexthops) if (nh && typeof nh.gateway === 'string') seen.push(nh.gateway);
  const shown = seen.length > 0 ? (seen[0].includes(':') ? 6 : 4) : undefined;
  if (explicit !== undefined && shown !== undefined && explicit !== shown) {
    throw new ValidationError('family', s.family, `contradicts the IPv${shown} address ${JSON.stringify(seen[0])}`);
  }
  return explicit ?? shown ?? 4;
}

function checkNexthops(s: RouteSpec, family: IpFamily): NonNullable<CheckedRoute['nexthops']> {
  if (!Array.isArray(s.nexthops) || s.nexthops.length === 0) throw new ValidationError('nexthops', s.nexthops, 'must be a non-empty array');
  if (s.gateway !== undefined || s.dev !== undefined) {
    throw new ValidationError('nexthops', s.nexthops, 'cannot be combined with a route-level gateway or dev (put them in each next hop)');
  }
  return s.nexthops.map((nh, i) => {
    const field = `nexthops[${i}]`;
    checkKeys(field, nh, ['gateway', 'dev', 'weight', 'onlink']);
    if (nh.gateway === undefined && nh.dev === undefined) throw new ValidationError(field, nh, 'needs a gateway or a dev');
    const out: NonNullable<CheckedRoute['nexthops']>[number] = {
      weight: nh.weight === undefined ? 1 : checkInt(`${field}.weight`, nh.weight, 1, 256),
      flags: nh.onlink === undefined ? 0 : checkBool(`${field}.onlink`, nh.onlink) ? RTNH_F_ONLINK : 0,
    };
    if (nh.gateway !== undefined) out.gateway = formatIp(parseIpOfFamily(nh.gateway, `${field}.gateway`, family).bytes);
    if (nh.dev !== undefined) out.dev = checkLinkRef(nh.dev, `${field}.dev`);
    return out;
  });
}

function checkMetrics(m: RouteMetrics): MetricsAttrs {
  checkKeys('metrics', m, [...Object.keys(METRIC_IDS), 'lock']);
  const out: MetricsAttrs = {};
  for (const key of Object.keys(METRIC_IDS) as LockableMetric[]) {
    const v = m[key];
    if (v === undefined) continue;
    if (key === 'congctl') {
      if (typeof v !== 'string' || !/^[a-z0-9_]{1,15}$/.test(v)) throw new ValidationError('metrics.congctl', v, 'must be a congestion control name such as "cubic"');
      out.congctl = v;
    } else {
      out[key] = checkInt(`metrics.${key}`, v, 0, 0xffffffff);
    }
  }
  if (m.lock !== undefined) {
    if (!Array.isArray(m.lock)) throw new ValidationError('metrics.lock', m.lock, 'must be an array of metric names');
    let mask = 0;
    for (const name of m.lock) {
      if (!Object.prototype.hasOwnProperty.call(METRIC_IDS, name)) throw new ValidationError('metrics.lock', name, 'is not a metric name');
      mask |= 1 << METRIC_IDS[name];
    }
    if (mask) out.lock = mask >>> 0;
  }
  return out;
}

function checkBool(field: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new ValidationError(field, v, 'must be true or false');
  return v;
}

/** Link references named by a checked route, to resolve before {@link encodeRoute}. */
export function routeLinkRefs(r: CheckedRoute): LinkRef[] {
  const refs: LinkRef[] = [];
  if (r.dev !== undefined) refs.push(r.dev);
  for (const nh of r.nexthops ?? []) if (nh.dev !== undefined) refs.push(nh.dev);
  return refs;
}

/** Encode an rtmsg body; `ifindex` maps each link reference of the route to its index. */
export function encodeRoute(r: CheckedRoute, ifindex: (ref: LinkRef) => number): Buffer {
  const bits = familyBits(r.family);
  if (r.from === undefined && r.metric === undefined && r.source === undefined && r.table < 256 && r.metrics === undefined && r.nexthops === undefined && r.pref === undefined) {
    return encodePlainRouteBody(r, Math.min(r.dst.prefixLength, bits), r.dev === undefined ? undefined : ifindex(r.dev));
  }
  const attrs: RouteAttrs = {};
  // The default route has no RTA_DST, as `ip` sends it.
  if (r.dst.prefixLength > 0) attrs.dst = formatIp(r.dst.bytes);
  if (r.from && r.from.prefixLength > 0) attrs.src = formatIp(r.from.bytes);
  if (r.gateway !== undefined) attrs.gateway = r.gateway;
  if (r.metric !== undefined) attrs.priority = r.metric;
  if (r.source !== undefined) attrs.prefsrc = r.source;
  if (r.table >= 256) attrs.table = r.table;
  if (r.metrics !== undefined && Object.keys(r.metrics).length > 0) attrs.metrics = r.metrics;
  if (r.nexthops !== undefined) {
    attrs.multipath = r.nexthops.map((nh): RtNexthop => ({
      flags: nh.flags,
      hops: nh.weight - 1,
      ifindex: nh.dev === undefined ? 0 : ifindex(nh.dev),
      attrs: nh.gateway === undefined ? {} : { gateway: nh.gateway },
    }));
  }
  if (r.pref !== undefined) attrs.pref = r.pref;
  if (r.dev !== undefined) attrs.oif = ifindex(r.dev);
  return encodeRouteBody(
    {
      family: r.family === 4 ? AF_INET : AF_INET6,
      dstLen: Math.min(r.dst.prefixLength, bits),
      srcLen: r.from?.prefixLength ?? 0,
      ...r.header,
    },
    attrs,
  );
}

/** struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags. */
const RTMSG_SIZE = 12;

/**
 * The body of a route with at most a destination, a gateway and a device (a pod's default route),
 * written directly: the same bytes as `encodeRouteBody` makes of it, in the table's order (RTA_DST,
 * RTA_GATEWAY, RTA_OIF), without walking the attribute table and parsing the addresses back from
 * their text (docs/performance.md, "Pod steps (pod2)").
 */
function encodePlainRouteBody(r: CheckedRoute, dstLen: number, oif: number | undefined): Buffer {
  const dst = r.dst.prefixLength > 0 ? r.dst.bytes : undefined;
  const gateway = r.gateway === undefined ? undefined : parseIpOfFamily(r.gateway, 'gateway', r.family).bytes;
  const size = RTMSG_SIZE + (dst ? 4 + dst.length : 0) + (gateway ? 4 + gateway.length : 0) + (oif === undefined ? 0 : 8);
  const buf = Buffer.alloc(size);
  const h = r.header;
  buf[0] = r.family === 4 ? AF_INET : AF_INET6;
  buf[1] = dstLen;
  buf[3] = h.tos;
  buf[4] = h.table;
  buf[5] = h.protocol;
  buf[6] = h.scope;
  buf[7] = h.type;
  buf.writeUInt32LE(h.flags, 8);
  let at = RTMSG_SIZE;
  if (dst) at = writeAddrAttr(buf, at, RTA_DST, dst);
  if (gateway) at = writeAddrAttr(buf, at, RTA_GATEWAY, gateway);
  if (oif !== undefined) {
    buf.writeUInt16LE(8, at);
    buf.writeUInt16LE(RTA_OIF, at + 2);
    buf.writeInt32LE(oif, at + 4);
  }
  return buf;
}

/** One address attribute (4 or 16 bytes: already aligned) at `at`; returns where the next begins. */
function writeAddrAttr(buf: Buffer, at: number, type: number, bytes: Buffer): number {
  buf.writeUInt16LE(4 + bytes.length, at);
  buf.writeUInt16LE(type, at + 2);
  bytes.copy(buf, at + 4);
  return at + 4 + bytes.length;
}

/**
 * Names of route scopes, types, protocols, tables and flags, spelled as iproute2 prints and accepts
 * them (its rt_scopes, rt_protos and rt_tables files, and `ip route`'s keywords), so values read back
 * compare directly with `ip -j` output.
 * @module
 */
import { ValidationError } from '../../errors.js';
import {
  RTM_F_NOTIFY,
  RTM_F_OFFLOAD,
  RTM_F_OFFLOAD_FAILED,
  RTM_F_TRAP,
  RTNH_F_DEAD,
  RTNH_F_LINKDOWN,
  RTNH_F_OFFLOAD,
  RTNH_F_ONLINK,
  RTNH_F_PERVASIVE,
  RTNH_F_TRAP,
  RTNH_F_UNRESOLVED,
  RT_SCOPE_HOST,
  RT_SCOPE_LINK,
  RT_SCOPE_NOWHERE,
  RT_SCOPE_SITE,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_DEFAULT,
  RT_TABLE_LOCAL,
  RT_TABLE_MAIN,
} from './index.js';

/** A name-to-number table. */
type NameTable<N extends string> = Readonly<Record<N, number>>;

export const SCOPES = { global: RT_SCOPE_UNIVERSE, site: RT_SCOPE_SITE, link: RT_SCOPE_LINK, host: RT_SCOPE_HOST, nowhere: RT_SCOPE_NOWHERE } as const;
/** Scope of a route or address; a number for values without a name. */
export type Scope = keyof typeof SCOPES | number;

export const ROUTE_TYPES = {
  unspec: 0,
  unicast: 1,
  local: 2,
  broadcast: 3,
  anycast: 4,
  multicast: 5,
  blackhole: 6,
  unreachable: 7,
  prohibit: 8,
  throw: 9,
  nat: 10,
  xresolve: 11,
} as const;
export type RouteType = keyof typeof ROUTE_TYPES;

/** iproute2 6.x's rt_protos (numbers without a name read back as numbers). */
export const PROTOCOLS = {
  unspec: 0,
  redirect: 1,
  kernel: 2,
  boot: 3,
  static: 4,
  gated: 8,
  ra: 9,
  mrt: 10,
  zebra: 11,
  bird: 12,
  dnrouted: 13,
  xorp: 14,
  ntk: 15,
  dhcp: 16,
  keepalived: 18,
  babel: 42,
  openr: 99,
  bgp: 186,
  isis: 187,
  ospf: 188,
  rip: 189,
  eigrp: 192,
} as const;
/** Who installed a route; a number for values without a name. */
export type RouteProtocol = keyof typeof PROTOCOLS | number;

export const TABLES = { default: RT_TABLE_DEFAULT, main: RT_TABLE_MAIN, local: RT_TABLE_LOCAL } as const;
/** A routing table: its id, or one of the reserved names. */
export type RouteTable = keyof typeof TABLES | number;

export const PREFS = { medium: 0, high: 1, low: 3 } as const;
/** IPv6 router preference (RFC 4191). */
export type RoutePref = keyof typeof PREFS;

/** Flags of a route or next hop, in the order and spelling of `ip -j route`'s "flags" array. */
export const ROUTE_FLAGS = [
  ['dead', RTNH_F_DEAD],
  ['onlink', RTNH_F_ONLINK],
  ['pervasive', RTNH_F_PERVASIVE],
  ['offload', RTNH_F_OFFLOAD],
  ['trap', RTNH_F_TRAP],
  ['notify', RTM_F_NOTIFY],
  ['linkdown', RTNH_F_LINKDOWN],
  ['unresolved', RTNH_F_UNRESOLVED],
  ['rt_offload', RTM_F_OFFLOAD],
  ['rt_trap', RTM_F_TRAP],
  ['rt_offload_failed', RTM_F_OFFLOAD_FAILED],
] as const;
export type RouteFlag = (typeof ROUTE_FLAGS)[number][0];

/** The name of `n` in `table`, or `n` itself when it has none. */
export function nameOf<N extends string>(table: NameTable<N>, n: number): N | number {
  for (const [k, v] of Object.entries(table) as [N, number][]) if (v === n) return k;
  return n;
}

/** The number for a name of `table` or an integer in [0, max]; ValidationError otherwise. */
export function numberOf<N extends string>(table: NameTable<N>, v: unknown, field: string, max = 255): number {
  if (typeof v === 'string' && Object.prototype.hasOwnProperty.call(table, v)) return table[v as N];
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max) return v;
  throw new ValidationError(field, v, `must be one of ${Object.keys(table).join(', ')} or an integer 0..${max}`);
}

/** Names of the set route/next-hop flags. */
export function routeFlagNames(flags: number): RouteFlag[] {
  return ROUTE_FLAGS.filter(([, bit]) => (flags & bit) !== 0).map(([name]) => name);
}

/** An id (0 < id < 2^32) for a table given by name or number. */
export function tableId(v: unknown, field = 'table'): number {
  const id = numberOf(TABLES, v, field, 0xffffffff);
  if (id === 0) throw new ValidationError(field, v, 'must not be 0 (RT_TABLE_UNSPEC)');
  return id;
}

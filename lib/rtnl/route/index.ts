/**
 * RTM_*ROUTE messages: struct rtmsg, the RTA_* attributes, RTA_METRICS (RTAX_*) and RTA_MULTIPATH
 * (struct rtnexthop), named as in <linux/rtnetlink.h>.
 * @module
 */
import { AttrMap } from '../../netlink/attributes.js';
import { Message } from '../../netlink/message.js';
import { Schema, Struct, attr, ipAddress, s32, string, u16, u32, u8, type AttrCodec, type Decoded } from '../../netlink/schema.js';

export const RTA_DST = 1;
export const RTA_SRC = 2;
export const RTA_IIF = 3;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_PRIORITY = 6;
export const RTA_PREFSRC = 7;
export const RTA_METRICS = 8;
export const RTA_MULTIPATH = 9;
export const RTA_FLOW = 11;
export const RTA_CACHEINFO = 12;
export const RTA_TABLE = 15;
export const RTA_MARK = 16;
export const RTA_VIA = 18;
export const RTA_PREF = 20;
export const RTA_ENCAP_TYPE = 21;
export const RTA_ENCAP = 22;
export const RTA_EXPIRES = 23;
export const RTA_UID = 25;
export const RTA_TTL_PROPAGATE = 26;
export const RTA_IP_PROTO = 27;
export const RTA_SPORT = 28;
export const RTA_DPORT = 29;
export const RTA_NH_ID = 30;

// rtm_type.
export const RTN_UNSPEC = 0;
export const RTN_UNICAST = 1;
export const RTN_LOCAL = 2;
export const RTN_BROADCAST = 3;
export const RTN_ANYCAST = 4;
export const RTN_MULTICAST = 5;
export const RTN_BLACKHOLE = 6;
export const RTN_UNREACHABLE = 7;
export const RTN_PROHIBIT = 8;
export const RTN_THROW = 9;
export const RTN_NAT = 10;
export const RTN_XRESOLVE = 11;

// rtm_protocol.
export const RTPROT_UNSPEC = 0;
export const RTPROT_REDIRECT = 1;
export const RTPROT_KERNEL = 2;
export const RTPROT_BOOT = 3;
export const RTPROT_STATIC = 4;

// rtm_scope (also ifa_scope of addresses).
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_SITE = 200;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
export const RT_SCOPE_NOWHERE = 255;

// Reserved table ids.
export const RT_TABLE_UNSPEC = 0;
export const RT_TABLE_COMPAT = 252;
export const RT_TABLE_DEFAULT = 253;
export const RT_TABLE_MAIN = 254;
export const RT_TABLE_LOCAL = 255;

// rtm_flags.
export const RTM_F_NOTIFY = 0x100;
export const RTM_F_CLONED = 0x200;
export const RTM_F_EQUALIZE = 0x400;
export const RTM_F_PREFIX = 0x800;
export const RTM_F_LOOKUP_TABLE = 0x1000;
export const RTM_F_FIB_MATCH = 0x2000;
export const RTM_F_OFFLOAD = 0x4000;
export const RTM_F_TRAP = 0x8000;
export const RTM_F_OFFLOAD_FAILED = 0x20000000;

// rtnh_flags (also found in rtm_flags for single-path routes).
export const RTNH_F_DEAD = 1;
export const RTNH_F_PERVASIVE = 2;
export const RTNH_F_ONLINK = 4;
export const RTNH_F_OFFLOAD = 8;
export const RTNH_F_LINKDOWN = 16;
export const RTNH_F_UNRESOLVED = 32;
export const RTNH_F_TRAP = 64;

// RTA_METRICS members.
export const RTAX_LOCK = 1;
export const RTAX_MTU = 2;
export const RTAX_WINDOW = 3;
export const RTAX_RTT = 4;
export const RTAX_RTTVAR = 5;
export const RTAX_SSTHRESH = 6;
export const RTAX_CWND = 7;
export const RTAX_ADVMSS = 8;
export const RTAX_REORDERING = 9;
export const RTAX_HOPLIMIT = 10;
export const RTAX_INITCWND = 11;
export const RTAX_FEATURES = 12;
export const RTAX_RTO_MIN = 13;
export const RTAX_INITRWND = 14;
export const RTAX_QUICKACK = 15;
export const RTAX_CC_ALGO = 16;
export const RTAX_FASTOPEN_NO_COOKIE = 17;

// RTA_PREF values (ICMPV6_ROUTER_PREF_*).
export const ICMPV6_ROUTER_PREF_MEDIUM = 0;
export const ICMPV6_ROUTER_PREF_HIGH = 1;
export const ICMPV6_ROUTER_PREF_INVALID = 2;
export const ICMPV6_ROUTER_PREF_LOW = 3;

/** struct rtmsg. */
export const rtmsg = new Struct<'family' | 'dstLen' | 'srcLen' | 'tos' | 'table' | 'protocol' | 'scope' | 'type' | 'flags'>('rtmsg', [
  ['family', 'u8'],
  ['dstLen', 'u8'],
  ['srcLen', 'u8'],
  ['tos', 'u8'],
  ['table', 'u8'],
  ['protocol', 'u8'],
  ['scope', 'u8'],
  ['type', 'u8'],
  ['flags', 'u32'],
]);

export type RtmsgHeader = ReturnType<typeof rtmsg.decode>;

/**
 * The RTAX_* members of RTA_METRICS. Order follows what `ip route add ... mtu lock N advmss M` sends
 * (values first, the lock mask last).
 */
export const metricsAttrs = new Schema('metrics', {
  mtu: attr(RTAX_MTU, u32),
  window: attr(RTAX_WINDOW, u32),
  rtt: attr(RTAX_RTT, u32),
  rttvar: attr(RTAX_RTTVAR, u32),
  ssthresh: attr(RTAX_SSTHRESH, u32),
  cwnd: attr(RTAX_CWND, u32),
  advmss: attr(RTAX_ADVMSS, u32),
  reordering: attr(RTAX_REORDERING, u32),
  hoplimit: attr(RTAX_HOPLIMIT, u32),
  initcwnd: attr(RTAX_INITCWND, u32),
  features: attr(RTAX_FEATURES, u32),
  rtoMin: attr(RTAX_RTO_MIN, u32),
  initrwnd: attr(RTAX_INITRWND, u32),
  quickack: attr(RTAX_QUICKACK, u32),
  congctl: attr(RTAX_CC_ALGO, string),
  fastopenNoCookie: attr(RTAX_FASTOPEN_NO_COOKIE, u32),
  lock: attr(RTAX_LOCK, u32),
});

export type MetricsAttrs = Decoded<typeof metricsAttrs.fields>;

/**
 * RTA_METRICS is a nest the kernel parses without NLA_F_NESTED, and iproute2 never sets the flag on
 * it; leave it off so requests match iproute2's byte for byte.
 */
const metricsCodec: AttrCodec<MetricsAttrs> = {
  name: 'metrics',
  encode: (a, t, v) => a.nested(t, (inner) => metricsAttrs.encode(inner, v), false),
  decode: (b) => metricsAttrs.decode(b),
};

/** Attributes that may follow a struct rtnexthop inside RTA_MULTIPATH. */
export const nexthopAttrs = new Schema('nexthop', {
  gateway: attr(RTA_GATEWAY, ipAddress),
  flow: attr(RTA_FLOW, u32),
});

/** One struct rtnexthop with its attributes. `hops` is weight - 1 on the wire. */
export interface RtNexthop {
  flags: number;
  hops: number;
  ifindex: number;
  attrs: Decoded<typeof nexthopAttrs.fields>;
}

const RTNH_SIZE = 8;

/** RTA_MULTIPATH: a packed array of rtnexthop, each followed by its own attributes (no NLA_F_NESTED). */
export const multipathCodec: AttrCodec<RtNexthop[]> = {
  name: 'multipath',
  encode: (a, t, hops) =>
    a.nested(
      t,
      (inner) => {
        const w = inner.w;
        for (const nh of hops) {
          const at = w.length;
          w.u16(0).u8(nh.flags).u8(nh.hops).s32(nh.ifindex);
          nexthopAttrs.encode(inner, nh.attrs);
          w.patchU16(at, w.length - at);
        }
      },
      false,
    ),
  decode: (b) => {
    const out: RtNexthop[] = [];
    let off = 0;
    while (off + RTNH_SIZE <= b.length) {
      const len = b.readUInt16LE(off);
      if (len < RTNH_SIZE || off + len > b.length) break;
      out.push({
        flags: b.readUInt8(off + 2),
        hops: b.readUInt8(off + 3),
        ifindex: b.readInt32LE(off + 4),
        attrs: nexthopAttrs.decodeMap(new AttrMap(b, off + RTNH_SIZE, off + len)),
      });
      off += (len + 3) & ~3;
    }
    return out;
  },
};

/** struct rta_cacheinfo; only the fields `ip route` shows are kept. */
export interface RtaCacheinfo {
  /** Remaining lifetime in clock ticks (USER_HZ), 0 for none. */
  expires: number;
  error: number;
  used: number;
}

export const rtaCacheinfo: AttrCodec<RtaCacheinfo> = {
  name: 'rta_cacheinfo',
  encode: () => {
    throw new Error('RTA_CACHEINFO is never sent');
  },
  decode: (b) => ({ expires: b.readInt32LE(8), error: b.readUInt32LE(12), used: b.readUInt32LE(16) }),
};

/**
 * The RTA_* attributes, one row each. Declaration order is the order requests are encoded in; it
 * matches `ip route add PREFIX via GW metric N table T dev D` so such requests compare byte for byte.
 */
export const routeAttrs = new Schema('route', {
  dst: attr(RTA_DST, ipAddress),
  src: attr(RTA_SRC, ipAddress),
  iif: attr(RTA_IIF, u32),
  gateway: attr(RTA_GATEWAY, ipAddress),
  priority: attr(RTA_PRIORITY, u32),
  prefsrc: attr(RTA_PREFSRC, ipAddress),
  table: attr(RTA_TABLE, u32),
  metrics: attr(RTA_METRICS, metricsCodec),
  multipath: attr(RTA_MULTIPATH, multipathCodec),
  pref: attr(RTA_PREF, u8),
  mark: attr(RTA_MARK, u32),
  uid: attr(RTA_UID, u32),
  flow: attr(RTA_FLOW, u32),
  cacheinfo: attr(RTA_CACHEINFO, rtaCacheinfo),
  expires: attr(RTA_EXPIRES, u32),
  encapType: attr(RTA_ENCAP_TYPE, u16),
  nhId: attr(RTA_NH_ID, u32),
  ipProto: attr(RTA_IP_PROTO, u8),
  ttlPropagate: attr(RTA_TTL_PROPAGATE, u8),
  oif: attr(RTA_OIF, s32),
});

export type RouteAttrs = Decoded<typeof routeAttrs.fields>;

/** A decoded RTM_NEWROUTE. */
export interface RouteMessage {
  header: RtmsgHeader;
  attrs: RouteAttrs;
}

export const routeMessage = new Message(rtmsg, routeAttrs, 128);

export function decodeRouteMessage(payload: Buffer): RouteMessage {
  return routeMessage.decode(payload);
}

export function encodeRouteBody(header: Partial<RtmsgHeader>, attrs: RouteAttrs): Buffer {
  return routeMessage.encode(header, attrs);
}

/** The route's table: RTA_TABLE carries ids above 255, which rtm_table cannot. */
export function routeTable(m: RouteMessage): number {
  return m.attrs.table ?? m.header.table;
}


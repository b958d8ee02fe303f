/**
 * RTM_*LINK messages: struct ifinfomsg and the IFLA_* attributes (<linux/if_link.h>).
 * Link kinds (IFLA_INFO_DATA of veth, bridge, ...) live in ./kinds/.
 * @module
 */
import { AttrMap, AttrWriter, ByteWriter, decodeCString } from '../../netlink/attributes.js';
import { Struct, attr, attrMulti, binary, macAddress, s32, Schema, string, u32, u8, type AttrCodec, type Decoded } from '../../netlink/schema.js';

export const IFLA_ADDRESS = 1;
export const IFLA_BROADCAST = 2;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_LINK = 5;
export const IFLA_QDISC = 6;
export const IFLA_STATS = 7;
export const IFLA_MASTER = 10;
export const IFLA_TXQLEN = 13;
export const IFLA_OPERSTATE = 16;
export const IFLA_LINKMODE = 17;
export const IFLA_LINKINFO = 18;
export const IFLA_NET_NS_PID = 19;
export const IFLA_IFALIAS = 20;
export const IFLA_STATS64 = 23;
export const IFLA_AF_SPEC = 26;
export const IFLA_GROUP = 27;
export const IFLA_NET_NS_FD = 28;
export const IFLA_EXT_MASK = 29;
export const IFLA_PROMISCUITY = 30;
export const IFLA_NUM_TX_QUEUES = 31;
export const IFLA_NUM_RX_QUEUES = 32;
export const IFLA_CARRIER = 33;
export const IFLA_CARRIER_CHANGES = 35;
export const IFLA_LINK_NETNSID = 37;
export const IFLA_PROTO_DOWN = 39;
export const IFLA_GSO_MAX_SEGS = 40;
export const IFLA_GSO_MAX_SIZE = 41;
export const IFLA_NEW_NETNSID = 45;
export const IFLA_TARGET_NETNSID = 46;
export const IFLA_CARRIER_UP_COUNT = 47;
export const IFLA_CARRIER_DOWN_COUNT = 48;
export const IFLA_NEW_IFINDEX = 49;
export const IFLA_MIN_MTU = 50;
export const IFLA_MAX_MTU = 51;
export const IFLA_ALT_IFNAME = 53;
export const IFLA_PERM_ADDRESS = 54;
export const IFLA_PARENT_DEV_NAME = 56;

// IFLA_LINKINFO nest.
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const IFLA_INFO_XSTATS = 3;
export const IFLA_INFO_SLAVE_KIND = 4;
export const IFLA_INFO_SLAVE_DATA = 5;

// RTEXT_FILTER_* for IFLA_EXT_MASK.
export const RTEXT_FILTER_VF = 1 << 0;
export const RTEXT_FILTER_SKIP_STATS = 1 << 3;

// Interface flags (<linux/if.h>).
export const IFF_UP = 0x1;
export const IFF_BROADCAST = 0x2;
export const IFF_DEBUG = 0x4;
export const IFF_LOOPBACK = 0x8;
export const IFF_POINTOPOINT = 0x10;
export const IFF_NOTRAILERS = 0x20;
export const IFF_RUNNING = 0x40;
export const IFF_NOARP = 0x80;
export const IFF_PROMISC = 0x100;
export const IFF_ALLMULTI = 0x200;
export const IFF_MASTER = 0x400;
export const IFF_SLAVE = 0x800;
export const IFF_MULTICAST = 0x1000;
export const IFF_PORTSEL = 0x2000;
export const IFF_AUTOMEDIA = 0x4000;
export const IFF_DYNAMIC = 0x8000;
export const IFF_LOWER_UP = 0x10000;
export const IFF_DORMANT = 0x20000;
export const IFF_ECHO = 0x40000;

/** Flag names as `ip link` prints them, in its order (lowest bit first). */
export const IFF_NAMES: ReadonlyArray<readonly [number, string]> = [
  [IFF_LOOPBACK, 'LOOPBACK'], [IFF_BROADCAST, 'BROADCAST'], [IFF_POINTOPOINT, 'POINTOPOINT'],
  [IFF_MULTICAST, 'MULTICAST'], [IFF_NOARP, 'NOARP'], [IFF_ALLMULTI, 'ALLMULTI'], [IFF_PROMISC, 'PROMISC'],
  [IFF_NOTRAILERS, 'NOTRAILERS'], [IFF_UP, 'UP'], [IFF_LOWER_UP, 'LOWER_UP'], [IFF_DORMANT, 'DORMANT'],
  [IFF_ECHO, 'ECHO'], [IFF_MASTER, 'MASTER'], [IFF_SLAVE, 'SLAVE'], [IFF_DEBUG, 'DEBUG'],
  [IFF_DYNAMIC, 'DYNAMIC'], [IFF_AUTOMEDIA, 'AUTOMEDIA'], [IFF_PORTSEL, 'PORTSEL'], [IFF_RUNNING, 'RUNNING'],
];

// Operational states (enum IF_OPER_*, RFC 2863), the value of IFLA_OPERSTATE.
export const IF_OPER_UNKNOWN = 0;
export const IF_OPER_NOTPRESENT = 1;
export const IF_OPER_DOWN = 2;
export const IF_OPER_LOWERLAYERDOWN = 3;
export const IF_OPER_TESTING = 4;
export const IF_OPER_DORMANT = 5;
export const IF_OPER_UP = 6;

/** struct ifinfomsg. */
export const ifinfomsg = new Struct<'family' | 'type' | 'index' | 'flags' | 'change'>('ifinfomsg', [
  ['family', 'u8'],
  ['_', 'pad8'],
  ['type', 'u16'],
  ['index', 's32'],
  ['flags', 'u32'],
  ['change', 'u32'],
]);

/**
 * A string sent without a trailing NUL. IFLA_IFALIAS needs it: the kernel stores nla_len bytes as the
 * alias, so a NUL would become part of it, and an empty payload is how an alias is removed. iproute2
 * sends it this way too. Read back, a NUL the kernel adds is dropped.
 */
const unterminated: AttrCodec<string> = {
  name: 'unterminated',
  encode: (a, t, v) => a.unterminated(t, v),
  decode: decodeCString,
};

/**
 * The IFLA_* attributes common to every link, one row each. Declaration order is encoding order: it
 * follows the order `ip link add/set` writes them in (mtu, address, ..., name last), so a request
 * built here is byte-identical to iproute2's (see test/unit/link_golden.test.ts).
 */
export const linkAttrs = new Schema('link', {
  mtu: attr(IFLA_MTU, u32),
  address: attr(IFLA_ADDRESS, macAddress),
  broadcast: attr(IFLA_BROADCAST, macAddress),
  ifalias: attr(IFLA_IFALIAS, unterminated),
  txqlen: attr(IFLA_TXQLEN, u32),
  master: attr(IFLA_MASTER, u32),
  link: attr(IFLA_LINK, u32),
  netNsFd: attr(IFLA_NET_NS_FD, u32),
  ifname: attr(IFLA_IFNAME, string),
  qdisc: attr(IFLA_QDISC, string),
  operstate: attr(IFLA_OPERSTATE, u8),
  linkmode: attr(IFLA_LINKMODE, u8),
  netNsPid: attr(IFLA_NET_NS_PID, u32),
  stats64: attr(IFLA_STATS64, binary),
  group: attr(IFLA_GROUP, u32),
  extMask: attr(IFLA_EXT_MASK, u32),
  promiscuity: attr(IFLA_PROMISCUITY, u32),
  numTxQueues: attr(IFLA_NUM_TX_QUEUES, u32),
  numRxQueues: attr(IFLA_NUM_RX_QUEUES, u32),
  carrier: attr(IFLA_CARRIER, u8),
  carrierChanges: attr(IFLA_CARRIER_CHANGES, u32),
  carrierUpCount: attr(IFLA_CARRIER_UP_COUNT, u32),
  carrierDownCount: attr(IFLA_CARRIER_DOWN_COUNT, u32),
  linkNetnsid: attr(IFLA_LINK_NETNSID, s32),
  protoDown: attr(IFLA_PROTO_DOWN, u8),
  gsoMaxSegs: attr(IFLA_GSO_MAX_SEGS, u32),
  gsoMaxSize: attr(IFLA_GSO_MAX_SIZE, u32),
  newNetnsid: attr(IFLA_NEW_NETNSID, s32),
  targetNetnsid: attr(IFLA_TARGET_NETNSID, s32),
  newIfindex: attr(IFLA_NEW_IFINDEX, s32),
  minMtu: attr(IFLA_MIN_MTU, u32),
  maxMtu: attr(IFLA_MAX_MTU, u32),
  permAddress: attr(IFLA_PERM_ADDRESS, macAddress),
  parentDevName: attr(IFLA_PARENT_DEV_NAME, string),
  altIfname: attrMulti(IFLA_ALT_IFNAME, string),
});

export type LinkAttrs = Decoded<typeof linkAttrs.fields>;

/** A decoded RTM_NEWLINK. */
export interface LinkMessage {
  header: ReturnType<typeof ifinfomsg.decode>;
  attrs: LinkAttrs;
  /** Every attribute as received, for kinds and fields the tables do not describe. */
  raw: AttrMap;
}

/** The header and the attribute index of an RTM_NEWLINK, nothing decoded yet (what `toLink` reads). */
export function readLinkMessage(payload: Buffer): Pick<LinkMessage, 'header' | 'raw'> {
  return { header: ifinfomsg.decode(payload, 0), raw: new AttrMap(payload, ifinfomsg.size) };
}

export function decodeLinkMessage(payload: Buffer): LinkMessage {
  const header = ifinfomsg.decode(payload, 0);
  const raw = new AttrMap(payload, ifinfomsg.size);
  return { header, attrs: linkAttrs.decodeMap(raw), raw };
}

/** Encode an ifinfomsg body with attributes; `extra` writes attributes the table does not cover. */
export function encodeLinkBody(
  header: Partial<ReturnType<typeof ifinfomsg.decode>>,
  attrs: LinkAttrs,
  extra?: (a: AttrWriter) => void,
): Buffer {
  const w = new ByteWriter(128);
  ifinfomsg.encode(w, header);
  const a = new AttrWriter(w);
  linkAttrs.encode(a, attrs);
  extra?.(a);
  return w.toBuffer();
}

/** The IFLA_LINKINFO nest as received: the kind and its data, still raw. */
export interface RawLinkInfo {
  kind?: string;
  /** IFLA_INFO_DATA payload (the kind's own attributes). */
  data?: Buffer;
  /** IFLA_INFO_SLAVE_KIND: the kind of the master this link is a port of ('bridge', 'bond'). */
  slaveKind?: string;
  /** IFLA_INFO_SLAVE_DATA payload (port attributes, e.g. IFLA_BRPORT_*). */
  slaveData?: Buffer;
}

/** Read IFLA_LINKINFO, or undefined when the link has none (lo, physical NICs not enslaved). */
export function decodeRawLinkInfo(raw: AttrMap): RawLinkInfo | undefined {
  const info = raw.nested(IFLA_LINKINFO);
  if (!info) return undefined;
  const out: RawLinkInfo = {};
  const kind = info.string(IFLA_INFO_KIND);
  if (kind !== undefined) out.kind = kind;
  const data = info.get(IFLA_INFO_DATA);
  if (data) out.data = Buffer.from(data);
  const slaveKind = info.string(IFLA_INFO_SLAVE_KIND);
  if (slaveKind !== undefined) out.slaveKind = slaveKind;
  const slaveData = info.get(IFLA_INFO_SLAVE_DATA);
  if (slaveData) out.slaveData = Buffer.from(slaveData);
  return out;
}

/**
 * Write IFLA_LINKINFO { IFLA_INFO_KIND, IFLA_INFO_DATA { ... } } the way iproute2 does: the kind
 * without a trailing NUL, the nests without NLA_F_NESTED (rtnetlink parses these nests with the
 * lenient parser, so both forms are accepted; matching iproute2 byte for byte keeps the golden tests
 * meaningful and works on old kernels), and no IFLA_INFO_DATA at all when the kind has no options.
 */
export function writeLinkInfo(a: AttrWriter, kind: string, data?: (d: AttrWriter) => void): void {
  a.nested(
    IFLA_LINKINFO,
    (li) => {
      li.unterminated(IFLA_INFO_KIND, kind);
      if (!data) return;
      const inner = new AttrWriter();
      data(inner);
      if (inner.w.length > 0) li.raw(IFLA_INFO_DATA, inner.w.toBuffer());
    },
    false,
  );
}

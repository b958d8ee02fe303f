/**
 * RTM_*LINK messages: struct ifinfomsg and the IFLA_* attributes (<linux/if_link.h>).
 * Link kinds (IFLA_INFO_DATA of veth, bridge, ...) live in ./kinds/.
 * @module
 */
import { AttrMap, AttrWriter, ByteWriter } from '../netlink/attributes.js';
import { Struct, attr, binary, macAddress, s32, Schema, string, u32, u8, type Decoded } from '../netlink/schema.js';

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
export const IFLA_NEW_IFINDEX = 49;
export const IFLA_MIN_MTU = 50;
export const IFLA_MAX_MTU = 51;
export const IFLA_ALT_IFNAME = 53;
export const IFLA_PERM_ADDRESS = 54;

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
export const IFF_LOOPBACK = 0x8;
export const IFF_POINTOPOINT = 0x10;
export const IFF_NOARP = 0x80;
export const IFF_PROMISC = 0x100;
export const IFF_MULTICAST = 0x1000;
export const IFF_LOWER_UP = 0x10000;

/** struct ifinfomsg. */
export const ifinfomsg = new Struct<'family' | 'type' | 'index' | 'flags' | 'change'>('ifinfomsg', [
  ['family', 'u8'],
  ['_', 'pad8'],
  ['type', 'u16'],
  ['index', 's32'],
  ['flags', 'u32'],
  ['change', 'u32'],
]);

/** The IFLA_* attributes common to every link, one row each. */
export const linkAttrs = new Schema('link', {
  address: attr(IFLA_ADDRESS, macAddress),
  broadcast: attr(IFLA_BROADCAST, macAddress),
  ifname: attr(IFLA_IFNAME, string),
  mtu: attr(IFLA_MTU, u32),
  link: attr(IFLA_LINK, u32),
  qdisc: attr(IFLA_QDISC, string),
  master: attr(IFLA_MASTER, u32),
  txqlen: attr(IFLA_TXQLEN, u32),
  operstate: attr(IFLA_OPERSTATE, u8),
  linkmode: attr(IFLA_LINKMODE, u8),
  netNsPid: attr(IFLA_NET_NS_PID, u32),
  ifalias: attr(IFLA_IFALIAS, string),
  stats64: attr(IFLA_STATS64, binary),
  group: attr(IFLA_GROUP, u32),
  netNsFd: attr(IFLA_NET_NS_FD, u32),
  extMask: attr(IFLA_EXT_MASK, u32),
  promiscuity: attr(IFLA_PROMISCUITY, u32),
  numTxQueues: attr(IFLA_NUM_TX_QUEUES, u32),
  numRxQueues: attr(IFLA_NUM_RX_QUEUES, u32),
  carrier: attr(IFLA_CARRIER, u8),
  carrierChanges: attr(IFLA_CARRIER_CHANGES, u32),
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
});

export type LinkAttrs = Decoded<typeof linkAttrs.fields>;

/** A decoded RTM_NEWLINK. */
export interface LinkMessage {
  header: ReturnType<typeof ifinfomsg.decode>;
  attrs: LinkAttrs;
  /** Every attribute as received, for kinds and fields the tables do not describe. */
  raw: AttrMap;
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

/**
 * RTM_*NEIGH messages: struct ndmsg and the NDA_* attributes (<linux/neighbour.h>).
 * @module
 */
import { Message } from '../../netlink/message.js';
import { Schema, Struct, attr, ipAddress, macAddress, s32, u16, u32, u8, type AttrCodec, type Decoded } from '../../netlink/schema.js';

export const NDA_DST = 1;
export const NDA_LLADDR = 2;
export const NDA_CACHEINFO = 3;
export const NDA_PROBES = 4;
export const NDA_VLAN = 5;
export const NDA_PORT = 6;
export const NDA_VNI = 7;
export const NDA_IFINDEX = 8;
export const NDA_MASTER = 9;
export const NDA_LINK_NETNSID = 10;
export const NDA_SRC_VNI = 11;
export const NDA_PROTOCOL = 12;
export const NDA_NH_ID = 13;
export const NDA_FDB_EXT_ATTRS = 14;
export const NDA_FLAGS_EXT = 15;

// ndm_flags.
export const NTF_USE = 1 << 0;
export const NTF_SELF = 1 << 1;
export const NTF_MASTER = 1 << 2;
export const NTF_PROXY = 1 << 3;
export const NTF_EXT_LEARNED = 1 << 4;
export const NTF_OFFLOADED = 1 << 5;
export const NTF_STICKY = 1 << 6;
export const NTF_ROUTER = 1 << 7;
// NDA_FLAGS_EXT.
export const NTF_EXT_MANAGED = 1 << 0;

// ndm_state.
export const NUD_NONE = 0x00;
export const NUD_INCOMPLETE = 0x01;
export const NUD_REACHABLE = 0x02;
export const NUD_STALE = 0x04;
export const NUD_DELAY = 0x08;
export const NUD_PROBE = 0x10;
export const NUD_FAILED = 0x20;
export const NUD_NOARP = 0x40;
export const NUD_PERMANENT = 0x80;
/** States that hold a link-layer address (include/net/neighbour.h). */
export const NUD_VALID = NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY;

/** Neighbour states by the names `ip neigh ... nud NAME` accepts (`ip -j` prints them upper-cased). */
export const NUD_STATES = {
  incomplete: NUD_INCOMPLETE,
  reachable: NUD_REACHABLE,
  stale: NUD_STALE,
  delay: NUD_DELAY,
  probe: NUD_PROBE,
  failed: NUD_FAILED,
  noarp: NUD_NOARP,
  permanent: NUD_PERMANENT,
  none: NUD_NONE,
} as const;

/** Neighbour flags by the names `ip neigh` prints. */
export const NTF_NAMES = {
  use: NTF_USE,
  self: NTF_SELF,
  master: NTF_MASTER,
  proxy: NTF_PROXY,
  extern_learn: NTF_EXT_LEARNED,
  offload: NTF_OFFLOADED,
  sticky: NTF_STICKY,
  router: NTF_ROUTER,
} as const;

/** struct ndmsg. */
export const ndmsg = new Struct<'family' | 'ifindex' | 'state' | 'flags' | 'type'>('ndmsg', [
  ['family', 'u8'],
  ['_', 'pad8'],
  ['_', 'pad16'],
  ['ifindex', 's32'],
  ['state', 'u16'],
  ['flags', 'u8'],
  ['type', 'u8'],
]);

export type NdmsgHeader = ReturnType<typeof ndmsg.decode>;

/** struct nda_cacheinfo: ages in clock ticks (USER_HZ) since the entry was confirmed, used, updated. */
export interface NdaCacheinfo {
  confirmed: number;
  used: number;
  updated: number;
  refcnt: number;
}

export const ndaCacheinfo: AttrCodec<NdaCacheinfo> = {
  name: 'nda_cacheinfo',
  encode: () => {
    throw new Error('NDA_CACHEINFO is never sent');
  },
  decode: (b) => ({ confirmed: b.readUInt32LE(0), used: b.readUInt32LE(4), updated: b.readUInt32LE(8), refcnt: b.readUInt32LE(12) }),
};

/** The NDA_* attributes, in the order `ip neigh add` sends them (destination, then link-layer address). */
export const neighAttrs = new Schema('neigh', {
  dst: attr(NDA_DST, ipAddress),
  lladdr: attr(NDA_LLADDR, macAddress),
  cacheinfo: attr(NDA_CACHEINFO, ndaCacheinfo),
  probes: attr(NDA_PROBES, u32),
  vlan: attr(NDA_VLAN, u16),
  vni: attr(NDA_VNI, u32),
  ifindex: attr(NDA_IFINDEX, u32),
  master: attr(NDA_MASTER, u32),
  linkNetnsid: attr(NDA_LINK_NETNSID, s32),
  protocol: attr(NDA_PROTOCOL, u8),
  flagsExt: attr(NDA_FLAGS_EXT, u32),
});

export type NeighAttrs = Decoded<typeof neighAttrs.fields>;

/** A decoded RTM_NEWNEIGH. */
export interface NeighMessage {
  header: NdmsgHeader;
  attrs: NeighAttrs;
}

export const neighMessage = new Message(ndmsg, neighAttrs, 64);

export function decodeNeighMessage(payload: Buffer): NeighMessage {
  return neighMessage.decode(payload);
}

export function encodeNeighBody(header: Partial<NdmsgHeader>, attrs: NeighAttrs): Buffer {
  return neighMessage.encode(header, attrs);
}

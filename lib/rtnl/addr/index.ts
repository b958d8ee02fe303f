/**
 * RTM_*ADDR messages: struct ifaddrmsg and the IFA_* attributes (<linux/if_addr.h>).
 * @module
 */
import { ByteWriter } from '../../netlink/attributes.js';
import { Message } from '../../netlink/message.js';
import { Schema, Struct, attr, ipAddress, string, u32, u8, type AttrCodec, type Decoded } from '../../netlink/schema.js';

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_LABEL = 3;
export const IFA_BROADCAST = 4;
export const IFA_ANYCAST = 5;
export const IFA_CACHEINFO = 6;
export const IFA_MULTICAST = 7;
export const IFA_FLAGS = 8;
export const IFA_RT_PRIORITY = 9;
export const IFA_TARGET_NETNSID = 10;
export const IFA_PROTO = 11;

// ifa_flags: the low 8 bits fit in the header, the rest only in IFA_FLAGS.
export const IFA_F_SECONDARY = 0x01;
export const IFA_F_TEMPORARY = IFA_F_SECONDARY;
export const IFA_F_NODAD = 0x02;
export const IFA_F_OPTIMISTIC = 0x04;
export const IFA_F_DADFAILED = 0x08;
export const IFA_F_HOMEADDRESS = 0x10;
export const IFA_F_DEPRECATED = 0x20;
export const IFA_F_TENTATIVE = 0x40;
export const IFA_F_PERMANENT = 0x80;
export const IFA_F_MANAGETEMPADDR = 0x100;
export const IFA_F_NOPREFIXROUTE = 0x200;
export const IFA_F_MCAUTOJOIN = 0x400;
export const IFA_F_STABLE_PRIVACY = 0x800;

/** Lifetime value meaning "forever" in struct ifa_cacheinfo (INFINITY_LIFE_TIME). */
export const INFINITY_LIFE_TIME = 0xffffffff;

/** Address flags by the names `ip address` prints and accepts. */
export const ADDRESS_FLAG_NAMES = {
  secondary: IFA_F_SECONDARY,
  nodad: IFA_F_NODAD,
  optimistic: IFA_F_OPTIMISTIC,
  dadfailed: IFA_F_DADFAILED,
  home: IFA_F_HOMEADDRESS,
  deprecated: IFA_F_DEPRECATED,
  tentative: IFA_F_TENTATIVE,
  permanent: IFA_F_PERMANENT,
  mngtmpaddr: IFA_F_MANAGETEMPADDR,
  noprefixroute: IFA_F_NOPREFIXROUTE,
  autojoin: IFA_F_MCAUTOJOIN,
  'stable-privacy': IFA_F_STABLE_PRIVACY,
} as const;

/** struct ifaddrmsg. */
export const ifaddrmsg = new Struct<'family' | 'prefixlen' | 'flags' | 'scope' | 'index'>('ifaddrmsg', [
  ['family', 'u8'],
  ['prefixlen', 'u8'],
  ['flags', 'u8'],
  ['scope', 'u8'],
  ['index', 'u32'],
]);

export type IfaddrmsgHeader = ReturnType<typeof ifaddrmsg.decode>;

/** struct ifa_cacheinfo: lifetimes in seconds, timestamps in hundredths of a second since boot. */
export interface IfaCacheinfo {
  preferred: number;
  valid: number;
  created: number;
  updated: number;
}

export const ifaCacheinfo: AttrCodec<IfaCacheinfo> = {
  name: 'ifa_cacheinfo',
  encode: (a, t, v) => {
    const w = new ByteWriter(16);
    w.u32(v.preferred).u32(v.valid).u32(v.created).u32(v.updated);
    a.raw(t, w.toBuffer());
  },
  decode: (b) => ({ preferred: b.readUInt32LE(0), valid: b.readUInt32LE(4), created: b.readUInt32LE(8), updated: b.readUInt32LE(12) }),
};

/**
 * The IFA_* attributes, one row each. Declared in the order `ip address add` sends them, so a
 * request encodes to the same bytes iproute2 produces.
 */
export const addrAttrs = new Schema('addr', {
  local: attr(IFA_LOCAL, ipAddress),
  label: attr(IFA_LABEL, string),
  flags: attr(IFA_FLAGS, u32),
  address: attr(IFA_ADDRESS, ipAddress),
  broadcast: attr(IFA_BROADCAST, ipAddress),
  anycast: attr(IFA_ANYCAST, ipAddress),
  multicast: attr(IFA_MULTICAST, ipAddress),
  cacheinfo: attr(IFA_CACHEINFO, ifaCacheinfo),
  rtPriority: attr(IFA_RT_PRIORITY, u32),
  proto: attr(IFA_PROTO, u8),
});

export type AddrAttrs = Decoded<typeof addrAttrs.fields>;

/** A decoded RTM_NEWADDR. */
export interface AddrMessage {
  header: IfaddrmsgHeader;
  attrs: AddrAttrs;
}

export const addrMessage = new Message(ifaddrmsg, addrAttrs, 96);

export function decodeAddrMessage(payload: Buffer): AddrMessage {
  return addrMessage.decode(payload);
}

export function encodeAddrBody(header: Partial<IfaddrmsgHeader>, attrs: AddrAttrs): Buffer {
  return addrMessage.encode(header, attrs);
}

/** The effective flags: IFA_FLAGS when the kernel sent it (it carries all 32 bits), else the header's 8. */
export function addrFlags(m: AddrMessage): number {
  return m.attrs.flags ?? m.header.flags;
}

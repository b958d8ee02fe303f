/**
 * vxlan: Ethernet over UDP (RFC 7348), IFLA_VXLAN_* in <linux/if_link.h>.
 *
 * The wire has one attribute for "the other side" (IFLA_VXLAN_GROUP / GROUP6) whatever it is; like
 * `ip`, the API calls it `group` when it is a multicast address and `remote` when it is unicast.
 * IPv4 and IPv6 addresses use different attributes (GROUP vs GROUP6, LOCAL vs LOCAL6); the API
 * picks by the address.
 * @module
 */
import { ValidationError } from '../../../errors.js';
import type { AttrCodec } from '../../../netlink/schema.js';
import { Schema, attr, be16, be32, flag, ipAddress, u32, u8, u8bool } from '../../../netlink/schema.js';
import { parseIp } from '../../../validate/ip.js';
import { validateBoolean, validateChoice, validateIntRange, validateLinkRef } from '../../../validate/link.js';
import { enumCodec } from './codecs.js';
import type { LinkKind, LinkRef } from './kind.js';

export const IFLA_VXLAN_ID = 1;
export const IFLA_VXLAN_GROUP = 2;
export const IFLA_VXLAN_LINK = 3;
export const IFLA_VXLAN_LOCAL = 4;
export const IFLA_VXLAN_TTL = 5;
export const IFLA_VXLAN_TOS = 6;
export const IFLA_VXLAN_LEARNING = 7;
export const IFLA_VXLAN_AGEING = 8;
export const IFLA_VXLAN_LIMIT = 9;
export const IFLA_VXLAN_PORT_RANGE = 10;
export const IFLA_VXLAN_PROXY = 11;
export const IFLA_VXLAN_RSC = 12;
export const IFLA_VXLAN_L2MISS = 13;
export const IFLA_VXLAN_L3MISS = 14;
export const IFLA_VXLAN_PORT = 15;
export const IFLA_VXLAN_GROUP6 = 16;
export const IFLA_VXLAN_LOCAL6 = 17;
export const IFLA_VXLAN_UDP_CSUM = 18;
export const IFLA_VXLAN_UDP_ZERO_CSUM6_TX = 19;
export const IFLA_VXLAN_UDP_ZERO_CSUM6_RX = 20;
export const IFLA_VXLAN_REMCSUM_TX = 21;
export const IFLA_VXLAN_REMCSUM_RX = 22;
export const IFLA_VXLAN_GBP = 23;
export const IFLA_VXLAN_REMCSUM_NOPARTIAL = 24;
export const IFLA_VXLAN_COLLECT_METADATA = 25;
export const IFLA_VXLAN_LABEL = 26;
export const IFLA_VXLAN_GPE = 27;
export const IFLA_VXLAN_TTL_INHERIT = 28;
export const IFLA_VXLAN_DF = 29;
export const IFLA_VXLAN_VNIFILTER = 30;

/** VNIs are 24 bits (VXLAN_N_VID = 1 << 24). */
export const VXLAN_VNI_MAX = 0xffffff;
/** The IANA port. Linux's default when no port is given is 8472, which predates it. */
export const VXLAN_IANA_PORT = 4789;

/** enum ifla_vxlan_df. */
export const VXLAN_DF = { unset: 0, set: 1, inherit: 2 } as const;
export type VxlanDf = keyof typeof VXLAN_DF;

/** struct ifla_vxlan_port_range: two big-endian u16. */
const portRange: AttrCodec<{ low: number; high: number }> = {
  name: 'portRange',
  encode: (a, t, v) => {
    const b = Buffer.alloc(4);
    b.writeUInt16BE(v.low, 0);
    b.writeUInt16BE(v.high, 2);
    a.raw(t, b);
  },
  decode: (b) => ({ low: b.readUInt16BE(0), high: b.readUInt16BE(2) }),
};

/**
 * IFLA_VXLAN_TTL_INHERIT is a flag going in (presence means on) but the kernel reports it as a u8
 * (0 or 1) in dumps, so presence alone does not mean on.
 */
const flagInU8: AttrCodec<boolean> = {
  name: 'flagInU8',
  encode: (a, t, v) => { if (v) a.flag(t); },
  decode: (b) => b.length === 0 || b.readUInt8(0) !== 0,
};

/** IFLA_VXLAN_* one row each, as they are on the wire. */
export const vxlanAttrs = new Schema('vxlan', {
  id: attr(IFLA_VXLAN_ID, u32),
  group: attr(IFLA_VXLAN_GROUP, ipAddress),
  group6: attr(IFLA_VXLAN_GROUP6, ipAddress),
  local: attr(IFLA_VXLAN_LOCAL, ipAddress),
  local6: attr(IFLA_VXLAN_LOCAL6, ipAddress),
  link: attr(IFLA_VXLAN_LINK, u32),
  port: attr(IFLA_VXLAN_PORT, be16),
  portRange: attr(IFLA_VXLAN_PORT_RANGE, portRange),
  ttl: attr(IFLA_VXLAN_TTL, u8),
  ttlInherit: attr(IFLA_VXLAN_TTL_INHERIT, flagInU8),
  tos: attr(IFLA_VXLAN_TOS, u8),
  df: attr(IFLA_VXLAN_DF, enumCodec('vxlanDf', 8, VXLAN_DF)),
  label: attr(IFLA_VXLAN_LABEL, be32),
  learning: attr(IFLA_VXLAN_LEARNING, u8bool),
  ageing: attr(IFLA_VXLAN_AGEING, u32),
  limit: attr(IFLA_VXLAN_LIMIT, u32),
  proxy: attr(IFLA_VXLAN_PROXY, u8bool),
  rsc: attr(IFLA_VXLAN_RSC, u8bool),
  l2miss: attr(IFLA_VXLAN_L2MISS, u8bool),
  l3miss: attr(IFLA_VXLAN_L3MISS, u8bool),
  udpCsum: attr(IFLA_VXLAN_UDP_CSUM, u8bool),
  udpZeroCsum6Tx: attr(IFLA_VXLAN_UDP_ZERO_CSUM6_TX, u8bool),
  udpZeroCsum6Rx: attr(IFLA_VXLAN_UDP_ZERO_CSUM6_RX, u8bool),
  remcsumTx: attr(IFLA_VXLAN_REMCSUM_TX, u8bool),
  remcsumRx: attr(IFLA_VXLAN_REMCSUM_RX, u8bool),
  gbp: attr(IFLA_VXLAN_GBP, flag),
  remcsumNopartial: attr(IFLA_VXLAN_REMCSUM_NOPARTIAL, flag),
  collectMetadata: attr(IFLA_VXLAN_COLLECT_METADATA, u8bool),
  gpe: attr(IFLA_VXLAN_GPE, flag),
  vnifilter: attr(IFLA_VXLAN_VNIFILTER, u8bool),
});

/** What a vxlan reports (`ip -d link show type vxlan`). */
export interface VxlanInfo {
  vni?: number;
  /** Unicast address of the other end (`remote`). */
  remote?: string;
  /** Multicast group (`group`). */
  group?: string;
  local?: string;
  /** ifindex of the underlying device (`dev`). */
  link?: number;
  /** UDP destination port. */
  port?: number;
  portRange?: { low: number; high: number };
  /** 0 means the kernel's default (64 when the route gives none). */
  ttl?: number;
  ttlInherit?: boolean;
  tos?: number;
  df?: VxlanDf | number;
  label?: number;
  learning?: boolean;
  /** Lifetime of learned entries, in seconds. */
  ageing?: number;
  limit?: number;
  proxy?: boolean;
  rsc?: boolean;
  l2miss?: boolean;
  l3miss?: boolean;
  udpCsum?: boolean;
  udpZeroCsum6Tx?: boolean;
  udpZeroCsum6Rx?: boolean;
  remcsumTx?: boolean;
  remcsumRx?: boolean;
  gbp?: boolean;
  remcsumNopartial?: boolean;
  /** `external`: the VNI and remote come from the packet's metadata (lightweight tunnels). */
  collectMetadata?: boolean;
  gpe?: boolean;
  vnifilter?: boolean;
}

/** Options of `links.add({ kind: 'vxlan', ... })`, named after `ip link add type vxlan` words. */
export interface VxlanOptions {
  /** `id`: 0..16777215. Required unless `collectMetadata`. */
  vni?: number;
  /** `remote`: unicast address of the single other end. */
  remote?: string;
  /** `group`: multicast group to join (needs `link`/`dev` on most setups). */
  group?: string;
  /** `local`: source address. */
  local?: string;
  /** `dev`: the underlying device, in the namespace the request is sent in. */
  link?: LinkRef;
  /** `dstport`: 1..65535. Omitted: the kernel's default 8472; the IANA port is 4789. */
  port?: number;
  /** `srcport LOW HIGH`. */
  portRange?: { low: number; high: number };
  /** `ttl`: 0..255, or 'inherit'. */
  ttl?: number | 'inherit';
  /** `tos`: 0..255 (1 means inherit). */
  tos?: number;
  /** `df`. */
  df?: VxlanDf;
  /** `flowlabel` (IPv6), 20 bits. */
  label?: number;
  /** `learning` / `nolearning` (kernel default: learning). */
  learning?: boolean;
  /** `ageing`, in seconds. */
  ageing?: number;
  /** `maxaddress`: 0 is unlimited. */
  limit?: number;
  proxy?: boolean;
  l2miss?: boolean;
  l3miss?: boolean;
  /** `udpcsum` / `noudpcsum` (IPv4). */
  udpCsum?: boolean;
  /** `external`. */
  collectMetadata?: boolean;
}

function isMulticast(bytes: Buffer): boolean {
  return bytes.length === 4 ? (bytes[0] & 0xf0) === 0xe0 : bytes[0] === 0xff;
}

export const vxlan: LinkKind<VxlanOptions, VxlanInfo> = {
  kind: 'vxlan',
  optionKeys: ['vni', 'remote', 'group', 'local', 'link', 'port', 'portRange', 'ttl', 'tos', 'df', 'label', 'learning', 'ageing', 'limit', 'proxy', 'l2miss', 'l3miss', 'udpCsum', 'collectMetadata'],

  validate(o) {
    if (o.vni !== undefined) validateIntRange('vni', o.vni, 0, VXLAN_VNI_MAX);
    else if (!o.collectMetadata) throw new ValidationError('vni', o.vni, 'is required (0..16777215) unless collectMetadata is set');
    if (o.remote !== undefined && o.group !== undefined) throw new ValidationError('remote', o.remote, 'cannot be given together with group');
    const families = new Set<number>();
    if (o.remote !== undefined) {
      const r = parseIp(o.remote, 'remote');
      if (isMulticast(r.bytes)) throw new ValidationError('remote', o.remote, 'is a multicast address; use group');
      families.add(r.family);
    }
    if (o.group !== undefined) {
      const g = parseIp(o.group, 'group');
      if (!isMulticast(g.bytes)) throw new ValidationError('group', o.group, 'is not a multicast address; use remote');
      families.add(g.family);
    }
    if (o.local !== undefined) {
      const l = parseIp(o.local, 'local');
      if (isMulticast(l.bytes)) throw new ValidationError('local', o.local, 'must be a unicast address');
      families.add(l.family);
    }
    if (families.size > 1) throw new ValidationError('local', o.local, 'must be of the same address family as remote/group');
    if (o.link !== undefined) validateLinkRef(o.link, 'link');
    if (o.port !== undefined) validateIntRange('port', o.port, 1, 65535);
    if (o.portRange !== undefined) {
      validateIntRange('portRange.low', o.portRange?.low, 1, 65535);
      validateIntRange('portRange.high', o.portRange.high, o.portRange.low, 65535);
    }
    if (o.ttl !== undefined && o.ttl !== 'inherit') validateIntRange('ttl', o.ttl, 0, 255);
    if (o.tos !== undefined) validateIntRange('tos', o.tos, 0, 255);
    if (o.df !== undefined) validateChoice('df', o.df, Object.keys(VXLAN_DF) as VxlanDf[]);
    if (o.label !== undefined) validateIntRange('label', o.label, 0, 0xfffff);
    if (o.ageing !== undefined) validateIntRange('ageing', o.ageing, 0, 0xffffffff);
    if (o.limit !== undefined) validateIntRange('limit', o.limit, 0, 0xffffffff);
    for (const k of ['learning', 'proxy', 'l2miss', 'l3miss', 'udpCsum', 'collectMetadata'] as const) {
      if (o[k] !== undefined) validateBoolean(k, o[k]);
    }
  },

  refs: (o) => (o.link !== undefined ? [o.link] : []),

  encodeData(a, o, ctx) {
    const other = o.remote ?? o.group;
    const otherV6 = other !== undefined && parseIp(other).family === 6;
    const localV6 = o.local !== undefined && parseIp(o.local).family === 6;
    vxlanAttrs.encode(a, {
      id: o.vni,
      group: other !== undefined && !otherV6 ? other : undefined,
      group6: otherV6 ? other : undefined,
      local: o.local !== undefined && !localV6 ? o.local : undefined,
      local6: localV6 ? o.local : undefined,
      link: o.link !== undefined ? ctx.index(o.link) : undefined,
      port: o.port,
      portRange: o.portRange,
      ttl: typeof o.ttl === 'number' ? o.ttl : undefined,
      ttlInherit: o.ttl === 'inherit' ? true : undefined,
      tos: o.tos,
      df: o.df,
      label: o.label,
      learning: o.learning,
      ageing: o.ageing,
      limit: o.limit,
      proxy: o.proxy,
      l2miss: o.l2miss,
      l3miss: o.l3miss,
      udpCsum: o.udpCsum,
      collectMetadata: o.collectMetadata,
    });
  },

  decode(data) {
    const { id, group, group6, local, local6, ...rest } = vxlanAttrs.decode(data);
    const out: VxlanInfo = { ...rest };
    if (id !== undefined) out.vni = id;
    const other = group ?? group6;
    if (other !== undefined) {
      if (isMulticast(parseIp(other).bytes)) out.group = other;
      else out.remote = other;
    }
    const src = local ?? local6;
    if (src !== undefined) out.local = src;
    return out;
  },

  describe(o) {
    const w = ['type vxlan'];
    if (o.vni !== undefined) w.push(`id ${o.vni}`);
    if (o.remote !== undefined) w.push(`remote ${o.remote}`);
    if (o.group !== undefined) w.push(`group ${o.group}`);
    if (o.local !== undefined) w.push(`local ${o.local}`);
    if (o.link !== undefined) w.push(`dev ${o.link}`);
    if (o.port !== undefined) w.push(`dstport ${o.port}`);
    if (o.collectMetadata) w.push('external');
    return w.join(' ');
  },
};

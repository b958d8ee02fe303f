/**
 * RTM_*QDISC / RTM_*TCLASS / RTM_*TFILTER messages: struct tcmsg and the TCA_* attributes common to
 * every kind (<linux/rtnetlink.h>, <linux/pkt_sched.h>). Kind-specific TCA_OPTIONS live in the
 * sibling files (tbf.ts, htb.ts, ...).
 * @module
 */
import { AttrMap, AttrWriter, ByteWriter } from '../../netlink/attributes.js';
import { Schema, Struct, attr, binary, flag, string, u32, u8, type Decoded } from '../../netlink/schema.js';

// enum TCA_* (<linux/rtnetlink.h>).
export const TCA_KIND = 1;
export const TCA_OPTIONS = 2;
export const TCA_STATS = 3;
export const TCA_XSTATS = 4;
export const TCA_RATE = 5;
export const TCA_FCNT = 6;
export const TCA_STATS2 = 7;
export const TCA_STAB = 8;
export const TCA_PAD = 9;
export const TCA_DUMP_INVISIBLE = 10;
export const TCA_CHAIN = 11;
export const TCA_HW_OFFLOAD = 12;
export const TCA_INGRESS_BLOCK = 13;
export const TCA_EGRESS_BLOCK = 14;
export const TCA_DUMP_FLAGS = 15;
export const TCA_EXT_WARN_MSG = 16;

// Handles (<linux/pkt_sched.h>).
export const TC_H_MAJ_MASK = 0xffff0000;
export const TC_H_MIN_MASK = 0x0000ffff;
export const TC_H_UNSPEC = 0;
export const TC_H_ROOT = 0xffffffff;
export const TC_H_INGRESS = 0xfffffff1;
export const TC_H_CLSACT = TC_H_INGRESS;
export const TC_H_MIN_PRIORITY = 0xffe0;
export const TC_H_MIN_INGRESS = 0xfff2;
export const TC_H_MIN_EGRESS = 0xfff3;

/** TC_H_MAJ(h): the major half, still shifted (`1:` is 0x10000). */
export function TC_H_MAJ(h: number): number {
  return (h & TC_H_MAJ_MASK) >>> 0;
}
/** TC_H_MIN(h). */
export function TC_H_MIN(h: number): number {
  return h & TC_H_MIN_MASK;
}
/** TC_H_MAKE(maj, min). */
export function TC_H_MAKE(maj: number, min: number): number {
  return ((maj & TC_H_MAJ_MASK) | (min & TC_H_MIN_MASK)) >>> 0;
}

// <linux/if_ether.h>: the protocol of a filter (tcm_info's minor half, network byte order).
export const ETH_P_ALL = 0x0003;
export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;

/** struct tcmsg. tcm_info of a filter is TC_H_MAKE(prio << 16, htons(protocol)). */
export const tcmsg = new Struct<'family' | 'ifindex' | 'handle' | 'parent' | 'info'>('tcmsg', [
  ['family', 'u8'],
  ['_', 'pad8'],
  ['_', 'pad16'],
  ['ifindex', 's32'],
  ['handle', 'u32'],
  ['parent', 'u32'],
  ['info', 'u32'],
]);

export type TcHeader = ReturnType<typeof tcmsg.decode>;

/** The TCA_* attributes every qdisc, class and filter message has; TCA_OPTIONS is the kind's. */
export const tcAttrs = new Schema('tca', {
  kind: attr(TCA_KIND, string),
  options: attr(TCA_OPTIONS, binary),
  stats: attr(TCA_STATS, binary),
  xstats: attr(TCA_XSTATS, binary),
  rate: attr(TCA_RATE, binary),
  stats2: attr(TCA_STATS2, binary),
  dumpInvisible: attr(TCA_DUMP_INVISIBLE, flag),
  chain: attr(TCA_CHAIN, u32),
  hwOffload: attr(TCA_HW_OFFLOAD, u8),
  ingressBlock: attr(TCA_INGRESS_BLOCK, u32),
  egressBlock: attr(TCA_EGRESS_BLOCK, u32),
  extWarnMsg: attr(TCA_EXT_WARN_MSG, string),
});

export type TcAttrs = Decoded<typeof tcAttrs.fields>;

/** One decoded qdisc/class/filter message. `options` stays raw: its layout depends on the kind. */
export interface TcMessage {
  header: TcHeader;
  attrs: TcAttrs;
}

/**
 * A request body: tcmsg, then TCA_CHAIN (filters), TCA_KIND, and the kind's options written by
 * `options` inside TCA_OPTIONS. The nest goes without NLA_F_NESTED, as `tc` sends it (the kernel accepts both).
 */
export function encodeTcBody(
  header: Partial<TcHeader>,
  fill: { kind?: string; chain?: number; options?: (a: AttrWriter) => void; rawOptions?: Buffer },
): Buffer {
  const w = new ByteWriter(1600);
  tcmsg.encode(w, header);
  const a = new AttrWriter(w);
  if (fill.chain !== undefined) a.u32(TCA_CHAIN, fill.chain);
  if (fill.kind !== undefined) a.string(TCA_KIND, fill.kind);
  if (fill.options) a.nested(TCA_OPTIONS, fill.options, false);
  // pfifo/bfifo: TCA_OPTIONS is the bare struct, not a nest.
  if (fill.rawOptions) a.raw(TCA_OPTIONS, fill.rawOptions);
  return w.toBuffer();
}

export function decodeTcMessage(payload: Buffer): TcMessage {
  const header = tcmsg.decode(payload, 0);
  const attrs = tcAttrs.decodeMap(new AttrMap(payload, tcmsg.size));
  return { header, attrs };
}

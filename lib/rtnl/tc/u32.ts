/**
 * The u32 classifier's TCA_OPTIONS (TCA_U32_*, struct tc_u32_sel / tc_u32_key in
 * <linux/pkt_cls.h>), and the match keys tc/f_u32.c builds for `match ip ...` / `match ip6 ...`:
 * 32-bit value/mask pairs at byte offsets of the network header, merged when two matches share a
 * word (`ip protocol` and `ip ttl` both live at offset 8), all in network byte order.
 * @module
 */
import { AttrMap, type AttrWriter } from '../../netlink/attributes.js';
import { decodeActions, encodeActions, type ActionParams, type DecodedAction } from './actions.js';

export const TCA_U32_CLASSID = 1;
export const TCA_U32_HASH = 2;
export const TCA_U32_LINK = 3;
export const TCA_U32_DIVISOR = 4;
export const TCA_U32_SEL = 5;
export const TCA_U32_POLICE = 6;
export const TCA_U32_ACT = 7;
export const TCA_U32_INDEV = 8;
export const TCA_U32_PCNT = 9;
export const TCA_U32_MARK = 10;
export const TCA_U32_FLAGS = 11;

export const TC_U32_TERMINAL = 1;
export const TC_U32_OFFSET = 2;
export const TC_U32_VAROFFSET = 4;
export const TC_U32_EAT = 8;

/** TC_U32_HTID / TC_U32_HASH / TC_U32_NODE of a u32 handle (htid:hash:node). */
export const u32Htid = (h: number): number => (h & 0xfff00000) >>> 0;
export const u32Hash = (h: number): number => (h >>> 12) & 0xff;
export const u32Node = (h: number): number => h & 0xfff;

/** One struct tc_u32_key. `value` and `mask` are the 32-bit big-endian word as a number. */
export interface U32Key {
  value: number;
  mask: number;
  /** Byte offset from the network header, a multiple of 4. */
  off: number;
  /** Non-zero: the offset is relative to the next header (tc's `nexthdr+`). */
  offmask: number;
}

/**
 * Add a key as pack_key does: a key at an offset already used is merged into it (refused when the
 * two contradict each other, which tc refuses too), else appended. Returns false on a contradiction.
 */
export function packKey(keys: U32Key[], value: number, mask: number, off: number, offmask = 0): boolean {
  value = (value & mask) >>> 0;
  const same = keys.find((k) => k.off === off && k.offmask === offmask);
  if (same) {
    const overlap = (mask & same.mask) >>> 0;
    if (((value ^ same.value) & overlap) >>> 0) return false;
    same.value = (same.value | value) >>> 0;
    same.mask = (same.mask | mask) >>> 0;
    return true;
  }
  keys.push({ value, mask: mask >>> 0, off, offmask });
  return true;
}

/** A 16-bit field at `off` (pack_key16: the upper half of the word when off is 4-aligned). */
export function packKey16(keys: U32Key[], value: number, mask: number, off: number, offmask = 0): boolean {
  const shift = (off & 3) === 0 ? 16 : 0;
  return packKey(keys, (value << shift) >>> 0, (mask << shift) >>> 0, off & ~3, offmask);
}

/** An 8-bit field at `off` (pack_key8). */
export function packKey8(keys: U32Key[], value: number, mask: number, off: number, offmask = 0): boolean {
  const shift = 24 - 8 * (off & 3);
  return packKey(keys, (value << shift) >>> 0, (mask << shift) >>> 0, off & ~3, offmask);
}

/** A prefix of `bytes` (an IPv4 or IPv6 address) starting at `off`, one key per 32-bit word. */
export function packPrefix(keys: U32Key[], bytes: Uint8Array, prefixLen: number, off: number): boolean {
  const b = Buffer.from(bytes);
  if (prefixLen === 0 && b.length === 4) return packKey(keys, 0, 0, off);
  for (let i = 0; i < prefixLen; i += 32) {
    const bits = Math.min(32, prefixLen - i);
    const mask = bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
    if (!packKey(keys, b.readUInt32BE(i / 8), mask, off + i / 8)) return false;
  }
  return true;
}

/** The filter's parameters. */
export interface U32Params {
  keys: U32Key[];
  /** Class the matching packets go to (tc's `classid`/`flowid`). */
  classid?: number;
  actions?: ActionParams[];
  /** TCA_CLS_FLAGS_SKIP_HW / SKIP_SW. */
  flags?: number;
}

const SEL_SIZE = 16;
const KEY_SIZE = 16;

export function encodeU32(a: AttrWriter, p: U32Params): void {
  if (p.classid !== undefined) a.u32(TCA_U32_CLASSID, p.classid);
  if (p.actions?.length) encodeActions(a, TCA_U32_ACT, p.actions);
  const sel = Buffer.alloc(SEL_SIZE + p.keys.length * KEY_SIZE);
  const terminal = p.classid !== undefined || (p.actions?.length ?? 0) > 0;
  sel.writeUInt8(terminal ? TC_U32_TERMINAL : 0, 0);
  sel.writeUInt8(p.keys.length, 2);
  p.keys.forEach((k, i) => {
    const o = SEL_SIZE + i * KEY_SIZE;
    sel.writeUInt32BE(k.mask, o);
    sel.writeUInt32BE(k.value, o + 4);
    sel.writeInt32LE(k.off, o + 8);
    sel.writeInt32LE(k.offmask, o + 12);
  });
  a.raw(TCA_U32_SEL, sel);
  if (p.flags) a.u32(TCA_U32_FLAGS, p.flags);
}

/** A u32 filter read back, as `tc -d filter show` reports it. */
export interface U32Options {
  classid?: number;
  /** The hash table the filter lives in (tc's key_ht) and its bucket. */
  hashTable?: number;
  link?: number;
  divisor?: number;
  terminal?: boolean;
  keys: U32Key[];
  actions: DecodedAction[];
  flags?: number;
  /** Packets the filter looked at and matched (TCA_U32_PCNT), when the kernel counts them. */
  hits?: { lookups: bigint; hits: bigint };
}

export function decodeU32(b: Buffer | undefined): U32Options | undefined {
  if (!b) return undefined;
  const m = new AttrMap(b);
  const out: U32Options = { keys: [], actions: decodeActions(m.get(TCA_U32_ACT)) };
  const classid = m.u32(TCA_U32_CLASSID);
  if (classid !== undefined) out.classid = classid;
  const ht = m.u32(TCA_U32_HASH);
  if (ht !== undefined) out.hashTable = ht;
  const link = m.u32(TCA_U32_LINK);
  if (link !== undefined) out.link = link;
  const div = m.u32(TCA_U32_DIVISOR);
  if (div !== undefined) out.divisor = div;
  const flags = m.u32(TCA_U32_FLAGS);
  if (flags !== undefined) out.flags = flags;
  const sel = m.get(TCA_U32_SEL);
  if (sel && sel.length >= SEL_SIZE) {
    out.terminal = (sel.readUInt8(0) & TC_U32_TERMINAL) !== 0;
    const n = sel.readUInt8(2);
    for (let i = 0; i < n && SEL_SIZE + (i + 1) * KEY_SIZE <= sel.length; i++) {
      const o = SEL_SIZE + i * KEY_SIZE;
      out.keys.push({ mask: sel.readUInt32BE(o), value: sel.readUInt32BE(o + 4), off: sel.readInt32LE(o + 8), offmask: sel.readInt32LE(o + 12) });
    }
  }
  const pcnt = m.get(TCA_U32_PCNT);
  if (pcnt && pcnt.length >= 16) out.hits = { lookups: pcnt.readBigUInt64LE(0), hits: pcnt.readBigUInt64LE(8) };
  return out;
}

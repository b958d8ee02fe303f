/**
 * The htb qdisc and class TCA_OPTIONS (TCA_HTB_*, struct tc_htb_glob / tc_htb_opt), computed as
 * tc/q_htb.c does: the default burst from rate/HZ plus an MTU, the buffers in ticks, rate and
 * ceil tables, and 64-bit rate/ceil attributes when needed.
 * @module
 */
import { AttrMap, type AttrWriter } from '../../netlink/attributes.js';
import { RATESPEC_SIZE, calcRtable, calcXmitsize, calcXmittime, readRateSpec, writeRateSpec, type PschedClock } from './rate.js';

export const TCA_HTB_PARMS = 1;
export const TCA_HTB_INIT = 2;
export const TCA_HTB_CTAB = 3;
export const TCA_HTB_RTAB = 4;
export const TCA_HTB_DIRECT_QLEN = 5;
export const TCA_HTB_RATE64 = 6;
export const TCA_HTB_CEIL64 = 7;
export const TCA_HTB_PAD = 8;
export const TCA_HTB_OFFLOAD = 9;

/** TC_HTB_PROTOVER: the version tc puts in tc_htb_glob. */
export const TC_HTB_PROTOVER = 3;

/** struct tc_htb_glob is 20 bytes. */
const GLOB_SIZE = 20;
/** struct tc_htb_opt: two ratespecs, then buffer, cbuffer, quantum, level, prio. */
const OPT_SIZE = 2 * RATESPEC_SIZE + 20;
/** tc's assumed packet size for the default bursts and the tables (an Ethernet frame). */
export const HTB_DEFAULT_MTU = 1600;

/** The htb qdisc's parameters. */
export interface HtbQdiscParams {
  /** Minor number of the class unclassified traffic goes to (0: sent unshaped, "direct"). */
  defaultClass: number;
  /** Divisor turning a class rate into its quantum (tc's default 10). */
  r2q: number;
  directQlen?: number;
}

export function encodeHtbQdisc(a: AttrWriter, p: HtbQdiscParams): void {
  const g = Buffer.alloc(GLOB_SIZE);
  g.writeUInt32LE(TC_HTB_PROTOVER, 0);
  g.writeUInt32LE(p.r2q, 4);
  g.writeUInt32LE(p.defaultClass, 8);
  a.raw(TCA_HTB_INIT, g);
  if (p.directQlen !== undefined) a.u32(TCA_HTB_DIRECT_QLEN, p.directQlen);
}

/** An htb class's parameters in kernel units (bytes/s, bytes). */
export interface HtbClassParams {
  rate: number;
  ceil?: number;
  burst?: number;
  cburst?: number;
  prio?: number;
  quantum?: number;
  mtu?: number;
  mpu?: number;
  overhead?: number;
}

export function encodeHtbClass(a: AttrWriter, p: HtbClassParams, clock: PschedClock): void {
  const ceil = p.ceil ?? p.rate;
  const mtu = p.mtu ?? HTB_DEFAULT_MTU;
  // tc: "minimal allowed burst from rate", with integer division by HZ, plus the MTU.
  const buffer = p.burst || Math.floor(p.rate / clock.hz) + mtu;
  const cbuffer = p.cburst || Math.floor(ceil / clock.hz) + mtu;
  const r = calcRtable(clock, p.rate, { mtu, mpu: p.mpu, overhead: p.overhead });
  const c = calcRtable(clock, ceil, { mtu, mpu: p.mpu, overhead: p.overhead });
  const opt = Buffer.alloc(OPT_SIZE);
  writeRateSpec(opt, 0, r.spec);
  writeRateSpec(opt, RATESPEC_SIZE, c.spec);
  const o = 2 * RATESPEC_SIZE;
  opt.writeUInt32LE(calcXmittime(clock, p.rate, buffer), o);
  opt.writeUInt32LE(calcXmittime(clock, ceil, cbuffer), o + 4);
  opt.writeUInt32LE(p.quantum ?? 0, o + 8);
  opt.writeUInt32LE(p.prio ?? 0, o + 16);
  if (p.rate >= 4294967296) a.u64(TCA_HTB_RATE64, BigInt(p.rate));
  if (ceil >= 4294967296) a.u64(TCA_HTB_CEIL64, BigInt(ceil));
  a.raw(TCA_HTB_PARMS, opt);
  a.raw(TCA_HTB_RTAB, r.table);
  a.raw(TCA_HTB_CTAB, c.table);
}

/** An htb qdisc or class read back. Qdiscs have `r2q`/`defaultClass`; classes the rest. */
export interface HtbOptions {
  r2q?: number;
  defaultClass?: number;
  directPackets?: number;
  directQlen?: number;
  rate?: number;
  ceil?: number;
  burst?: number;
  cburst?: number;
  prio?: number;
  quantum?: number;
  /** 0 for a leaf class. */
  level?: number;
}

export function decodeHtb(b: Buffer | undefined, clock: PschedClock): HtbOptions | undefined {
  if (!b) return undefined;
  const m = new AttrMap(b);
  const out: HtbOptions = {};
  const g = m.get(TCA_HTB_INIT);
  if (g && g.length >= GLOB_SIZE) {
    out.r2q = g.readUInt32LE(4);
    out.defaultClass = g.readUInt32LE(8);
    out.directPackets = g.readUInt32LE(16);
  }
  const dq = m.u32(TCA_HTB_DIRECT_QLEN);
  if (dq !== undefined) out.directQlen = dq;
  const p = m.get(TCA_HTB_PARMS);
  if (p && p.length >= OPT_SIZE) {
    const rate = Number(m.u64(TCA_HTB_RATE64) ?? BigInt(readRateSpec(p, 0).rate));
    const ceil = Number(m.u64(TCA_HTB_CEIL64) ?? BigInt(readRateSpec(p, RATESPEC_SIZE).rate));
    const o = 2 * RATESPEC_SIZE;
    Object.assign(out, {
      rate,
      ceil,
      burst: calcXmitsize(clock, rate, p.readUInt32LE(o)),
      cburst: calcXmitsize(clock, ceil, p.readUInt32LE(o + 4)),
      quantum: p.readUInt32LE(o + 8),
      level: p.readUInt32LE(o + 12),
      prio: p.readUInt32LE(o + 16),
    });
  }
  return out;
}

/** struct tc_htb_xstats (TCA_XSTATS of a class): borrowing counters and current tokens. */
export interface HtbClassXstats {
  lends: number;
  borrows: number;
  giants: number;
  tokens: number;
  ctokens: number;
}

export function decodeHtbXstats(b: Buffer | undefined): HtbClassXstats | undefined {
  if (!b || b.length < 20) return undefined;
  return { lends: b.readUInt32LE(0), borrows: b.readUInt32LE(4), giants: b.readUInt32LE(8), tokens: b.readInt32LE(12), ctokens: b.readInt32LE(16) };
}

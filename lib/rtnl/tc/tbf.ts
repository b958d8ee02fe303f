/**
 * The tbf qdisc's TCA_OPTIONS (TCA_TBF_*, struct tc_tbf_qopt in <linux/pkt_sched.h>), computed
 * as tc/q_tbf.c computes them: the limit from the latency, the buffer in ticks, the rate tables,
 * and the 64-bit rate/peakrate attributes when a rate does not fit 32 bits.
 * @module
 */
import { AttrMap, type AttrWriter } from '../../netlink/attributes.js';
import {
  RATESPEC_SIZE,
  TIME_UNITS_PER_SEC,
  calcRtable,
  calcXmitsize,
  calcXmittime,
  rate32,
  readRateSpec,
  tickToTime,
  writeRateSpec,
  type PschedClock,
} from './rate.js';

export const TCA_TBF_PARMS = 1;
export const TCA_TBF_RTAB = 2;
export const TCA_TBF_PTAB = 3;
export const TCA_TBF_RATE64 = 4;
export const TCA_TBF_PRATE64 = 5;
export const TCA_TBF_BURST = 6;
export const TCA_TBF_PBURST = 7;
export const TCA_TBF_PAD = 8;

/** struct tc_tbf_qopt: two ratespecs, then limit, buffer, mtu. */
const QOPT_SIZE = 2 * RATESPEC_SIZE + 12;

/** tbf parameters in the kernel's units (bytes/s, bytes, µs); the API converts tc strings to these. */
export interface TbfParams {
  rate: number;
  burst: number;
  /** Queue limit in bytes; exclusive with `latency`. */
  limit?: number;
  /** Longest time a packet may wait, in µs; the limit is derived from it as tc does. */
  latency?: number;
  peakrate?: number;
  /** Size of the peak-rate bucket (tc's `mtu`/`minburst`), in bytes; needed with `peakrate`. */
  mtu?: number;
  mpu?: number;
  overhead?: number;
}

/** The limit tc derives from a latency: what arrives at the rate during it, plus the bucket. */
export function tbfLimit(p: TbfParams): number {
  if (p.limit !== undefined) return p.limit;
  const latency = p.latency ?? 0;
  let lim = (p.rate * latency) / TIME_UNITS_PER_SEC + p.burst;
  if (p.peakrate) {
    const lim2 = (p.peakrate * latency) / TIME_UNITS_PER_SEC + (p.mtu ?? 0);
    if (lim2 < lim) lim = lim2;
  }
  return Math.min(Math.trunc(lim), 0xffffffff);
}

/** Write the content of TCA_OPTIONS for `tc qdisc ... tbf ...`. */
export function encodeTbf(a: AttrWriter, p: TbfParams, clock: PschedClock): void {
  const opt = Buffer.alloc(QOPT_SIZE);
  const r = calcRtable(clock, p.rate, { mtu: p.mtu ?? 0, mpu: p.mpu, overhead: p.overhead });
  writeRateSpec(opt, 0, r.spec);
  let ptab: Buffer | undefined;
  let mtuTicks = 0;
  if (p.peakrate) {
    const pr = calcRtable(clock, p.peakrate, { mtu: p.mtu ?? 0, mpu: p.mpu, overhead: p.overhead });
    writeRateSpec(opt, RATESPEC_SIZE, pr.spec);
    ptab = pr.table;
    mtuTicks = calcXmittime(clock, rate32(p.peakrate), p.mtu ?? 0);
  }
  opt.writeUInt32LE(tbfLimit(p), 2 * RATESPEC_SIZE);
  // tc computes the buffer from the 32-bit (saturated) rate, not the 64-bit one.
  opt.writeUInt32LE(calcXmittime(clock, rate32(p.rate), p.burst), 2 * RATESPEC_SIZE + 4);
  opt.writeUInt32LE(mtuTicks, 2 * RATESPEC_SIZE + 8);
  a.raw(TCA_TBF_PARMS, opt);
  a.u32(TCA_TBF_BURST, p.burst);
  if (p.rate >= 4294967296) a.u64(TCA_TBF_RATE64, BigInt(p.rate));
  a.raw(TCA_TBF_RTAB, r.table);
  if (ptab) {
    if ((p.peakrate as number) >= 4294967296) a.u64(TCA_TBF_PRATE64, BigInt(p.peakrate as number));
    a.u32(TCA_TBF_PBURST, p.mtu ?? 0);
    a.raw(TCA_TBF_PTAB, ptab);
  }
}

/** A tbf qdisc read back, as `tc -d qdisc show` reports it. */
export interface TbfOptions {
  /** Bytes per second. */
  rate: number;
  /** Bucket size in bytes. */
  burst: number;
  /** Queue limit in bytes. */
  limit: number;
  /** The latency tc prints (µs), derived from limit, rate and burst; absent when negative. */
  latency?: number;
  peakrate?: number;
  /** Peak bucket in bytes (tc's `mtu`/`minburst`). */
  mtu?: number;
  mpu: number;
  overhead: number;
  cellLog: number;
}

export function decodeTbf(b: Buffer | undefined, clock: PschedClock): TbfOptions | undefined {
  if (!b) return undefined;
  const m = new AttrMap(b);
  const parms = m.get(TCA_TBF_PARMS);
  if (!parms || parms.length < QOPT_SIZE) return undefined;
  const rate = readRateSpec(parms, 0);
  const peak = readRateSpec(parms, RATESPEC_SIZE);
  const limit = parms.readUInt32LE(2 * RATESPEC_SIZE);
  const buffer = parms.readUInt32LE(2 * RATESPEC_SIZE + 4);
  const mtuTicks = parms.readUInt32LE(2 * RATESPEC_SIZE + 8);
  const rate64 = Number(m.u64(TCA_TBF_RATE64) ?? BigInt(rate.rate));
  const prate64 = Number(m.u64(TCA_TBF_PRATE64) ?? BigInt(peak.rate));
  const out: TbfOptions = {
    rate: rate64,
    burst: calcXmitsize(clock, rate64, buffer),
    limit,
    mpu: rate.mpu,
    overhead: rate.overhead,
    cellLog: rate.cellLog,
  };
  // As tbf_print_opt: the time a full queue takes to drain, less the bucket's.
  let latency = TIME_UNITS_PER_SEC * (limit / rate64) - tickToTime(clock, buffer);
  if (prate64) {
    out.peakrate = prate64;
    if (mtuTicks || peak.mpu) out.mtu = calcXmitsize(clock, prate64, mtuTicks);
    const lat2 = TIME_UNITS_PER_SEC * (limit / prate64) - tickToTime(clock, mtuTicks);
    if (lat2 > latency) latency = lat2;
  }
  if (latency >= 0) out.latency = Math.trunc(latency);
  return out;
}

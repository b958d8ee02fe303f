/**
 * Rates, rate tables and the kernel's scheduler clock, computed as iproute2 6.1's tc/tc_core.c
 * does, so the bytes sent equal `tc`'s (the golden test checks the tutorial's tbf).
 *
 * The kernel no longer schedules from the rate table (it computes from the rate since Linux 3.8)
 * but tbf and htb still require a 1024-byte TCA_*_RTAB, and the buffer/burst is given in scheduler
 * ticks, so the tick length matters: /proc/net/psched gives it.
 * @module
 */

/** What /proc/net/psched says about the scheduler clock (tc_core_init, __get_hz). */
export interface PschedClock {
  /** Ticks per microsecond (15.625 on every kernel since 2.6.31: a tick is 64 ns). */
  tickInUsec: number;
  /** Timer frequency get_hz() reports (1e9 with high-resolution timers). */
  hz: number;
}

/** The clock every kernel since 2.6.31 reports ("000003e8 00000040 000f4240 3b9aca00"). */
export const DEFAULT_CLOCK: PschedClock = { tickInUsec: 1000 / 64, hz: 1000000000 };

export const TIME_UNITS_PER_SEC = 1000000;

/** Parse the text of /proc/net/psched as tc does; undefined when it is not in the expected form. */
export function parsePsched(text: string): PschedClock | undefined {
  const f = text.trim().split(/\s+/).map((x) => parseInt(x, 16));
  if (f.length < 3 || f.slice(0, 3).some((x) => !Number.isFinite(x) || x === 0)) return undefined;
  let [t2us] = f;
  const us2t = f[1];
  const clockRes = f[2];
  // tc_core_init: a clock resolution of 1e9 advertises a tick multiplier that really is 1.
  if (clockRes === 1000000000) t2us = us2t;
  const clockFactor = clockRes / TIME_UNITS_PER_SEC;
  const hz = f.length >= 4 && f[2] === 1000000 && f[3] > 0 ? f[3] : 100;
  return { tickInUsec: (t2us / us2t) * clockFactor, hz };
}

const U32_MAX = 0xffffffff;

/** C's conversion of a non-negative double to unsigned int (truncation; values past 2^32 wrap). */
function toU32(x: number): number {
  return x >= 4294967296 ? Number(BigInt(Math.trunc(x)) & 0xffffffffn) : Math.trunc(x) >>> 0;
}

/**
 * Ticks needed to send `size` bytes at `rate` bytes/s: tc 6.1's tc_calc_xmittime, truncating the
 * microseconds to an unsigned int before converting to ticks, and the ticks again after. (Newer
 * iproute2 rounds up instead; the difference is at most one 64 ns tick.)
 */
export function calcXmittime(clock: PschedClock, rate: number, size: number): number {
  const us = toU32(TIME_UNITS_PER_SEC * (size / rate));
  return toU32(us * clock.tickInUsec);
}

/** Bytes sent at `rate` during `ticks` (tc_calc_xmitsize), for read-back of bursts. */
export function calcXmitsize(clock: PschedClock, rate: number, ticks: number): number {
  const us = toU32(ticks / clock.tickInUsec);
  return Math.trunc((rate * us) / TIME_UNITS_PER_SEC);
}

/** Microseconds in `ticks` (tc_core_tick2time). */
export function tickToTime(clock: PschedClock, ticks: number): number {
  return toU32(ticks / clock.tickInUsec);
}

/** struct tc_ratespec. */
export interface RateSpec {
  cellLog: number;
  linklayer: number;
  overhead: number;
  cellAlign: number;
  mpu: number;
  /** Bytes per second, saturated at 2^32-1 (the full value then travels in a *_RATE64 attribute). */
  rate: number;
}

export const TC_LINKLAYER_UNAWARE = 0;
export const TC_LINKLAYER_ETHERNET = 1;
export const TC_LINKLAYER_ATM = 2;
export const TC_LINKLAYER_MASK = 0x0f;

export const RATESPEC_SIZE = 12;

export function writeRateSpec(b: Buffer, off: number, r: RateSpec): void {
  b.writeUInt8(r.cellLog, off);
  b.writeUInt8(r.linklayer, off + 1);
  b.writeUInt16LE(r.overhead, off + 2);
  b.writeInt16LE(r.cellAlign, off + 4);
  b.writeUInt16LE(r.mpu, off + 6);
  b.writeUInt32LE(r.rate >>> 0, off + 8);
}

export function readRateSpec(b: Buffer, off: number): RateSpec {
  return {
    cellLog: b.readUInt8(off),
    linklayer: b.readUInt8(off + 1) & TC_LINKLAYER_MASK,
    overhead: b.readUInt16LE(off + 2),
    cellAlign: b.readInt16LE(off + 4),
    mpu: b.readUInt16LE(off + 6),
    rate: b.readUInt32LE(off + 8),
  };
}

/** The ratespec's 32-bit rate field: saturated as tc does when the rate needs 64 bits. */
export function rate32(rate: number): number {
  return rate >= 4294967296 ? U32_MAX : rate;
}

/**
 * The 256-entry rate table (tc_calc_rtable): rtab[i] is the time to send (i+1) << cell_log bytes,
 * cell_log chosen so the table covers `mtu` (2047 when 0). Ethernet link layer, no ATM cells.
 * Returns the table and the ratespec filled in as tc fills it.
 */
export function calcRtable(
  clock: PschedClock,
  rate: number,
  opts: { mtu?: number; cellLog?: number; mpu?: number; overhead?: number } = {},
): { spec: RateSpec; table: Buffer } {
  const mtu = opts.mtu || 2047;
  const mpu = opts.mpu ?? 0;
  let cellLog = opts.cellLog ?? -1;
  if (cellLog < 0) {
    cellLog = 0;
    while (mtu >> cellLog > 255) cellLog++;
  }
  const table = Buffer.alloc(1024);
  const bps = rate32(rate);
  for (let i = 0; i < 256; i++) {
    const sz = Math.max((i + 1) << cellLog, mpu);
    table.writeUInt32LE(calcXmittime(clock, bps, sz), i * 4);
  }
  return {
    spec: { cellLog, linklayer: TC_LINKLAYER_ETHERNET, overhead: opts.overhead ?? 0, cellAlign: -1, mpu, rate: bps },
    table,
  };
}

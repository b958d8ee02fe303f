/**
 * Statistics of qdiscs, classes and actions: the TCA_STATS2 nest (<linux/gen_stats.h>), with the
 * legacy struct tc_stats (TCA_STATS) as a fallback, decoded to what `tc -s` prints.
 * @module
 */
import { AttrMap } from '../../netlink/attributes.js';

export const TCA_STATS_BASIC = 1;
export const TCA_STATS_RATE_EST = 2;
export const TCA_STATS_QUEUE = 3;
export const TCA_STATS_APP = 4;
export const TCA_STATS_RATE_EST64 = 5;
export const TCA_STATS_PAD = 6;
export const TCA_STATS_BASIC_HW = 7;
export const TCA_STATS_PKT64 = 8;

/** What `tc -s` shows for a qdisc, class or action. */
export interface TcStats {
  /** Bytes sent ("Sent N bytes"). */
  bytes: bigint;
  /** Packets sent ("N pkt"); 64-bit from TCA_STATS_PKT64 when the kernel sends it. */
  packets: bigint;
  drops: number;
  overlimits: number;
  requeues: number;
  /** Bytes queued now. */
  backlog: number;
  /** Packets queued now. */
  qlen: number;
  /** Rate estimator (only when one was configured): bytes and packets per second. */
  rate?: { bps: bigint; pps: bigint };
}

/** Decode a TCA_STATS2 nest (and, when given, the legacy TCA_STATS struct for what it lacks). */
export function decodeStats2(stats2: Buffer | undefined, legacy?: Buffer): TcStats | undefined {
  const out: TcStats = { bytes: 0n, packets: 0n, drops: 0, overlimits: 0, requeues: 0, backlog: 0, qlen: 0 };
  if (!stats2) return legacy ? decodeLegacy(legacy) : undefined;
  const m = new AttrMap(stats2);
  const basic = m.get(TCA_STATS_BASIC);
  if (basic && basic.length >= 12) {
    // struct gnet_stats_basic { __u64 bytes; __u32 packets; } (padded to 16).
    out.bytes = basic.readBigUInt64LE(0);
    out.packets = BigInt(basic.readUInt32LE(8));
  }
  const pkt64 = m.u64(TCA_STATS_PKT64);
  if (pkt64 !== undefined) out.packets = pkt64;
  const q = m.get(TCA_STATS_QUEUE);
  if (q && q.length >= 20) {
    // struct gnet_stats_queue { qlen, backlog, drops, requeues, overlimits }.
    out.qlen = q.readUInt32LE(0);
    out.backlog = q.readUInt32LE(4);
    out.drops = q.readUInt32LE(8);
    out.requeues = q.readUInt32LE(12);
    out.overlimits = q.readUInt32LE(16);
  }
  const est64 = m.get(TCA_STATS_RATE_EST64);
  const est = m.get(TCA_STATS_RATE_EST);
  if (est64 && est64.length >= 16) out.rate = { bps: est64.readBigUInt64LE(0), pps: est64.readBigUInt64LE(8) };
  else if (est && est.length >= 8) out.rate = { bps: BigInt(est.readUInt32LE(0)), pps: BigInt(est.readUInt32LE(4)) };
  return out;
}

/** struct tc_stats: bytes u64, packets, drops, overlimits, bps, pps, qlen, backlog (u32 each). */
function decodeLegacy(b: Buffer): TcStats | undefined {
  if (b.length < 36) return undefined;
  return {
    bytes: b.readBigUInt64LE(0),
    packets: BigInt(b.readUInt32LE(8)),
    drops: b.readUInt32LE(12),
    overlimits: b.readUInt32LE(16),
    requeues: 0,
    qlen: b.readUInt32LE(28),
    backlog: b.readUInt32LE(32),
  };
}

/** The application-specific part of TCA_STATS2 (TCA_STATS_APP), raw: its layout is the kind's. */
export function statsApp(stats2: Buffer | undefined): Buffer | undefined {
  if (!stats2) return undefined;
  const b = new AttrMap(stats2).get(TCA_STATS_APP);
  return b ? Buffer.from(b) : undefined;
}

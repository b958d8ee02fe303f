/**
 * IFLA_STATS64: struct rtnl_link_stats64 (<linux/if_link.h>), a run of __u64 counters decoded to
 * bigints (counters of a busy 100G link pass 2^53 bytes in under a month).
 * @module
 */

/** Counters of a link since it was created, as `ip -s link` shows them. */
export interface LinkStats {
  rxPackets: bigint;
  txPackets: bigint;
  rxBytes: bigint;
  txBytes: bigint;
  rxErrors: bigint;
  txErrors: bigint;
  rxDropped: bigint;
  txDropped: bigint;
  multicast: bigint;
  collisions: bigint;
  rxLengthErrors: bigint;
  rxOverErrors: bigint;
  rxCrcErrors: bigint;
  rxFrameErrors: bigint;
  rxFifoErrors: bigint;
  rxMissedErrors: bigint;
  txAbortedErrors: bigint;
  txCarrierErrors: bigint;
  txFifoErrors: bigint;
  txHeartbeatErrors: bigint;
  txWindowErrors: bigint;
  rxCompressed: bigint;
  txCompressed: bigint;
  rxNohandler: bigint;
  /** Added in Linux 5.19; undefined when the kernel's struct is shorter. */
  rxOtherhostDropped?: bigint;
}

/** Field order of struct rtnl_link_stats64; the struct only ever grows at the end. */
const FIELDS: ReadonlyArray<keyof LinkStats> = [
  'rxPackets', 'txPackets', 'rxBytes', 'txBytes', 'rxErrors', 'txErrors', 'rxDropped', 'txDropped',
  'multicast', 'collisions', 'rxLengthErrors', 'rxOverErrors', 'rxCrcErrors', 'rxFrameErrors',
  'rxFifoErrors', 'rxMissedErrors', 'txAbortedErrors', 'txCarrierErrors', 'txFifoErrors',
  'txHeartbeatErrors', 'txWindowErrors', 'rxCompressed', 'txCompressed', 'rxNohandler', 'rxOtherhostDropped',
];

/** The 24 counters every kernel since 4.6 sends. */
const REQUIRED = 24;

/**
 * Decode the payload of IFLA_STATS64. Undefined when it is shorter than the oldest layout; counters
 * a newer kernel appends beyond the known ones are ignored, ones an older kernel lacks stay unset.
 */
export function decodeLinkStats64(b: Buffer): LinkStats | undefined {
  if (b.length < REQUIRED * 8) return undefined;
  const out: Partial<Record<keyof LinkStats, bigint>> = {};
  for (let i = 0; i < FIELDS.length && (i + 1) * 8 <= b.length; i++) out[FIELDS[i]] = b.readBigUInt64LE(i * 8);
  return out as LinkStats;
}

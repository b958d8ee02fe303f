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

/** Counters known here, in the order of struct rtnl_link_stats64 (which only ever grows at the end). */
const KNOWN = 25;

/** The 24 counters every kernel since 4.6 sends. */
const REQUIRED = 24;

/**
 * Decode the payload of IFLA_STATS64. Undefined when it is shorter than the oldest layout; counters
 * a newer kernel appends beyond the known ones are ignored, ones an older kernel lacks stay unset.
 *
 * One object literal read through a BigUint64Array copy: every `links.add` reads a link back, mostly
 * in code V8 has not optimized yet, where 25 `readBigUInt64LE` calls filling a growing object cost
 * ~10x more (docs/performance.md, "Verbs (verbs2)").
 */
export function decodeLinkStats64(b: Buffer): LinkStats | undefined {
  if (b.length < REQUIRED * 8) return undefined;
  const n = Math.min(KNOWN, b.length >> 3);
  // A copy: the attribute need not be 8-byte aligned in the datagram.
  const v = new BigUint64Array(n);
  new Uint8Array(v.buffer).set(b.subarray(0, n * 8));
  const out: LinkStats = {
    rxPackets: v[0], txPackets: v[1], rxBytes: v[2], txBytes: v[3], rxErrors: v[4], txErrors: v[5],
    rxDropped: v[6], txDropped: v[7], multicast: v[8], collisions: v[9], rxLengthErrors: v[10],
    rxOverErrors: v[11], rxCrcErrors: v[12], rxFrameErrors: v[13], rxFifoErrors: v[14],
    rxMissedErrors: v[15], txAbortedErrors: v[16], txCarrierErrors: v[17], txFifoErrors: v[18],
    txHeartbeatErrors: v[19], txWindowErrors: v[20], rxCompressed: v[21], txCompressed: v[22],
    rxNohandler: v[23],
  };
  if (n > REQUIRED) out.rxOtherhostDropped = v[24];
  return out;
}

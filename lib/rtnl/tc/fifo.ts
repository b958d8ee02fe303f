/**
 * pfifo / bfifo (struct tc_fifo_qopt: a limit in packets or bytes), pfifo_fast (no options
 * accepted; reads back its priomap as struct tc_prio_qopt), and the option-less ingress and clsact.
 * @module
 */

/** struct tc_fifo_qopt: the whole TCA_OPTIONS payload (not a nest). */
export function encodeFifo(limit: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(limit, 0);
  return b;
}

export function decodeFifo(b: Buffer | undefined): { limit: number } | undefined {
  return b && b.length >= 4 ? { limit: b.readUInt32LE(0) } : undefined;
}

/** TC_PRIO_MAX + 1 entries of struct tc_prio_qopt's priomap. */
const PRIOMAP_LEN = 16;

/** pfifo_fast's read-back: the number of bands and the priority-to-band map. */
export function decodePrioMap(b: Buffer | undefined): { bands: number; priomap: number[] } | undefined {
  if (!b || b.length < 4 + PRIOMAP_LEN) return undefined;
  return { bands: b.readInt32LE(0), priomap: [...b.subarray(4, 4 + PRIOMAP_LEN)] };
}

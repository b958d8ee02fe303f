/**
 * The traffic-control codec: tcmsg and TCA_* (tcmsg.ts), handles, rates and tables, statistics,
 * and one file per kind. `decodeKindOptions` turns a kind's TCA_OPTIONS into its typed form.
 * @module
 */
import { decodeFifo, decodePrioMap } from './fifo.js';
import { decodeHtb, type HtbOptions } from './htb.js';
import type { PschedClock } from './rate.js';
import { decodeTbf, type TbfOptions } from './tbf.js';
import { decodeU32, type U32Options } from './u32.js';

export * from './tcmsg.js';
export * from './handle.js';
export * from './rate.js';
export * from './stats.js';
export * from './tbf.js';
export * from './htb.js';
export * from './fifo.js';
export * from './u32.js';
export * from './actions.js';

/** Typed options of the kinds modelled here; other kinds keep their raw TCA_OPTIONS. */
export type KindOptions =
  | { kind: 'tbf'; options?: TbfOptions }
  | { kind: 'htb'; options?: HtbOptions }
  | { kind: 'pfifo' | 'bfifo'; options?: { limit: number } }
  | { kind: 'pfifo_fast'; options?: { bands: number; priomap: number[] } }
  | { kind: 'u32'; options?: U32Options }
  | { kind: 'ingress' | 'clsact'; options?: undefined };

/** Kinds whose options are decoded; `ingress` and `clsact` have none. */
export const MODELLED_KINDS = ['tbf', 'htb', 'pfifo', 'bfifo', 'pfifo_fast', 'u32', 'ingress', 'clsact'] as const;

export function decodeKindOptions(kind: string, raw: Buffer | undefined, clock: PschedClock): KindOptions | undefined {
  switch (kind) {
    case 'tbf': return { kind, options: decodeTbf(raw, clock) };
    case 'htb': return { kind, options: decodeHtb(raw, clock) };
    case 'pfifo':
    case 'bfifo': return { kind, options: decodeFifo(raw) };
    case 'pfifo_fast': return { kind, options: decodePrioMap(raw) };
    case 'u32': return { kind, options: decodeU32(raw) };
    case 'ingress':
    case 'clsact': return { kind };
    default: return undefined;
  }
}

/**
 * Link counters over time (`watch ip -s link`): one RTM_GETLINK dump per tick for every link of the
 * namespace, IFLA_STATS64 decoded, rates computed against the previous tick on a monotonic clock.
 * @module
 */
import { setTimeout as delay } from 'node:timers/promises';
import { ValidationError } from '../errors.js';
import { contextOf, type NetnsHandle, type NsContext } from './target.js';
import { checkKeys } from '../validate/options.js';
import { AF_UNSPEC, RTM_GETLINK, RTM_NEWLINK } from '../rtnl/constants.js';
import { RTEXT_FILTER_SKIP_STATS, decodeLinkMessage, encodeLinkBody } from '../rtnl/link/index.js';
import { decodeLinkStats64, type LinkStats } from '../rtnl/link/stats.js';
import { withJson } from '../api/json.js';

/** Per-second rates between two ticks. */
export interface LinkRates {
  rxBytesPerSec: number;
  txBytesPerSec: number;
  rxPacketsPerSec: number;
  txPacketsPerSec: number;
  rxErrorsPerSec: number;
  txErrorsPerSec: number;
  rxDroppedPerSec: number;
  txDroppedPerSec: number;
}

/** One link in one tick. */
export interface LinkSample {
  index: number;
  name: string;
  /** The kernel's counters at this tick. */
  stats: LinkStats;
  /** Rates since the previous tick; absent on the first tick, for a new link, or after a counter reset. */
  rates?: LinkRates;
}

/** One tick of {@link sampleStats}. */
export interface StatsSample {
  /** Wall-clock time of the dump request, ms since the epoch. */
  at: number;
  /** Monotonic milliseconds since the previous tick (0 on the first). */
  elapsedMs: number;
  links: LinkSample[];
}

/** Options of {@link sampleStats}. */
export interface StatsOptions {
  /** Milliseconds between ticks (default 1000, at least 10). */
  intervalMs?: number;
  /** Only these links (names or indexes); all by default. */
  links?: ReadonlyArray<string | number>;
  /** Stop after this many ticks. */
  count?: number;
  /** Aborting ends the iteration (no error). */
  signal?: AbortSignal;
}

const RATE_FIELDS: ReadonlyArray<[keyof LinkRates, keyof LinkStats]> = [
  ['rxBytesPerSec', 'rxBytes'],
  ['txBytesPerSec', 'txBytes'],
  ['rxPacketsPerSec', 'rxPackets'],
  ['txPacketsPerSec', 'txPackets'],
  ['rxErrorsPerSec', 'rxErrors'],
  ['txErrorsPerSec', 'txErrors'],
  ['rxDroppedPerSec', 'rxDropped'],
  ['txDroppedPerSec', 'txDropped'],
];

/** Rates from two readings `seconds` apart; undefined when a counter went backwards (reset). */
export function linkRates(prev: LinkStats, cur: LinkStats, seconds: number): LinkRates | undefined {
  if (typeof seconds !== 'number' || Number.isNaN(seconds)) throw new ValidationError('seconds', seconds, 'must be a number');
  for (const [field, v] of [['prev', prev], ['cur', cur]] as const) {
    if (typeof v !== 'object' || v === null || RATE_FIELDS.some(([, counter]) => typeof v[counter] !== 'bigint')) throw new ValidationError(field, v, 'must be link counters (a link\'s stats from ns.links.list() or ns.stats.sample())');
  }
  if (!(seconds > 0)) return undefined;
  const out = {} as LinkRates;
  for (const [rate, counter] of RATE_FIELDS) {
    const d = (cur[counter] as bigint) - (prev[counter] as bigint);
    if (d < 0n) return undefined;
    out[rate] = Number(d) / seconds;
  }
  return out;
}

/**
 * Sample every link's counters each `intervalMs`, with per-second rates of bytes, packets, errors
 * and drops. The first tick comes at once (no rates); each tick is one dump of all links on the
 * handle's rtnetlink connection.
 *
 * Equivalent to: `watch -n 1 ip -n NS -s link`
 * @example
 * ```ts
 * import { sampleStats } from 'netns-native';
 * for await (const tick of sampleStats(ns, { intervalMs: 1000, links: ['veth0'], count: 10 })) {
 *   const r = tick.links[0].rates;
 *   if (r) console.log(`rx ${(r.rxBytesPerSec * 8 / 1e6).toFixed(1)} Mbit/s`);
 * }
 * ```
 * @throws {@link ValidationError} for bad options, when the iteration starts (nothing is sent).
 */
export async function* sampleStats(target: NetnsHandle | NsContext, options: StatsOptions = {}): AsyncGenerator<StatsSample, void, undefined> {
  const ns = contextOf(target);
  checkKeys('', options, ['intervalMs', 'links', 'count', 'signal']);
  const intervalMs = options.intervalMs ?? 1000;
  if (typeof intervalMs !== 'number' || !Number.isFinite(intervalMs) || intervalMs < 10) throw new ValidationError('intervalMs', intervalMs, 'must be a number of milliseconds, at least 10');
  if (options.count !== undefined && (!Number.isInteger(options.count) || options.count < 1)) throw new ValidationError('count', options.count, 'must be a positive integer');
  const wanted = options.links;
  if (wanted !== undefined && (!Array.isArray(wanted) || wanted.some((l) => typeof l !== 'string' && !(Number.isInteger(l) && l > 0)))) {
    throw new ValidationError('links', wanted, 'must be a list of link names or indexes');
  }
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new ValidationError('signal', signal, 'must be an AbortSignal');

  // IFLA_STATS64 always comes; RTEXT_FILTER_SKIP_STATS only skips the per-VF and per-AF extras.
  const body = encodeLinkBody({ family: AF_UNSPEC }, { extMask: RTEXT_FILTER_SKIP_STATS });
  const op = ns.op('ip -s link show');
  let prev = new Map<number, LinkStats>();
  let prevT: number | undefined;
  const start = performance.now();
  for (let tick = 0; options.count === undefined || tick < options.count; tick++) {
    if (tick > 0) {
      // Ticks are scheduled against the start, so a slow dump does not make the series drift.
      const wait = start + tick * intervalMs - performance.now();
      try {
        if (wait > 0) await delay(wait, undefined, { signal });
      } catch (e) {
        if (signal?.aborted) return;
        throw e;
      }
    }
    if (signal?.aborted) return;
    const t = performance.now();
    const at = Date.now();
    const conn = await ns.rtnl();
    const msgs = await conn.dump(RTM_GETLINK, body, op);
    const seconds = prevT === undefined ? 0 : (t - prevT) / 1000;
    const cur = new Map<number, LinkStats>();
    const links: LinkSample[] = [];
    for (const m of msgs) {
      if (m.type !== RTM_NEWLINK) continue;
      const l = decodeLinkMessage(m.payload);
      const stats = l.attrs.stats64 ? decodeLinkStats64(l.attrs.stats64) : undefined;
      const name = l.attrs.ifname ?? '';
      if (!stats) continue;
      if (wanted && !wanted.includes(name) && !wanted.includes(l.header.index)) continue;
      cur.set(l.header.index, stats);
      const sample: LinkSample = { index: l.header.index, name, stats };
      const before = prev.get(l.header.index);
      const rates = before ? linkRates(before, stats, seconds) : undefined;
      if (rates) sample.rates = rates;
      links.push(sample);
    }
    yield withJson({ at, elapsedMs: prevT === undefined ? 0 : t - prevT, links });
    prev = cur;
    prevT = t;
  }
}

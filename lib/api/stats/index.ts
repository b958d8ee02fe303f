/**
 * `ns.stats`: link counters and rates over time (lib/observe/stats.ts).
 * @module
 */
import type { NsContext } from '../context.js';
import { sampleStats, type StatsOptions, type StatsSample } from '../../observe/stats.js';

/** Link statistics of one namespace over time. */
export class Stats {
  /** @internal The handle makes it (users reach it as `ns.links`, `ns.tc`, ...). */
  constructor(private readonly ns: NsContext) {}

  /**
   * Every `intervalMs`, the counters (IFLA_STATS64) and per-second rates of bytes, packets, errors
   * and drops of every link (or of `links`), one dump per tick. See {@link sampleStats}.
   *
   * Equivalent to: `watch -n 1 ip -n NS -s link`
   * @example
   * ```ts
   * for await (const tick of ns.stats.sample({ intervalMs: 1000, links: ['eth0'], count: 5 })) {
   *   console.log(tick.links[0].rates?.rxBytesPerSec);
   * }
   * ```
   */
  sample(options: StatsOptions = {}): AsyncGenerator<StatsSample, void, undefined> {
    return sampleStats(this.ns, options);
  }
}

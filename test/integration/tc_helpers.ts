/**
 * Traffic-control test plumbing: `tc` as the oracle, with its output normalized (statistics and kernel-chosen handles removed) for equivalence checks.
 */
import { run } from './helpers.js';

/** `tc -n NS ARGS` output. */
export function tc(ns: string, ...args: string[]): string {
  return run('tc', ['-n', ns, ...args]);
}

const STATS_KEYS = new Set(['bytes', 'packets', 'drops', 'overlimits', 'requeues', 'backlog', 'qlen', 'stats', 'stats64', 'xstats',
  'lended', 'borrowed', 'giants', 'tokens', 'ctokens', 'direct_packets_stat', 'installed', 'last_used', 'first_used', 'expires', 'ref', 'bind', 'index', 'refcnt']);

/** `tc -j -s -d ... show` with statistics removed, as a comparable value. */
export function tcJson(ns: string, args: string[]): unknown {
  const out = tc(ns, '-j', '-s', '-d', ...args).trim();
  return strip(JSON.parse(out || '[]'));
}

function strip(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(strip);
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (!STATS_KEYS.has(k)) o[k] = strip(x);
    return o;
  }
  return v;
}

/**
 * `tc -s -d ... show` text with the statistics lines and counters removed: tc 6.1 prints htb
 * classes and u32 keys only in text (its JSON for them is incomplete), so equivalence of those is
 * checked on the text.
 */
export function tcText(ns: string, args: string[]): string {
  return tc(ns, '-d', ...args)
    .replace(/ installed \d+ sec used \d+ sec( firstused \d+ sec)?/g, '')
    .replace(/(index|ref|bind) \d+/g, '$1 N')
    .replace(/ ?\(rule hit \d+ success \d+\)/g, '')
    .replace(/ +\n/g, '\n');
}

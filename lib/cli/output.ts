/**
 * How every command prints: one JSON document with --json, text otherwise; and the small parsers
 * of option values the commands share. Light on purpose: `ls` loads it without the library's
 * namespace API (docs/cli.md, "Start-up").
 * @module
 */
import { ValidationError } from '../errors.js';
import { useColour } from '../format/table.js';
import type { CommonOptions } from './common.js';

/** Print `data` as JSON, or the text `human()` makes. */
export function out(opts: CommonOptions, data: unknown, human: () => string): void {
  process.stdout.write(opts.json ? `${JSON.stringify(data, jsonValue, 2)}\n` : `${human()}\n`);
}

/** One JSON object on one line: the element of a stream (`stats --interval`, `monitor`, `ping`). */
export function jsonLine(data: unknown): void {
  process.stdout.write(`${JSON.stringify(data, jsonValue)}\n`);
}

/** 64-bit counters: a number while exact, a decimal string beyond 2^53; raw buffers are left out. */
export function jsonValue(_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (v !== null && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) return undefined;
  return v;
}

/** Whether stdout gets colours (a terminal, NO_COLOR unset). */
export const colour = (): boolean => useColour(process.stdout);

/** An option that must be a positive integer (`--count 3`), `dflt` when absent. */
export function positiveInt(field: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new ValidationError(field, v, 'must be a positive integer');
  return n;
}

/** An option that must be a number of seconds within [min, max], returned in milliseconds. */
export function secondsToMs(field: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(n >= min && n <= max)) throw new ValidationError(field, v, `must be a number of seconds in [${min}, ${max}]`);
  return Math.round(n * 1000);
}

/** Stop on ^C / SIGTERM: the returned signal aborts; `release` removes the handlers. */
export function interruptible(): { signal: AbortSignal; release: () => void } {
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: abort.signal,
    release: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}

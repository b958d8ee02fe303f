/**
 * Traffic-control units, parsed strictly and converted exactly as iproute2's `tc` converts them
 * (lib/utils_math.c get_rate64/get_size64, lib/utils.c get_time), so a rate written as `10mbit`
 * configures the same bytes per second through the library as through `tc`.
 *
 * Stricter than tc on purpose: tc reads the number with strtod, which also takes `1e3kbit`,
 * ` 10mbit`, `0x10kbit` or `inf`; here the number is plain decimal digits with an optional
 * fraction, nothing before or after but the unit. Units are matched without regard to case, as tc
 * does, which is why `mbps` means megabytes per second (it is tc's `MBps`), not megabits.
 * @module
 */
import { ValidationError } from '../errors.js';

/** A rate: a number of bits per second, or a tc string such as `'10mbit'`, `'1.5gbit'`, `'100kbps'`. */
export type Rate = number | string;
/** A size: a number of bytes, or a tc string such as `'32kbit'` (4096 bytes), `'64kb'`, `'1500b'`. */
export type Size = number | string;
/** A duration: a number of microseconds, or a tc string such as `'400ms'`, `'1s'`, `'50us'`. */
export type Time = number | string;

/** tc's rate suffixes and what each multiplies the number by, in bits per second. */
const RATE_SCALES: ReadonlyArray<readonly [string, number]> = [
  ['bit', 1], ['kibit', 1024], ['kbit', 1000], ['mibit', 1024 * 1024], ['mbit', 1000000],
  ['gibit', 1024 * 1024 * 1024], ['gbit', 1000000000], ['tibit', 1024 * 1024 * 1024 * 1024], ['tbit', 1000000000000],
  ['bps', 8], ['kibps', 8 * 1024], ['kbps', 8000], ['mibps', 8 * 1024 * 1024], ['mbps', 8000000],
  ['gibps', 8 * 1024 * 1024 * 1024], ['gbps', 8000000000], ['tibps', 8 * 1024 * 1024 * 1024 * 1024], ['tbps', 8000000000000],
];

/** tc's size suffixes (get_size64), in bytes. Note `kbit` is 128 bytes: tc's sizes are binary. */
const SIZE_SCALES: ReadonlyArray<readonly [string, number]> = [
  ['', 1], ['b', 1], ['k', 1024], ['kb', 1024], ['m', 1024 * 1024], ['mb', 1024 * 1024],
  ['g', 1024 * 1024 * 1024], ['gb', 1024 * 1024 * 1024],
  ['kbit', 1024 / 8], ['mbit', (1024 * 1024) / 8], ['gbit', (1024 * 1024 * 1024) / 8],
];

/** tc's time suffixes (get_time), in microseconds. */
const TIME_SCALES: ReadonlyArray<readonly [string, number]> = [
  ['', 1], ['s', 1000000], ['sec', 1000000], ['secs', 1000000],
  ['ms', 1000], ['msec', 1000], ['msecs', 1000], ['us', 1], ['usec', 1], ['usecs', 1],
];

const NUMBER_UNIT = /^([0-9]+(?:\.[0-9]+)?)([A-Za-z]*)$/;

/** Largest rate tc can express (a u64 of bytes per second); JS numbers stay exact far beyond any NIC. */
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function split(field: string, v: string, what: string, scales: ReadonlyArray<readonly [string, number]>): [number, number] {
  const m = NUMBER_UNIT.exec(v);
  if (!m) throw new ValidationError(field, v, `must be a ${what} such as ${example(what)} (digits, an optional fraction, then a unit; no spaces or exponents)`);
  const unit = m[2].toLowerCase();
  const row = scales.find(([name]) => name === unit);
  if (!row) {
    throw new ValidationError(field, v, `unknown unit "${m[2]}" (known: ${scales.map(([n]) => n).filter(Boolean).join(', ')})`);
  }
  return [Number(m[1]), row[1]];
}

function example(what: string): string {
  return what === 'rate' ? "'10mbit'" : what === 'size' ? "'32kbit' or '64kb'" : "'400ms'";
}

/**
 * A rate in bytes per second, as `tc` computes it: the number times its unit's scale, divided by 8,
 * truncated. A number is bits per second. Zero is refused (the kernel would divide by it).
 */
export function parseRate(field: string, v: unknown): number {
  let bytes: number;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v <= 0) throw new ValidationError(field, v, 'must be a positive integer number of bits per second');
    bytes = Math.floor(v / 8);
  } else if (typeof v === 'string') {
    const [n, scale] = split(field, v, 'rate', RATE_SCALES);
    bytes = Math.floor((n * scale) / 8);
  } else {
    throw new ValidationError(field, v, "must be bits per second (a number) or a tc rate string such as '10mbit'");
  }
  if (bytes < 1) throw new ValidationError(field, v, 'must be at least 8 bits per second (1 byte per second)');
  if (bytes > MAX_SAFE) throw new ValidationError(field, v, 'is too large');
  return bytes;
}

/**
 * A size in bytes, as `tc` computes it. tc refuses sizes that do not come out as whole bytes
 * (`0.1kb`), and so does this.
 */
export function parseSize(field: string, v: unknown, max = 0xffffffff): number {
  let bytes: number;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new ValidationError(field, v, 'must be a non-negative integer number of bytes');
    bytes = v;
  } else if (typeof v === 'string') {
    const [n, scale] = split(field, v, 'size', SIZE_SCALES);
    bytes = n * scale;
    if (!Number.isInteger(bytes)) throw new ValidationError(field, v, `is ${bytes} bytes, not a whole number of bytes`);
  } else {
    throw new ValidationError(field, v, "must be bytes (a number) or a tc size string such as '32kbit' or '64kb'");
  }
  if (bytes > max) throw new ValidationError(field, v, `must be at most ${max} bytes`);
  return bytes;
}

/** A duration in microseconds, as `tc` computes it (truncated to a whole microsecond). */
export function parseTime(field: string, v: unknown): number {
  let us: number;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw new ValidationError(field, v, 'must be a non-negative integer number of microseconds');
    us = v;
  } else if (typeof v === 'string') {
    const [n, scale] = split(field, v, 'time', TIME_SCALES);
    us = Math.floor(n * scale);
  } else {
    throw new ValidationError(field, v, "must be microseconds (a number) or a tc time string such as '400ms'");
  }
  if (us > 0xffffffff) throw new ValidationError(field, v, 'must be at most 4294967295 µs');
  return us;
}

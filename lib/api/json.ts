/**
 * JSON for results that carry bigint counters (link statistics, firewall counters): `toJSON` writes
 * every bigint as a decimal string, always (not a number "when safe": a consumer then never sees the
 * same field change type when a counter passes 2^53). `BigInt(value)` reads it back exactly.
 * The method is non-enumerable, so results still compare and spread as plain data.
 * @module
 */

/** A deep copy of `v` with bigints as decimal strings (Buffers as JSON.stringify writes them). */
export function jsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v === null || typeof v !== 'object') return v;
  if (Buffer.isBuffer(v)) return v.toJSON();
  if (Array.isArray(v)) return v.map(jsonValue);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = jsonValue(x);
  return out;
}

/** Give a result object a non-enumerable `toJSON` that writes its bigints as decimal strings. */
export function withJson<T extends object>(result: T): T {
  Object.defineProperty(result, 'toJSON', { value: () => jsonValue(result), enumerable: false, configurable: true, writable: true });
  return result;
}

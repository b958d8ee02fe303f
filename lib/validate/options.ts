/**
 * The one unknown-key checker for options objects: a typo (`vlan_filtering`, `ifexists`) must fail
 * before any system call instead of silently configuring nothing (docs/architecture.md, "Validation").
 * @module
 */
import { ValidationError } from '../errors.js';

/**
 * Reject keys of `opts` that are not in `allowed`. The error's `field` is the key's path
 * (`peer.mtuu`, `filter.tabel`, or just the key for a top-level options object: `where` = '').
 * `undefined` passes (no options given); anything else that is not a plain object is rejected.
 */
export function checkKeys(where: string, opts: unknown, allowed: readonly string[]): void {
  if (opts === undefined) return;
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) throw new ValidationError(where || 'options', opts, 'must be an object');
  for (const key of Object.keys(opts)) {
    if (!allowed.includes(key)) {
      throw new ValidationError(where ? `${where}.${key}` : key, (opts as Record<string, unknown>)[key], `is not a known option${where ? ` of ${where}` : ''} (known: ${allowed.join(', ')})`);
    }
  }
}

/** An `AbortSignal` option (`signal`), checked: undefined or an AbortSignal. */
export function abortSignal(v: unknown, field = 'signal'): AbortSignal | undefined {
  if (v !== undefined && !(v instanceof AbortSignal)) throw new ValidationError(field, v, 'must be an AbortSignal');
  return v;
}

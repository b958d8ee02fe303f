/**
 * sysctl keys and values, checked before any system call.
 * @module
 */
import { ValidationError } from '../errors.js';

/** A key resolved to its file. */
export interface SysctlKey {
  /** The key as given (used in messages). */
  key: string;
  /** Its components, e.g. ['net', 'ipv4', 'conf', 'eth0.100', 'rp_filter']. */
  components: string[];
  /** `/proc/sys/` + components joined by `/`. */
  path: string;
}

/** What `sysctl.set` accepts: a string, an integer, or several integers/strings (`tcp_rmem`). */
export type SysctlValue = string | number | bigint | readonly (string | number | bigint)[];

const MAX_KEY_BYTES = 4096;

/**
 * Parse a key under `net.` the way sysctl(8) reads it: when the first separator is `.`, dots
 * separate components and a `/` stands for a literal `.` (`net.ipv4.conf.eth0/100.rp_filter`); when
 * it is `/`, slashes separate and dots are literal (`net/ipv4/conf/eth0.100/rp_filter`).
 *
 * Rejected: anything outside `net.`, empty components, `.`/`..` components (no way out of
 * /proc/sys/net), whitespace, control characters, NUL, and `=` (the value is a separate argument).
 */
export function parseSysctlKey(key: unknown, field = 'sysctl key'): SysctlKey {
  if (typeof key !== 'string') throw new ValidationError(field, key, 'must be a string');
  if (key.length === 0) throw new ValidationError(field, key, 'must not be empty');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw new ValidationError(field, key, `must be at most ${MAX_KEY_BYTES} bytes`);
  if (/[\s\x00-\x1f\x7f]/u.test(key)) throw new ValidationError(field, key, 'must not contain whitespace or control characters');
  if (key.includes('=')) throw new ValidationError(field, key, 'must not contain "=" (pass the value as the second argument)');
  const dot = key.indexOf('.');
  const slash = key.indexOf('/');
  const slashForm = slash >= 0 && (dot < 0 || slash < dot);
  const components = slashForm ? key.split('/') : key.split('.').map((c) => c.replaceAll('/', '.'));
  for (const c of components) {
    if (c === '') throw new ValidationError(field, key, 'must not have empty components');
    if (c === '.' || c === '..') throw new ValidationError(field, key, 'must not have "." or ".." components');
  }
  if (components[0] !== 'net') throw new ValidationError(field, key, 'only keys under "net." are per-namespace and accepted');
  if (components.length < 2) throw new ValidationError(field, key, 'names a directory, not a value');
  return { key, components, path: `/proc/sys/${components.join('/')}` };
}

/** A value as the text written to the sysctl file (the kernel parses it from one write). */
export function formatSysctlValue(value: unknown, field = 'sysctl value'): string {
  const one = (v: unknown): string => {
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new ValidationError(field, value, 'numbers must be safe integers');
      return String(v);
    }
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'string') {
      if (/[\x00-\x08\x0a-\x1f\x7f]/u.test(v)) throw new ValidationError(field, value, 'must not contain newlines or control characters other than tab');
      return v;
    }
    throw new ValidationError(field, value, 'must be a string, an integer, a bigint or an array of them');
  };
  if (Array.isArray(value)) {
    if (value.length === 0) throw new ValidationError(field, value, 'must not be an empty array');
    return value.map(one).join('\t');
  }
  return one(value);
}

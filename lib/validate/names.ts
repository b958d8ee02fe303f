/**
 * Name validation done before any system call, with the same rules the kernel and iproute2 apply.
 * @module
 */
import { ValidationError } from '../errors.js';

/** IFNAMSIZ - 1: the kernel's limit on interface names, in bytes. */
export const IFNAME_MAX_BYTES = 15;

/**
 * Namespace names as `ip netns add` accepts them (iproute2's is_valid_netns_name): not empty, not
 * `.` or `..`, no `/`, no NUL, at most 255 bytes (NAME_MAX) since the name becomes a file name.
 */
export function validateNetnsName(name: unknown, field = 'namespace name'): string {
  if (typeof name !== 'string') throw new ValidationError(field, name, 'must be a string');
  if (name.length === 0) throw new ValidationError(field, name, 'must not be empty');
  if (name === '.' || name === '..') throw new ValidationError(field, name, 'must not be "." or ".."');
  if (name.includes('/')) throw new ValidationError(field, name, 'must not contain "/"');
  if (name.includes('\0')) throw new ValidationError(field, name, 'must not contain NUL');
  if (Buffer.byteLength(name, 'utf8') > 255) throw new ValidationError(field, name, 'must be at most 255 bytes');
  return name;
}

/**
 * Interface names as the kernel's dev_valid_name() accepts them: 1..15 bytes in UTF-8, not `.` or
 * `..`, no `/`, `:`, whitespace or NUL. `%` is rejected too: the kernel would treat it as a template
 * (`veth%d`) and pick a name the caller did not choose.
 */
export function validateIfname(name: unknown, field = 'interface name'): string {
  if (typeof name !== 'string') throw new ValidationError(field, name, 'must be a string');
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0) throw new ValidationError(field, name, 'must not be empty');
  if (bytes > IFNAME_MAX_BYTES) throw new ValidationError(field, name, `must be at most ${IFNAME_MAX_BYTES} bytes (is ${bytes})`);
  if (name === '.' || name === '..') throw new ValidationError(field, name, 'must not be "." or ".."');
  if (/[/:%\s\0]/u.test(name)) throw new ValidationError(field, name, 'must not contain "/", ":", "%", whitespace or NUL');
  return name;
}

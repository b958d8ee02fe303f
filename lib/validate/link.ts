/**
 * Validation of link parameters (MTU, MAC, queue lengths, kind options) before any system call, so a
 * rejected request changes nothing. Interface names are checked by ./names.ts.
 * @module
 */
import { ValidationError } from '../errors.js';
import { parseMacBytes } from '../netlink/wire_formats.js';
import { validateIfname } from './names.js';

/** Smallest MTU accepted: IPv4's minimum (ETH_MIN_MTU); below it no IP traffic can flow. */
export const MTU_MIN = 68;
/**
 * Largest MTU accepted before asking the kernel: its mtu is a C int. Each device has its own
 * maximum (IFLA_MAX_MTU: 65535 for a veth or bridge, none for lo, whose default is 65536), so the
 * device maximum is the kernel's call and its refusal ("mtu greater than device maximum") is
 * surfaced with its text.
 */
export const MTU_MAX = 0x7fffffff;

/** An integer in [min, max], or a ValidationError naming the field. */
export function validateIntRange(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ValidationError(field, v, `must be an integer from ${min} to ${max}`);
  }
  return v;
}

/** A boolean, or a ValidationError (catches `'false'` strings from config files, which are truthy). */
export function validateBoolean(field: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new ValidationError(field, v, 'must be true or false');
  return v;
}

/** MTU as `ip link set mtu` takes it: an integer from 68; the device's maximum is checked by the kernel. */
export function validateMtu(v: unknown, field = 'mtu'): number {
  return validateIntRange(field, v, MTU_MIN, MTU_MAX);
}

/** Transmit queue length (IFLA_TXQLEN is a u32). */
export function validateTxqueuelen(v: unknown, field = 'txqueuelen'): number {
  return validateIntRange(field, v, 0, 0xffffffff);
}

/**
 * An Ethernet address to give a device: six octets written aa:bb:cc:dd:ee:ff, not multicast (low bit
 * of the first octet) and not all zeros. The kernel refuses those for Ethernet devices
 * (is_valid_ether_addr); refusing them here means nothing is created with half the request applied.
 * Returns the address in lower case, as the kernel reports it.
 */
export function validateMac(v: unknown, field = 'mac'): string {
  if (typeof v !== 'string') throw new ValidationError(field, v, 'must be a string like 02:00:00:00:00:01');
  const bytes = parseMacBytes(v, field);
  if (bytes.length !== 6) throw new ValidationError(field, v, `must have 6 octets (has ${bytes.length})`);
  if (bytes[0] & 1) throw new ValidationError(field, v, 'is a multicast address (low bit of the first octet set); a device needs a unicast one');
  if (bytes.every((b) => b === 0)) throw new ValidationError(field, v, 'must not be all zeros');
  return v.toLowerCase();
}

/** IFLA_IFALIAS: at most IFALIASZ - 1 = 255 bytes, no NUL (the kernel cuts at the first NUL). */
export function validateAlias(v: unknown, field = 'alias'): string {
  if (typeof v !== 'string') throw new ValidationError(field, v, 'must be a string');
  if (v.includes('\0')) throw new ValidationError(field, v, 'must not contain NUL');
  const n = Buffer.byteLength(v, 'utf8');
  if (n > 255) throw new ValidationError(field, v, `must be at most 255 bytes (is ${n})`);
  return v;
}

/** One of a fixed set of words (modes), or a ValidationError listing them. */
export function validateChoice<T extends string>(field: string, v: unknown, choices: readonly T[]): T {
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
    throw new ValidationError(field, v, `must be one of ${choices.join(', ')}`);
  }
  return v as T;
}

/** A link given by name (checked like any interface name) or by ifindex. */
export function validateLinkRef(ref: unknown, field = 'link'): string | number {
  if (typeof ref === 'number') return validateIntRange(field, ref, 1, 0x7fffffff);
  if (typeof ref === 'string') return validateIfname(ref, field);
  throw new ValidationError(field, ref, 'must be an interface name or an ifindex');
}

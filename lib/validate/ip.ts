/**
 * Strict parsing of IP addresses and prefixes. inet_aton's legacy forms (`010.0.0.1` read as octal,
 * `0x7f.1`, `1.2.3`) are rejected: a CNI agent that accepts them configures an address nobody wrote.
 * @module
 */
import { isIPv6 } from 'node:net';
import { ValidationError } from '../errors.js';

/**
 * 4 bytes for a dotted quad in strict decimal, or undefined: each part 0-255, 1-3 digits, no leading
 * zero. A loop over the characters, not split and a regular expression per part: every address a
 * verb sends is parsed here, mostly by code V8 has not optimized yet (docs/performance.md, "Verbs
 * (verbs2)").
 */
export function parseIPv4(s: string): Buffer | undefined {
  const out = Buffer.allocUnsafe(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x2e; // a final '.' closes the last part
    if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && value === 0) return undefined; // leading zero
      value = value * 10 + (c - 0x30);
      if (++digits > 3 || value > 255) return undefined;
    } else if (c === 0x2e) {
      if (digits === 0 || part > 3) return undefined;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else return undefined;
  }
  return part === 4 ? out : undefined;
}

/** 16 bytes for an IPv6 address (no zone id), or undefined. */
export function parseIPv6(s: string): Buffer | undefined {
  if (!isIPv6(s) || s.includes('%')) return undefined;
  let head = s;
  let v4: Buffer | undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    v4 = parseIPv4(s.slice(lastColon + 1));
    if (!v4) return undefined;
    head = s.slice(0, lastColon + 1) + '0:0';
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const l = left ? left.split(':') : [];
  const r = right !== undefined ? (right ? right.split(':') : []) : [];
  const groups = right === undefined ? l : [...l, ...Array(8 - l.length - r.length).fill('0'), ...r];
  if (groups.length !== 8) return undefined;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  if (v4) v4.copy(out, 12);
  return out;
}

export type IpFamily = 4 | 6;

/** The address's bytes and family; throws ValidationError for anything but a strict address. */
export function parseIp(s: string, field = 'address'): { bytes: Buffer; family: IpFamily } {
  if (typeof s !== 'string') throw new ValidationError(field, s, 'must be a string');
  const v4 = parseIPv4(s);
  if (v4) return { bytes: v4, family: 4 };
  const v6 = parseIPv6(s);
  if (v6) return { bytes: v6, family: 6 };
  throw new ValidationError(field, s, 'is not a valid IPv4 or IPv6 address (only strict decimal dotted quads and RFC 4291 IPv6 are accepted)');
}

/** A parsed `address/prefix`. */
export interface Cidr {
  address: string;
  bytes: Buffer;
  family: IpFamily;
  prefixLength: number;
}

/**
 * Parse `a.b.c.d/n` or `x::y/n`. When `defaultPrefix` is true a bare address gets /32 or /128, as
 * `ip addr add 10.0.0.1 dev eth0` does.
 */
export function parseCidr(s: string, field = 'address', defaultPrefix = false): Cidr {
  if (typeof s !== 'string') throw new ValidationError(field, s, 'must be a string');
  const slash = s.indexOf('/');
  const addrPart = slash === -1 ? s : s.slice(0, slash);
  const { bytes, family } = parseIp(addrPart, field);
  const max = family === 4 ? 32 : 128;
  let prefixLength = max;
  if (slash === -1) {
    if (!defaultPrefix) throw new ValidationError(field, s, 'needs a prefix length (address/len)');
  } else {
    const p = s.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > max) {
      throw new ValidationError(field, s, `has an invalid prefix length (0..${max} in decimal)`);
    }
    prefixLength = Number(p);
  }
  return { address: addrPart, bytes, family, prefixLength };
}

/** `4`, `6`, or the names iproute2 uses (`inet`, `inet6`). */
export function parseFamily(v: unknown, field = 'family'): IpFamily {
  if (v === 4 || v === 'inet') return 4;
  if (v === 6 || v === 'inet6') return 6;
  throw new ValidationError(field, v, "must be 4, 6, 'inet' or 'inet6'");
}

/** Length in bits of an address of the family. */
export function familyBits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

/** True when every bit after the first `prefixLength` bits is zero. */
export function hostBitsZero(bytes: Uint8Array, prefixLength: number): boolean {
  for (let bit = prefixLength; bit < bytes.length * 8; bit++) {
    if (bytes[bit >> 3] & (0x80 >> (bit & 7))) return false;
  }
  return true;
}

/**
 * The address with its host part set to ones (`brd +`) or zeros (`brd -`), as iproute2 computes a
 * broadcast address from the local address and prefix.
 */
export function fillHostBits(bytes: Uint8Array, prefixLength: number, ones: boolean): Buffer {
  const out = Buffer.from(bytes);
  for (let bit = prefixLength; bit < out.length * 8; bit++) {
    const m = 0x80 >> (bit & 7);
    if (ones) out[bit >> 3] |= m;
    else out[bit >> 3] &= ~m & 0xff;
  }
  return out;
}

/** A routing prefix: `default`, `a.b.c.d/n`, or a bare address meaning a host route. */
export interface RoutePrefix {
  family: IpFamily;
  bytes: Buffer;
  prefixLength: number;
}

/**
 * Parse a route destination (or source selector). `default` needs the family from context (IPv4
 * when nothing says otherwise, as `ip route` assumes). Host bits must be zero: the kernel rejects
 * `10.0.0.1/24` for IPv4 ("Invalid prefix for given prefix length") and silently masks it for IPv6,
 * so neither is what the caller meant.
 */
export function parseRoutePrefix(s: string, field = 'destination', family?: IpFamily): RoutePrefix {
  if (s === 'default') {
    const f = family ?? 4;
    return { family: f, bytes: Buffer.alloc(f === 4 ? 4 : 16), prefixLength: 0 };
  }
  const c = parseCidr(s, field, true);
  if (family !== undefined && c.family !== family) {
    throw new ValidationError(field, s, `is an IPv${c.family} prefix where IPv${family} is needed`);
  }
  if (!hostBitsZero(c.bytes, c.prefixLength)) {
    throw new ValidationError(field, s, 'has host bits set after the prefix length (write the network address)');
  }
  return { family: c.family, bytes: c.bytes, prefixLength: c.prefixLength };
}

/** Parse an address and require it to be of `family` when one is given. */
export function parseIpOfFamily(s: string, field: string, family?: IpFamily): { bytes: Buffer; family: IpFamily } {
  const ip = parseIp(s, field);
  if (family !== undefined && ip.family !== family) {
    throw new ValidationError(field, s, `is an IPv${ip.family} address where IPv${family} is needed`);
  }
  return ip;
}

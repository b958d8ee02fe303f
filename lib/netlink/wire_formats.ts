/**
 * Address formats as they travel in attributes. Formatting follows glibc's inet_ntop so values read
 * back match what iproute2 prints.
 * @module
 */
import { ValidationError } from '../errors.js';
import { parseIp } from '../validate/ip.js';

export function parseIpBytes(s: string): Buffer {
  return parseIp(s).bytes;
}

export function formatIPv4(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

export function formatIPv6(b: Uint8Array, off = 0): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((b[off + 2 * i] << 8) | b[off + 2 * i + 1]);
  // Longest run of zero words (length >= 2) is written as '::' (RFC 5952 section 4.2).
  let bestBase = -1, bestLen = 0, curBase = -1, curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      if (curBase === -1) { curBase = i; curLen = 1; } else curLen++;
      if (curLen > bestLen) { bestBase = curBase; bestLen = curLen; }
    } else curBase = -1;
  }
  if (bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i > 0) out += ':';
    // glibc prints an embedded IPv4 address for ::a.b.c.d and ::ffff:a.b.c.d.
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
      out += formatIPv4(b, off + 12);
      break;
    }
    out += words[i].toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out += ':';
  return out;
}

/** IPv4 for 4 bytes, IPv6 for 16; anything else as hex (unknown families). */
export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return formatIPv4(b);
  if (b.length === 16) return formatIPv6(b);
  return Buffer.from(b).toString('hex');
}

/** Two lowercase hex digits per byte value. */
const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function formatMac(b: Uint8Array): string {
  // A plain loop over a table: link read-backs format two or three of these each.
  let out = b.length > 0 ? HEX2[b[0]] : '';
  for (let i = 1; i < b.length; i++) out += ':' + HEX2[b[i]];
  return out;
}

/** aa:bb:cc:dd:ee:ff (any number of octets, each exactly two hex digits). */
export function parseMacBytes(s: string, field = 'mac'): Buffer {
  if (typeof s !== 'string' || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})*$/.test(s)) {
    throw new ValidationError(field, s, 'is not a link-layer address of the form aa:bb:cc:dd:ee:ff');
  }
  return Buffer.from(s.split(':').map((x) => parseInt(x, 16)));
}

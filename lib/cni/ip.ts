/**
 * IP arithmetic for CNI: addresses as bigints so ranges, "next address" and subnet bounds are plain
 * integer operations, formatted the way the reference plugins print them (Go's net.IP.String:
 * RFC 5952 for IPv6), so result JSON and IPAM file names match theirs.
 * @module
 */
import { parseIPv4, parseIPv6, type IpFamily } from '../validate/ip.js';

/** An address: its family and value. */
export interface Ip {
  family: IpFamily;
  value: bigint;
}

/** An address with a prefix length (`10.1.0.5/24`), as CNI results carry them. */
export interface IpNet extends Ip {
  prefix: number;
}

/** Parse a plain address; undefined when it is not one. */
export function parseAddr(s: unknown): Ip | undefined {
  if (typeof s !== 'string') return undefined;
  const v4 = parseIPv4(s);
  if (v4) return { family: 4, value: BigInt('0x' + v4.toString('hex')) };
  const v6 = parseIPv6(s);
  if (v6) return { family: 6, value: BigInt('0x' + v6.toString('hex')) };
  return undefined;
}

/** Parse `ADDR/PREFIX`; undefined when it is not one. Host bits are kept (see {@link network}). */
export function parseNet(s: unknown): IpNet | undefined {
  if (typeof s !== 'string') return undefined;
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseAddr(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (!ip || !/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
  const prefix = Number(p);
  if (prefix > bits(ip.family)) return undefined;
  return { ...ip, prefix };
}

export function bits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

function hostMask(n: IpNet): bigint {
  return (1n << BigInt(bits(n.family) - n.prefix)) - 1n;
}

/** The network address of `n` (host bits zero). */
export function network(n: IpNet): IpNet {
  return { family: n.family, value: n.value & ~hostMask(n), prefix: n.prefix };
}

/** The last address of `n`'s subnet (host bits one: the IPv4 broadcast). */
export function lastAddr(n: IpNet): Ip {
  return { family: n.family, value: (n.value & ~hostMask(n)) | hostMask(n) };
}

export function contains(n: IpNet, ip: Ip): boolean {
  return ip.family === n.family && (ip.value & ~hostMask(n)) === (n.value & ~hostMask(n));
}

export function add(ip: Ip, delta: bigint): Ip {
  return { family: ip.family, value: ip.value + delta };
}

export function equal(a: Ip | undefined, b: Ip | undefined): boolean {
  return !!a && !!b && a.family === b.family && a.value === b.value;
}

/** Format as Go's net.IP.String does: dotted quad, or RFC 5952 (longest run of ≥ 2 zero groups as `::`). */
export function formatAddr(ip: Ip): string {
  if (ip.family === 4) {
    const v = Number(ip.value);
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (a: number[]) => a.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

export function formatNet(n: IpNet): string {
  return `${formatAddr(n)}/${n.prefix}`;
}

/**
 * What a caller may say about an address, its strict validation, and its encoding with the defaults
 * `ip address add` applies. Pure (no system call), so every rejection and byte is unit-tested
 * without root.
 * @module
 */
import { ValidationError } from '../../errors.js';
import { formatIp } from '../../netlink/wire_formats.js';
import { ADDRESS_FLAG_NAMES, IFA_ADDRESS, IFA_LOCAL, INFINITY_LIFE_TIME, type AddrAttrs } from '../../rtnl/addr/index.js';
import { AF_INET, AF_INET6 } from '../../rtnl/constants.js';
import { RT_SCOPE_HOST, RT_SCOPE_UNIVERSE } from '../../rtnl/route/index.js';
import { SCOPES, numberOf, type Scope } from '../../rtnl/route/names.js';
import { IFNAME_MAX_BYTES } from '../../validate/names.js';
import { fillHostBits, parseCidr, type Cidr, type IpFamily } from '../../validate/ip.js';
import { checkKeys } from '../../validate/options.js';
import { checkInt } from '../link/resolve.js';

/** Flags a caller may set when adding an address (the others are the kernel's to set). */
export type AddressSetFlag = 'home' | 'nodad' | 'optimistic' | 'mngtmpaddr' | 'noprefixroute' | 'autojoin';
const SETTABLE: readonly AddressSetFlag[] = ['home', 'nodad', 'optimistic', 'mngtmpaddr', 'noprefixroute', 'autojoin'];

/** A lifetime in seconds, or `'forever'`. */
export type Lifetime = number | 'forever';

/** Options of {@link Addresses.add} and {@link Addresses.replace}. */
export interface AddressOptions {
  /** Point-to-point peer, optionally with the prefix length (`ip addr add L peer P/len`). */
  peer?: string;
  /** IPv4 broadcast address; `'+'` sets the host bits to ones, `'-'` to zeros (`ip`'s `brd +` / `brd -`). */
  broadcast?: string;
  /** Default: `host` for 127.0.0.0/8, otherwise `global`, as `ip` chooses. */
  scope?: Scope;
  /** IPv4 label; it must start with the device name (`eth0:web`), as `ip` requires. */
  label?: string;
  flags?: AddressSetFlag[];
  /** Default `'forever'`. */
  validLifetime?: Lifetime;
  /** Default: the valid lifetime. Must not exceed it. */
  preferredLifetime?: Lifetime;
  /** Metric of the prefix route the kernel adds for the address. */
  metric?: number;
}
const OPTION_KEYS = ['peer', 'broadcast', 'scope', 'label', 'flags', 'validLifetime', 'preferredLifetime', 'metric'] as const;

/** The validated request, before the link is resolved. */
interface AddressRequest {
  header: { family: number; prefixlen: number; flags: number; scope: number };
  attrs: AddrAttrs;
  /** The local address's bytes when the request carries nothing but IFA_LOCAL and IFA_ADDRESS (equal). */
  plain?: Buffer;
}

/** Validate everything and build the message; throws ValidationError before any system call. */
export function buildRequest(address: string, opts: AddressOptions, devName?: string): AddressRequest {
  checkKeys('', opts, OPTION_KEYS);
  const local = parseCidr(address, 'address', true);
  const af = local.family === 4 ? AF_INET : AF_INET6;
  const attrs: AddrAttrs = { local: formatIp(local.bytes) };
  let prefixlen = local.prefixLength;
  let peer: Cidr | undefined;
  if (opts.peer !== undefined) {
    peer = parseCidr(opts.peer, 'peer', true);
    if (peer.family !== local.family) throw new ValidationError('peer', opts.peer, `is not an IPv${local.family} address like the local one`);
    // `ip` takes the prefix length from the peer when one is given.
    if (opts.peer.includes('/')) prefixlen = peer.prefixLength;
  }
  if (opts.label !== undefined) attrs.label = checkLabel(opts.label, local.family, devName);
  let flags = 0;
  for (const name of opts.flags ?? []) {
    if (!SETTABLE.includes(name)) throw new ValidationError('flags', name, `is not a flag that can be set (one of ${SETTABLE.join(', ')})`);
    flags |= ADDRESS_FLAG_NAMES[name];
  }
  // The header holds 8 bits; `ip` sends IFA_FLAGS only when a higher bit is set.
  const headerFlags = flags <= 0xff ? flags : 0;
  if (flags > 0xff) attrs.flags = flags;
  attrs.address = peer ? formatIp(peer.bytes) : attrs.local;
  if (opts.broadcast !== undefined) attrs.broadcast = broadcastOf(opts.broadcast, local, prefixlen);
  const scope = opts.scope === undefined ? defaultScope(local) : numberOf(SCOPES, opts.scope, 'scope');
  const lifetimes = checkLifetimes(opts);
  if (lifetimes) attrs.cacheinfo = { ...lifetimes, created: 0, updated: 0 };
  if (opts.metric !== undefined) attrs.rtPriority = checkInt('metric', opts.metric, 0, 0xffffffff);
  const plain =
    peer === undefined && attrs.label === undefined && attrs.flags === undefined && attrs.broadcast === undefined && attrs.cacheinfo === undefined && attrs.rtPriority === undefined
      ? local.bytes
      : undefined;
  return { header: { family: af, prefixlen, flags: headerFlags, scope }, attrs, plain };
}

/**
 * The RTM_NEWADDR body of `ip address add ADDR/LEN dev DEV` without options (a pod's address),
 * written directly: the same bytes as `encodeAddrBody` makes of that header with IFA_LOCAL and
 * IFA_ADDRESS, without walking the attribute table and parsing the address back from its text (in
 * place, where a pod's verbs run mostly unoptimized, that was a third of the verb's own time:
 * docs/performance.md, "Pod steps (pod2)").
 */
export function encodePlainAddrBody(header: AddressRequest['header'], index: number, local: Buffer): Buffer {
  const attrLen = 4 + local.length; // 8 or 20: already aligned
  const buf = Buffer.alloc(IFADDRMSG_SIZE + 2 * attrLen);
  buf[0] = header.family;
  buf[1] = header.prefixlen;
  buf[2] = header.flags;
  buf[3] = header.scope;
  buf.writeUInt32LE(index, 4);
  // Table order, as `ip` sends them: IFA_LOCAL, then IFA_ADDRESS.
  buf.writeUInt16LE(attrLen, IFADDRMSG_SIZE);
  buf.writeUInt16LE(IFA_LOCAL, IFADDRMSG_SIZE + 2);
  local.copy(buf, IFADDRMSG_SIZE + 4);
  buf.writeUInt16LE(attrLen, IFADDRMSG_SIZE + attrLen);
  buf.writeUInt16LE(IFA_ADDRESS, IFADDRMSG_SIZE + attrLen + 2);
  local.copy(buf, IFADDRMSG_SIZE + attrLen + 4);
  return buf;
}

/** struct ifaddrmsg: family, prefixlen, flags, scope, index. */
const IFADDRMSG_SIZE = 8;

/** `ip`'s default_scope(): loopback addresses are host-scoped, everything else global. */
function defaultScope(local: Cidr): number {
  return local.family === 4 && local.bytes[0] === 127 ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
}

function broadcastOf(v: string, local: Cidr, prefixlen: number): string {
  if (local.family !== 4) throw new ValidationError('broadcast', v, 'exists only for IPv4 addresses');
  if (v === '+' || v === '-') return formatIp(fillHostBits(local.bytes, prefixlen, v === '+'));
  const b = parseCidr(v, 'broadcast', true);
  if (v.includes('/') || b.family !== 4) throw new ValidationError('broadcast', v, "must be an IPv4 address, '+' or '-'");
  return formatIp(b.bytes);
}

function checkLabel(label: unknown, family: IpFamily, devName?: string): string {
  if (family !== 4) throw new ValidationError('label', label, 'exists only for IPv4 addresses');
  if (typeof label !== 'string' || label.length === 0) throw new ValidationError('label', label, 'must be a non-empty string');
  if (Buffer.byteLength(label) > IFNAME_MAX_BYTES) throw new ValidationError('label', label, `must be at most ${IFNAME_MAX_BYTES} bytes`);
  if (/[\0\s/]/u.test(label)) throw new ValidationError('label', label, 'must not contain NUL, whitespace or "/"');
  if (devName !== undefined && !label.startsWith(devName)) throw new ValidationError('label', label, `must start with the device name "${devName}"`);
  return label;
}

function lifetimeValue(field: string, v: unknown): number {
  if (v === 'forever') return INFINITY_LIFE_TIME;
  return checkInt(field, v, 0, INFINITY_LIFE_TIME - 1);
}

function checkLifetimes(opts: AddressOptions): { valid: number; preferred: number } | undefined {
  if (opts.validLifetime === undefined && opts.preferredLifetime === undefined) return undefined;
  const valid = opts.validLifetime === undefined ? INFINITY_LIFE_TIME : lifetimeValue('validLifetime', opts.validLifetime);
  const preferred = opts.preferredLifetime === undefined ? valid : lifetimeValue('preferredLifetime', opts.preferredLifetime);
  if (valid === 0) throw new ValidationError('validLifetime', opts.validLifetime, 'must not be 0');
  if (preferred > valid) throw new ValidationError('preferredLifetime', opts.preferredLifetime, 'must not exceed validLifetime');
  return { valid, preferred };
}

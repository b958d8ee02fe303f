/**
 * IP addresses of one namespace (`ip address`).
 * @module
 */
import { NetnsError, ValidationError, isNotFound } from '../errors.js';
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from '../netlink/constants.js';
import { formatIp } from '../netlink/wire_formats.js';
import {
  ADDRESS_FLAG_NAMES,
  IFA_F_SECONDARY,
  INFINITY_LIFE_TIME,
  addrFlags,
  decodeAddrMessage,
  encodeAddrBody,
  type AddrAttrs,
  type AddrMessage,
} from '../rtnl/addr.js';
import { AF_INET, AF_INET6, AF_UNSPEC, RTM_DELADDR, RTM_GETADDR, RTM_NEWADDR } from '../rtnl/constants.js';
import { RT_SCOPE_HOST, RT_SCOPE_UNIVERSE } from '../rtnl/route.js';
import { SCOPES, nameOf, numberOf, type Scope } from '../rtnl/route_names.js';
import { IFNAME_MAX_BYTES } from '../validate/names.js';
import { fillHostBits, parseCidr, parseFamily, type Cidr, type IpFamily } from '../validate/ip.js';
import { checkInt, checkKeys, checkLinkRef, ifindexOf, linkNames } from './link_resolve.js';
import type { LinkRef } from './links.js';
import type { Netns } from './netns.js';

/** Flags of an address as `ip address` names them (`temporary` is IPv6's name for `secondary`). */
export type AddressFlag = keyof typeof ADDRESS_FLAG_NAMES | 'temporary';

/** Flags a caller may set when adding an address (the others are the kernel's to set). */
export type AddressSetFlag = 'home' | 'nodad' | 'optimistic' | 'mngtmpaddr' | 'noprefixroute' | 'autojoin';
const SETTABLE: readonly AddressSetFlag[] = ['home', 'nodad', 'optimistic', 'mngtmpaddr', 'noprefixroute', 'autojoin'];

/** A lifetime in seconds, or `'forever'`. */
export type Lifetime = number | 'forever';

/** An address as read back from the kernel. */
export interface Address {
  family: IpFamily;
  /** The local address (IFA_LOCAL; IFA_ADDRESS for IPv6, which sends only that). */
  address: string;
  prefixLength: number;
  /** `address/prefixLength`. */
  cidr: string;
  /** The other end of a point-to-point address (IFA_ADDRESS when it differs from the local one). */
  peer?: string;
  broadcast?: string;
  anycast?: string;
  scope: Scope;
  /** IPv4 label (`eth0:1`). */
  label?: string;
  ifindex: number;
  /** Name of the link, when it still existed at the time of the call. */
  dev?: string;
  /** Set flags, by `ip`'s names. `ip -j` shows `"dynamic": true` for addresses without `permanent`. */
  flags: AddressFlag[];
  /** The raw IFA_F_* bits. */
  rawFlags: number;
  validLifetime: Lifetime;
  preferredLifetime: Lifetime;
  /** Metric of the prefix route (IFA_RT_PRIORITY). */
  metric?: number;
}

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

/** Selects addresses for {@link Addresses.list} and {@link Addresses.flush}. */
export interface AddressFilter {
  dev?: LinkRef;
  family?: IpFamily | 'inet' | 'inet6';
  /** Only addresses of this scope. */
  scope?: Scope;
}

/** Options of {@link Addresses.delete}. */
export interface AddressDeleteOptions {
  /** Resolve `false` instead of throwing when the address (or the link) does not exist. */
  ifExists?: boolean;
}

/** `ip address` verbs acting inside one namespace. */
export class Addresses {
  constructor(private readonly ns: Netns) {}

  /**
   * Add an address. Fails with EEXIST when the link already has it.
   *
   * Equivalent to: `ip address add 10.0.0.1/24 brd + dev eth0`
   * @param dev the link, by name or index.
   * @param address `a.b.c.d/len` or `x::y/len`; a bare address means /32 or /128.
   * @example
   * ```ts
   * await ns.addresses.add('eth0', '10.0.0.1/24', { broadcast: '+' });
   * await ns.addresses.add('eth0', '2001:db8::1/64', { flags: ['nodad'] });
   * ```
   * @throws {@link ValidationError} for malformed input (nothing is sent); a {@link NetlinkError}
   *   with the kernel's code ('EEXIST', 'ENODEV', ...) otherwise.
   */
  async add(dev: LinkRef, address: string, opts: AddressOptions = {}): Promise<void> {
    await this.modify(dev, address, opts, NLM_F_CREATE | NLM_F_EXCL, 'add');
  }

  /**
   * Add an address, or update the lifetimes, flags and metric of an existing one.
   *
   * Equivalent to: `ip address replace 10.0.0.1/24 dev eth0`
   * @example
   * ```ts
   * await ns.addresses.replace('eth0', '10.0.0.1/24', { validLifetime: 300, preferredLifetime: 200 });
   * ```
   */
  async replace(dev: LinkRef, address: string, opts: AddressOptions = {}): Promise<void> {
    await this.modify(dev, address, opts, NLM_F_CREATE | NLM_F_REPLACE, 'replace');
  }

  /**
   * Remove an address. With a prefix length, only an address with that length matches; a bare
   * address removes it whatever its prefix length.
   *
   * Equivalent to: `ip address del 10.0.0.1/24 dev eth0`
   * @example
   * ```ts
   * await ns.addresses.delete('eth0', '10.0.0.1/24');
   * await ns.addresses.delete('eth0', '10.0.0.1/24', { ifExists: true }); // false: already gone
   * ```
   * @returns true when deleted; false when it did not exist and `ifExists` was set.
   * @throws a {@link NetlinkError} with code 'EADDRNOTAVAIL' when there is no such address.
   */
  async delete(dev: LinkRef, address: string, opts: AddressDeleteOptions = {}): Promise<boolean> {
    checkLinkRef(dev);
    checkKeys('delete options', opts, ['ifExists']);
    const bare = typeof address === 'string' && !address.includes('/');
    const cidr = parseCidr(address, 'address', true);
    try {
      const index = await ifindexOf(this.ns, dev);
      let prefixLength = cidr.prefixLength;
      if (bare) {
        const found = (await this.dumpRaw(cidr.family, index)).find((m) => localOf(m) === formatIp(cidr.bytes));
        if (!found) throw notFound(`ip address del ${address} dev ${dev}`);
        prefixLength = found.header.prefixlen;
      }
      await this.deleteRaw(cidr.family, index, prefixLength, formatIp(cidr.bytes), `ip address del ${address} dev ${dev}`);
      return true;
    } catch (e) {
      if (opts.ifExists && isNotFound(e)) return false;
      throw e;
    }
  }

  /**
   * The addresses of the namespace, optionally of one link, family or scope.
   *
   * Equivalent to: `ip address show [dev eth0] [-4|-6] [scope global]`
   * @example
   * ```ts
   * const v4 = await ns.addresses.list({ dev: 'eth0', family: 4 });
   * console.log(v4.map((a) => a.cidr));
   * ```
   */
  async list(filter: AddressFilter = {}): Promise<Address[]> {
    const f = checkFilter(filter);
    const index = f.dev === undefined ? 0 : await ifindexOf(this.ns, f.dev);
    const [msgs, names] = await Promise.all([this.dumpRaw(f.family, index), linkNames(this.ns)]);
    return msgs.filter((m) => f.scope === undefined || m.header.scope === f.scope).map((m) => toAddress(m, names));
  }

  /**
   * Remove every address that matches the filter (all of them when it is empty).
   *
   * Equivalent to: `ip address flush dev eth0 [-4|-6] [scope global]`
   * @example
   * ```ts
   * const removed = await ns.addresses.flush({ dev: 'eth0', family: 4 });
   * ```
   * @returns how many addresses this call removed (secondaries the kernel drops along with their
   *   primary are not counted).
   */
  async flush(filter: AddressFilter = {}): Promise<number> {
    const f = checkFilter(filter);
    const index = f.dev === undefined ? 0 : await ifindexOf(this.ns, f.dev);
    let removed = 0;
    // Removing a primary IPv4 address also removes (or promotes) its secondaries, so one pass may
    // leave addresses that appeared after the dump; repeat until nothing matches, a bounded number
    // of times, as `ip address flush` does.
    for (let round = 0; round < 10; round++) {
      const msgs = (await this.dumpRaw(f.family, index)).filter((m) => f.scope === undefined || m.header.scope === f.scope);
      if (msgs.length === 0) return removed;
      for (const m of msgs) {
        const family: IpFamily = m.header.family === AF_INET ? 4 : 6;
        try {
          await this.deleteRaw(family, m.header.index, m.header.prefixlen, localOf(m), 'ip address flush');
          removed++;
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
    }
    return removed;
  }

  private async modify(dev: LinkRef, address: string, opts: AddressOptions, flags: number, verb: string): Promise<void> {
    checkLinkRef(dev);
    const req = buildRequest(address, opts, typeof dev === 'string' ? dev : undefined);
    const index = await ifindexOf(this.ns, dev);
    const conn = await this.ns.rtnl();
    await conn.request(RTM_NEWADDR, flags, encodeAddrBody({ ...req.header, index }, req.attrs), `ip address ${verb} ${address} dev ${dev}`);
  }

  private async deleteRaw(family: IpFamily, index: number, prefixlen: number, local: string, operation: string): Promise<void> {
    const conn = await this.ns.rtnl();
    // As `ip address del` does: IFA_LOCAL plus IFA_ADDRESS, so the prefix length is compared too.
    const body = encodeAddrBody({ family: family === 4 ? AF_INET : AF_INET6, prefixlen, index }, { local, address: local });
    await conn.request(RTM_DELADDR, 0, body, operation);
  }

  private async dumpRaw(family: IpFamily | undefined, index: number): Promise<AddrMessage[]> {
    const conn = await this.ns.rtnl();
    // With NETLINK_GET_STRICT_CHK the kernel filters by ifa_index itself; filter here as well for
    // sockets where strict checking is unavailable.
    const af = family === undefined ? AF_UNSPEC : family === 4 ? AF_INET : AF_INET6;
    const msgs = await conn.dump(RTM_GETADDR, encodeAddrBody({ family: af, index }, {}), 'ip address show');
    return msgs
      .filter((m) => m.type === RTM_NEWADDR)
      .map((m) => decodeAddrMessage(m.payload))
      .filter((m) => (index === 0 || m.header.index === index) && (af === AF_UNSPEC || m.header.family === af));
  }
}

/** The validated request, before the link is resolved. */
interface AddressRequest {
  header: { family: number; prefixlen: number; flags: number; scope: number };
  attrs: AddrAttrs;
}

/** Validate everything and build the message; throws ValidationError before any system call. */
export function buildRequest(address: string, opts: AddressOptions, devName?: string): AddressRequest {
  checkKeys('address options', opts, OPTION_KEYS);
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
  return { header: { family: af, prefixlen, flags: headerFlags, scope }, attrs };
}

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

function checkFilter(filter: AddressFilter): { dev?: LinkRef; family?: IpFamily; scope?: number } {
  checkKeys('filter', filter, ['dev', 'family', 'scope']);
  return {
    dev: filter.dev === undefined ? undefined : checkLinkRef(filter.dev),
    family: filter.family === undefined ? undefined : parseFamily(filter.family),
    scope: filter.scope === undefined ? undefined : numberOf(SCOPES, filter.scope, 'scope'),
  };
}

/** The local address: IFA_LOCAL, or IFA_ADDRESS for IPv6 (which never sends IFA_LOCAL without a peer). */
function localOf(m: AddrMessage): string {
  return m.attrs.local ?? m.attrs.address ?? '';
}

/** The kernel's own answer for a missing address, so `isNotFound` and `ifExists` treat both alike. */
function notFound(operation: string): NetnsError {
  return new NetnsError(`${operation}: no such address (EADDRNOTAVAIL)`, { code: 'EADDRNOTAVAIL', errno: 99, operation });
}

function lifetime(v: number): Lifetime {
  return v === INFINITY_LIFE_TIME ? 'forever' : v;
}

/** Turn a decoded RTM_NEWADDR into the public shape. */
export function toAddress(m: AddrMessage, names?: Map<number, string>): Address {
  const family: IpFamily = m.header.family === AF_INET ? 4 : 6;
  const raw = addrFlags(m);
  const local = localOf(m);
  const a: Address = {
    family,
    address: local,
    prefixLength: m.header.prefixlen,
    cidr: `${local}/${m.header.prefixlen}`,
    scope: nameOf(SCOPES, m.header.scope),
    ifindex: m.header.index,
    flags: addressFlagNames(raw, family),
    rawFlags: raw,
    validLifetime: lifetime(m.attrs.cacheinfo?.valid ?? INFINITY_LIFE_TIME),
    preferredLifetime: lifetime(m.attrs.cacheinfo?.preferred ?? INFINITY_LIFE_TIME),
  };
  if (m.attrs.local !== undefined && m.attrs.address !== undefined && m.attrs.address !== m.attrs.local) a.peer = m.attrs.address;
  if (m.attrs.broadcast !== undefined) a.broadcast = m.attrs.broadcast;
  if (m.attrs.anycast !== undefined) a.anycast = m.attrs.anycast;
  if (m.attrs.label !== undefined) a.label = m.attrs.label;
  if (m.attrs.rtPriority !== undefined) a.metric = m.attrs.rtPriority;
  const dev = names?.get(m.header.index);
  if (dev !== undefined) a.dev = dev;
  return a;
}

/** Names of the set IFA_F_* bits; IPv6 calls its secondary (privacy) addresses `temporary`. */
export function addressFlagNames(flags: number, family: IpFamily): AddressFlag[] {
  const out: AddressFlag[] = [];
  for (const [name, bit] of Object.entries(ADDRESS_FLAG_NAMES) as [keyof typeof ADDRESS_FLAG_NAMES, number][]) {
    if (!(flags & bit)) continue;
    out.push(bit === IFA_F_SECONDARY && family === 6 ? 'temporary' : name);
  }
  return out;
}

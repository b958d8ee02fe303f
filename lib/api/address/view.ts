/**
 * The public shape of an address read back from the kernel, spelled as `ip -j address` spells it.
 * @module
 */
import { ADDRESS_FLAG_NAMES, IFA_F_SECONDARY, INFINITY_LIFE_TIME, addrFlags, type AddrMessage } from '../../rtnl/addr/index.js';
import { AF_INET } from '../../rtnl/constants.js';
import { SCOPES, nameOf, type Scope } from '../../rtnl/route/names.js';
import type { IpFamily } from '../../validate/ip.js';
import type { Lifetime } from './spec.js';

/** Flags of an address as `ip address` names them (`temporary` is IPv6's name for `secondary`). */
export type AddressFlag = keyof typeof ADDRESS_FLAG_NAMES | 'temporary';

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

/** The local address: IFA_LOCAL, or IFA_ADDRESS for IPv6 (which never sends IFA_LOCAL without a peer). */
export function localOf(m: AddrMessage): string {
  return m.attrs.local ?? m.attrs.address ?? '';
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

/**
 * Turning interface names into ifindexes and back, for the verbs that address links by reference
 * (addresses, routes, neighbours). Names are checked before any system call.
 * @module
 */
import { ValidationError } from '../../errors.js';
import { validateIntRange, validateLinkRef } from '../../validate/link.js';
import { AF_UNSPEC, RTM_GETLINK, RTM_NEWLINK } from '../../rtnl/constants.js';
import { IFLA_ADDRESS, RTEXT_FILTER_SKIP_STATS, decodeLinkMessage, encodeLinkBody } from '../../rtnl/link/index.js';
import type { LinkRef } from './index.js';

/** A link reference checked without asking the kernel: a valid interface name or a positive ifindex. */
export const checkLinkRef = (ref: unknown, field = 'dev'): LinkRef => validateLinkRef(ref, field);
/** An integer in [min, max], or a ValidationError naming the field (the link validators' rule). */
export const checkInt = validateIntRange;
import type { Netns } from '../netns/index.js';

/** The ifindex of a link of `ns` (a NetlinkError with code ENODEV when there is no such link). */
export function ifindexOf(ns: Netns, ref: LinkRef): Promise<number> {
  return ns.links.index(ref);
}

/** What the neighbour verbs need to know about a link to check a link-layer address. */
export interface LinkBasics {
  index: number;
  /** Length of the link's hardware address (6 for Ethernet, 0 for devices without one). */
  addrLen: number;
}

/** ifindex and hardware address length of a link, by name or index (ENODEV when it does not exist). */
export async function linkBasics(ns: Netns, ref: LinkRef): Promise<LinkBasics> {
  const link = decodeLinkMessage((await ns.links.fetchMessage(ref)).payload);
  return { index: link.header.index, addrLen: link.raw.get(IFLA_ADDRESS)?.length ?? 0 };
}

/** ifindex -> name for every link of `ns`, to name the devices in objects read back. */
export async function linkNames(ns: Netns): Promise<Map<number, string>> {
  const conn = await ns.rtnl();
  const msgs = await conn.dump(RTM_GETLINK, encodeLinkBody({ family: AF_UNSPEC }, { extMask: RTEXT_FILTER_SKIP_STATS }), 'ip link show');
  const out = new Map<number, string>();
  for (const m of msgs) {
    if (m.type !== RTM_NEWLINK) continue;
    const l = decodeLinkMessage(m.payload);
    if (l.attrs.ifname !== undefined) out.set(l.header.index, l.attrs.ifname);
  }
  return out;
}

/** Reject option keys the method does not know: a typo must not silently configure nothing. */
export function checkKeys(field: string, opts: object | undefined, allowed: readonly string[]): void {
  if (opts === undefined) return;
  if (typeof opts !== 'object' || opts === null) throw new ValidationError(field, opts, 'must be an object');
  for (const k of Object.keys(opts)) {
    if (!allowed.includes(k)) throw new ValidationError(field, k, `is not a known option (known: ${allowed.join(', ')})`);
  }
}

/**
 * Turning interface names into ifindexes and back, for the verbs that address links by reference
 * (addresses, routes, neighbours). Names are checked before any system call.
 * @module
 */
import { NetnsError, ValidationError } from '../errors.js';
import { AF_UNSPEC, RTM_GETLINK, RTM_NEWLINK } from '../rtnl/constants.js';
import { IFLA_ADDRESS, RTEXT_FILTER_SKIP_STATS, decodeLinkMessage, encodeLinkBody, ifinfomsg } from '../rtnl/link.js';
import type { NetlinkMessage } from '../netlink/message.js';
import { validateIfname } from '../validate/names.js';
import type { LinkRef } from './links.js';
import type { Netns } from './netns.js';

/** Check a link reference without asking the kernel: a valid interface name or a positive ifindex. */
export function checkLinkRef(ref: unknown, field = 'dev'): LinkRef {
  if (typeof ref === 'number') {
    if (!Number.isInteger(ref) || ref <= 0 || ref > 0x7fffffff) throw new ValidationError(field, ref, 'must be a positive ifindex');
    return ref;
  }
  return validateIfname(ref, field);
}

/**
 * The ifindex of a link of `ns` (a NetlinkError with code ENODEV when there is no such link). Asks
 * for the name only, without statistics: this runs before every verb that names a device.
 */
export async function ifindexOf(ns: Netns, ref: LinkRef): Promise<number> {
  if (typeof ref === 'number') return ref;
  // The header carries the index; decoding the attributes would be wasted work on a hot path.
  return ifinfomsg.decode((await getLink(ns, ref)).payload, 0).index;
}

/** What the neighbour verbs need to know about a link to check a link-layer address. */
export interface LinkBasics {
  index: number;
  /** Length of the link's hardware address (6 for Ethernet, 0 for devices without one). */
  addrLen: number;
}

/** ifindex and hardware address length of a link, by name or index (ENODEV when it does not exist). */
export async function linkBasics(ns: Netns, ref: LinkRef): Promise<LinkBasics> {
  const link = decodeLinkMessage((await getLink(ns, ref)).payload);
  return { index: link.header.index, addrLen: link.raw.get(IFLA_ADDRESS)?.length ?? 0 };
}

/** The kernel's RTM_NEWLINK for one link (ENODEV when it does not exist). */
async function getLink(ns: Netns, ref: LinkRef): Promise<NetlinkMessage> {
  const conn = await ns.rtnl();
  const body = encodeLinkBody(
    { family: AF_UNSPEC, index: typeof ref === 'number' ? ref : 0 },
    typeof ref === 'string' ? { ifname: ref, extMask: RTEXT_FILTER_SKIP_STATS } : { extMask: RTEXT_FILTER_SKIP_STATS },
  );
  const msgs = await conn.request(RTM_GETLINK, 0, body, `ip link show dev ${ref}`);
  const m = msgs.find((x) => x.type === RTM_NEWLINK);
  if (!m) throw new NetnsError(`ip link show dev ${ref}: no answer`, { code: 'ENODEV' });
  return m;
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

/** An integer in [min, max], or a ValidationError naming the field. */
export function checkInt(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ValidationError(field, v, `must be an integer from ${min} to ${max}`);
  }
  return v;
}

/** Reject option keys the method does not know: a typo must not silently configure nothing. */
export function checkKeys(field: string, opts: object | undefined, allowed: readonly string[]): void {
  if (opts === undefined) return;
  if (typeof opts !== 'object' || opts === null) throw new ValidationError(field, opts, 'must be an object');
  for (const k of Object.keys(opts)) {
    if (!allowed.includes(k)) throw new ValidationError(field, k, `is not a known option (known: ${allowed.join(', ')})`);
  }
}

/**
 * Turning interface names into ifindexes and back, for the verbs that address links by reference
 * (links, addresses, routes, neighbours). Names are checked before any system call.
 * @module
 */
import { NetnsError, isNotFound } from '../../errors.js';
import type { NetlinkMessage } from '../../netlink/message.js';
import type { NetlinkConnection } from '../../netlink/connection.js';
import { AF_UNSPEC, RTM_GETLINK, RTM_NEWLINK } from '../../rtnl/constants.js';
import type { LinkRef } from '../../rtnl/link/kinds/kind.js';
import { IFLA_ADDRESS, RTEXT_FILTER_SKIP_STATS, decodeLinkMessage, encodeLinkBody } from '../../rtnl/link/index.js';
import { validateIntRange, validateLinkRef } from '../../validate/link.js';
import type { NsContext } from '../context.js';

/** A link reference checked without asking the kernel: a valid interface name or a positive ifindex. */
export const checkLinkRef = (ref: unknown, field = 'dev'): LinkRef => validateLinkRef(ref, field);
/** An integer in [min, max], or a ValidationError naming the field (the link validators' rule). */
export const checkInt = validateIntRange;

/**
 * Every read sends RTEXT_FILTER_SKIP_STATS: it drops the per-VF counters of SR-IOV NICs (large, and
 * not decoded here). The link's own 64-bit counters always come; the kernel has no switch for them.
 */
export const LINK_EXT_MASK = RTEXT_FILTER_SKIP_STATS;

/** The ifindex of a link of `ns` (a NetlinkError with code ENODEV when there is no such link). */
export function ifindexOf(ns: NsContext, ref: LinkRef): Promise<number> {
  return ns.linkIndex(ref);
}

/** The kernel's RTM_NEWLINK for one link, undecoded (callers that need one field skip the rest). */
export async function fetchLinkMessage(ns: NsContext, ref: LinkRef, op: string = ns.op(`ip link show dev ${ref}`)): Promise<NetlinkMessage> {
  return requestLinkMessage(await ns.rtnl(), ref, op);
}

/** The same on a connection at hand; the request is queued synchronously, so it can share a sendmsg. */
export async function requestLinkMessage(conn: NetlinkConnection, ref: LinkRef, op: string): Promise<NetlinkMessage> {
  const body = typeof ref === 'number'
    ? encodeLinkBody({ family: AF_UNSPEC, index: ref }, { extMask: LINK_EXT_MASK })
    : encodeLinkBody({ family: AF_UNSPEC }, { extMask: LINK_EXT_MASK, ifname: ref });
  let msgs;
  try {
    msgs = await conn.request(RTM_GETLINK, 0, body, op);
  } catch (e) {
    if (isNotFound(e) && e instanceof NetnsError && !e.message.includes(`"${ref}"`)) {
      // Name the missing device: when resolving a master or parent, the operation is not a lookup.
      (e as { message: string }).message = `${e.message} (no device "${ref}")`;
    }
    throw e;
  }
  const m = msgs.find((x) => x.type === RTM_NEWLINK);
  if (!m) throw new NetnsError(`${op}: the kernel sent no link`, { code: 'ENODEV', operation: op });
  return m;
}

/** What the neighbour verbs need to know about a link to check a link-layer address. */
export interface LinkBasics {
  index: number;
  /** Length of the link's hardware address (6 for Ethernet, 0 for devices without one). */
  addrLen: number;
}

/** ifindex and hardware address length of a link, by name or index (ENODEV when it does not exist). */
export async function linkBasics(ns: NsContext, ref: LinkRef): Promise<LinkBasics> {
  const link = decodeLinkMessage((await fetchLinkMessage(ns, ref)).payload);
  return { index: link.header.index, addrLen: link.raw.get(IFLA_ADDRESS)?.length ?? 0 };
}

/** ifindex -> name for every link of `ns`, to name the devices in objects read back. */
export async function linkNames(ns: NsContext): Promise<Map<number, string>> {
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

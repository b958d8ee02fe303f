/**
 * Links of one namespace (`ip link`).
 * @module
 */
import { NetnsError } from '../errors.js';
import { RTM_GETLINK, RTM_NEWLINK, AF_UNSPEC } from '../rtnl/constants.js';
import { IFF_LOWER_UP, IFF_UP, IFLA_INFO_KIND, IFLA_LINKINFO, RTEXT_FILTER_SKIP_STATS, decodeLinkMessage, encodeLinkBody, type LinkMessage } from '../rtnl/link.js';
import { validateIfname } from '../validate/names.js';
import type { Netns } from './netns.js';

/** Operational state names, indexed by IF_OPER_* (RFC 2863). */
const OPERSTATES = ['UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP'] as const;
export type OperState = (typeof OPERSTATES)[number];

/** A link as read back from the kernel. */
export interface Link {
  index: number;
  name: string;
  /** IFLA_INFO_KIND ('veth', 'bridge', ...); undefined for devices without one (lo, physical NICs). */
  kind?: string;
  /** Raw IFF_* flags. */
  flags: number;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Carrier present (IFF_LOWER_UP). */
  lowerUp: boolean;
  operState: OperState;
  mtu?: number;
  mac?: string;
}

/** Selects a link: its name or its ifindex. */
export type LinkRef = string | number;

/** `ip link` verbs acting inside one namespace. */
export class Links {
  constructor(private readonly ns: Netns) {}

  /**
   * Every link of the namespace.
   *
   * Equivalent to: `ip -n NS link show`
   * @example
   * ```ts
   * const names = (await ns.links.list()).map((l) => l.name);
   * ```
   */
  async list(): Promise<Link[]> {
    const conn = await this.ns.rtnl();
    const body = encodeLinkBody({ family: AF_UNSPEC }, { extMask: RTEXT_FILTER_SKIP_STATS });
    const msgs = await conn.dump(RTM_GETLINK, body, 'ip link show');
    return msgs.filter((m) => m.type === RTM_NEWLINK).map((m) => toLink(decodeLinkMessage(m.payload)));
  }

  /**
   * One link by name or index.
   *
   * Equivalent to: `ip -n NS link show dev NAME`
   * @example
   * ```ts
   * const lo = await ns.links.get('lo');
   * ```
   * @throws a {@link NetlinkError} with code 'ENODEV' when there is no such link.
   */
  async get(ref: LinkRef): Promise<Link> {
    const conn = await this.ns.rtnl();
    const body = encodeLinkBody(
      { family: AF_UNSPEC, index: typeof ref === 'number' ? ref : 0 },
      typeof ref === 'string' ? { ifname: validateIfname(ref), extMask: RTEXT_FILTER_SKIP_STATS } : { extMask: RTEXT_FILTER_SKIP_STATS },
    );
    const msgs = await conn.request(RTM_GETLINK, 0, body, `ip link show dev ${ref}`);
    const m = msgs.find((x) => x.type === RTM_NEWLINK);
    if (!m) throw new NetnsError(`ip link show dev ${ref}: no answer`, { code: 'ENODEV' });
    return toLink(decodeLinkMessage(m.payload));
  }

  /**
   * Bring a link up.
   *
   * Equivalent to: `ip -n NS link set dev NAME up`
   * @example
   * ```ts
   * await ns.links.setUp('lo');
   * ```
   */
  async setUp(ref: LinkRef): Promise<void> {
    await this.setFlags(ref, IFF_UP, IFF_UP, 'up');
  }

  /**
   * Bring a link down.
   *
   * Equivalent to: `ip -n NS link set dev NAME down`
   * @example
   * ```ts
   * await ns.links.setDown('lo');
   * ```
   */
  async setDown(ref: LinkRef): Promise<void> {
    await this.setFlags(ref, 0, IFF_UP, 'down');
  }

  private async setFlags(ref: LinkRef, flags: number, change: number, word: string): Promise<void> {
    const byName = typeof ref === 'string';
    if (byName) validateIfname(ref);
    const conn = await this.ns.rtnl();
    const body = encodeLinkBody({ family: AF_UNSPEC, index: byName ? 0 : ref, flags, change }, byName ? { ifname: ref } : {});
    await conn.request(RTM_NEWLINK, 0, body, `ip link set dev ${ref} ${word}`);
  }
}

export function toLink(m: LinkMessage): Link {
  const info = m.raw.nested(IFLA_LINKINFO);
  const link: Link = {
    index: m.header.index,
    name: m.attrs.ifname ?? '',
    flags: m.header.flags,
    up: (m.header.flags & IFF_UP) !== 0,
    lowerUp: (m.header.flags & IFF_LOWER_UP) !== 0,
    operState: OPERSTATES[m.attrs.operstate ?? 0] ?? 'UNKNOWN',
  };
  const kind = info?.string(IFLA_INFO_KIND);
  if (kind !== undefined) link.kind = kind;
  if (m.attrs.mtu !== undefined) link.mtu = m.attrs.mtu;
  if (m.attrs.address !== undefined) link.mac = m.attrs.address;
  return link;
}

/**
 * The neighbour (ARP / NDP) table of one namespace (`ip neigh`).
 * @module
 */
import { ValidationError, isNotFound } from '../../errors.js';
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from '../../netlink/constants.js';
import { formatIp, parseMacBytes } from '../../netlink/wire_formats.js';
import { AF_INET, AF_INET6, AF_UNSPEC, RTM_DELNEIGH, RTM_GETNEIGH, RTM_NEWNEIGH, USER_HZ } from '../../rtnl/constants.js';
import {
  NTF_NAMES,
  NTF_PROXY,
  NTF_ROUTER,
  NUD_PERMANENT,
  NUD_STATES,
  NUD_VALID,
  decodeNeighMessage,
  encodeNeighBody,
  type NeighAttrs,
  type NeighMessage,
} from '../../rtnl/neigh/index.js';
import { parseFamily, parseIp, type IpFamily } from '../../validate/ip.js';
import { checkKeys } from '../../validate/options.js';
import { checkLinkRef, ifindexOf, linkBasics, linkNames } from '../link/resolve.js';
import type { LinkRef } from '../link/index.js';
import type { NsContext } from '../context.js';

/** A neighbour state, as `ip neigh ... nud STATE` names it. */
export type NeighbourState = keyof typeof NUD_STATES;
/** A neighbour flag, as `ip neigh` prints it. */
export type NeighbourFlag = keyof typeof NTF_NAMES;


/** A neighbour entry as read back from the kernel. */
export interface Neighbour {
  family: IpFamily;
  /** The neighbour's IP address. */
  address: string;
  ifindex: number;
  dev?: string;
  /** Link-layer address, once known (absent while INCOMPLETE or FAILED). */
  lladdr?: string;
  /** The state (`ip -j` prints it upper-cased in an array). */
  state: NeighbourState;
  /** Raw NUD_* bits. */
  rawState: number;
  flags: NeighbourFlag[];
  /** NTF_ROUTER: the neighbour said it is a router (IPv6). */
  router: boolean;
  /** Seconds since the entry was last confirmed, used, updated (from NDA_CACHEINFO). */
  confirmed?: number;
  used?: number;
  updated?: number;
  probes?: number;
}

/** Options of {@link Neighbours.add} and {@link Neighbours.replace}. */
export interface NeighbourOptions {
  /**
   * Link-layer address (`aa:bb:cc:dd:ee:ff`), as long as the link's own. A new entry in a state that
   * holds an address (permanent, noarp, reachable, stale, delay, probe) needs one; `add` refuses it
   * without, before sending anything.
   */
  lladdr?: string;
  /** Default `'permanent'`, as `ip neigh add` uses. */
  state?: NeighbourState;
  /** Mark the neighbour as a router (IPv6). */
  router?: boolean;
}

/** Selects entries for {@link Neighbours.list}. */
export interface NeighbourFilter {
  dev?: LinkRef;
  family?: IpFamily | 'inet' | 'inet6';
  /** Only entries in one of these states. */
  state?: NeighbourState | NeighbourState[];
}

/** Options of {@link Neighbours.delete}. */
export interface NeighbourDeleteOptions {
  /** Resolve `false` instead of throwing when the entry (or the link) does not exist. */
  ifExists?: boolean;
}

/** `ip neigh` verbs acting inside one namespace. */
export class Neighbours {
  /** @internal The handle makes it (users reach it as `ns.links`, `ns.tc`, ...). */
  constructor(private readonly ns: NsContext) {}

  /**
   * Add a neighbour entry. Fails with EEXIST when one exists for the address on that link.
   *
   * Equivalent to: `ip neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 dev eth0 nud permanent`
   * @example
   * ```ts
   * await ns.neighbours.add('eth0', '10.0.0.2', { lladdr: '02:00:00:00:00:02' });
   * ```
   */
  async add(dev: LinkRef, address: string, opts: NeighbourOptions = {}): Promise<void> {
    await this.modify(dev, address, opts, NLM_F_CREATE | NLM_F_EXCL, 'add');
  }

  /**
   * Add a neighbour entry or overwrite the existing one (state and link-layer address).
   *
   * Equivalent to: `ip neigh replace 10.0.0.2 lladdr 02:00:00:00:00:03 dev eth0 nud stale`
   * @example
   * ```ts
   * await ns.neighbours.replace('eth0', '10.0.0.2', { lladdr: '02:00:00:00:00:03', state: 'stale' });
   * ```
   */
  async replace(dev: LinkRef, address: string, opts: NeighbourOptions = {}): Promise<void> {
    await this.modify(dev, address, opts, NLM_F_CREATE | NLM_F_REPLACE, 'replace');
  }

  /**
   * Delete a neighbour entry.
   *
   * Equivalent to: `ip neigh del 10.0.0.2 dev eth0`
   * @example
   * ```ts
   * await ns.neighbours.delete('eth0', '10.0.0.2', { ifExists: true });
   * ```
   * @returns true when deleted; false when there was none and `ifExists` was set.
   * @throws a {@link NetlinkError} with code 'ENOENT' when there is no such entry.
   */
  async delete(dev: LinkRef, address: string, opts: NeighbourDeleteOptions = {}): Promise<boolean> {
    checkLinkRef(dev);
    checkKeys('', opts, ['ifExists']);
    const ip = parseIp(address, 'address');
    try {
      const index = await ifindexOf(this.ns, dev);
      const conn = await this.ns.rtnl();
      const body = encodeNeighBody({ family: ip.family === 4 ? AF_INET : AF_INET6, ifindex: index, state: NUD_PERMANENT }, { dst: formatIp(ip.bytes) });
      await conn.request(RTM_DELNEIGH, 0, body, this.ns.op(`ip neigh del ${address} dev ${dev}`));
      return true;
    } catch (e) {
      if (opts.ifExists && isNotFound(e)) return false;
      throw e;
    }
  }

  /**
   * One entry, or undefined when the table has none for that address on that link. Use it to see
   * whether the gateway's MAC was learned: `lladdr` set and state `reachable`, `stale`, `delay`,
   * `probe` or `permanent`.
   *
   * Equivalent to: `ip neigh get 10.0.0.1 dev eth0`
   * @example
   * ```ts
   * const gw = await ns.neighbours.get('eth0', '10.0.0.1');
   * if (gw?.lladdr) console.log(`gateway is at ${gw.lladdr} (${gw.state})`);
   * ```
   */
  async get(dev: LinkRef, address: string): Promise<Neighbour | undefined> {
    checkLinkRef(dev);
    const ip = parseIp(address, 'address');
    const index = await ifindexOf(this.ns, dev);
    const conn = await this.ns.rtnl();
    const body = encodeNeighBody({ family: ip.family === 4 ? AF_INET : AF_INET6, ifindex: index }, { dst: formatIp(ip.bytes) });
    try {
      const [msgs, names] = await Promise.all([conn.request(RTM_GETNEIGH, 0, body, this.ns.op(`ip neigh get ${address} dev ${dev}`)), linkNames(this.ns)]);
      const m = msgs.find((x) => x.type === RTM_NEWNEIGH);
      return m ? toNeighbour(decodeNeighMessage(m.payload), names) : undefined;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /**
   * The neighbour entries, optionally of one link, family or set of states. Unlike plain
   * `ip neigh show`, entries in state `noarp` and `none` are included unless `state` filters them.
   *
   * Equivalent to: `ip neigh show nud all [dev eth0] [-4|-6]`
   * @example
   * ```ts
   * const learned = await ns.neighbours.list({ dev: 'eth0', state: ['reachable', 'stale'] });
   * ```
   */
  async list(filter: NeighbourFilter = {}): Promise<Neighbour[]> {
    checkKeys('filter', filter, ['dev', 'family', 'state']);
    const family = filter.family === undefined ? undefined : parseFamily(filter.family);
    const states = filter.state === undefined ? undefined : (Array.isArray(filter.state) ? filter.state : [filter.state]).map((s) => stateBits(s));
    const devRef = filter.dev === undefined ? undefined : checkLinkRef(filter.dev);
    const index = devRef === undefined ? 0 : await ifindexOf(this.ns, devRef);
    const af = family === undefined ? AF_UNSPEC : family === 4 ? AF_INET : AF_INET6;
    const conn = await this.ns.rtnl();
    const [msgs, names] = await Promise.all([conn.dump(RTM_GETNEIGH, dumpRequest(af, index), this.ns.op('ip neigh show')), linkNames(this.ns)]);
    return msgs
      .filter((m) => m.type === RTM_NEWNEIGH)
      .map((m) => decodeNeighMessage(m.payload))
      .filter((m) => {
        const h = m.header;
        if (h.family !== AF_INET && h.family !== AF_INET6) return false; // bridge FDB entries are `bridge fdb`'s
        if (af !== AF_UNSPEC && h.family !== af) return false;
        if (index !== 0 && h.ifindex !== index) return false;
        if (h.flags & NTF_PROXY) return false;
        if (states && !states.some((s) => (s === 0 ? h.state === 0 : (h.state & s) !== 0))) return false;
        return true;
      })
      .map((m) => toNeighbour(m, names));
  }

  private async modify(dev: LinkRef, address: string, opts: NeighbourOptions, flags: number, verb: 'add' | 'replace'): Promise<void> {
    checkLinkRef(dev);
    checkKeys('', opts, ['lladdr', 'state', 'router']);
    const ip = parseIp(address, 'address');
    const state = opts.state === undefined ? NUD_PERMANENT : stateBits(opts.state);
    const attrs: NeighAttrs = { dst: formatIp(ip.bytes) };
    const lladdr = opts.lladdr === undefined ? undefined : parseMacBytes(opts.lladdr, 'lladdr');
    if (lladdr) attrs.lladdr = opts.lladdr!.toLowerCase();
    if (opts.router !== undefined && typeof opts.router !== 'boolean') throw new ValidationError('router', opts.router, 'must be true or false');
    const link = await linkBasics(this.ns, dev);
    // Checked here rather than left to the kernel: a new entry refused for want of an address is
    // left behind in state NONE by the kernel, and a short address is refused with a bare EINVAL.
    if (lladdr && link.addrLen > 0 && lladdr.length !== link.addrLen) {
      throw new ValidationError('lladdr', opts.lladdr, `must be ${link.addrLen} octets long for ${dev}`);
    }
    if (!lladdr && verb === 'add' && link.addrLen > 0 && (state & NUD_VALID) !== 0) {
      throw new ValidationError('lladdr', opts.lladdr, `is required for a new entry in state ${opts.state ?? 'permanent'}`);
    }
    const conn = await this.ns.rtnl();
    const body = encodeNeighBody(
      { family: ip.family === 4 ? AF_INET : AF_INET6, ifindex: link.index, state, flags: opts.router ? NTF_ROUTER : 0 },
      attrs,
    );
    await conn.request(RTM_NEWNEIGH, flags, body, this.ns.op(`ip neigh ${verb} ${address} dev ${dev}`));
  }
}

/**
 * A dump request the kernel accepts under NETLINK_GET_STRICT_CHK: the ndmsg header must be all
 * zeros but the family ("Invalid values in header for neighbor dump request"); a link filter goes in
 * NDA_IFINDEX instead.
 */
function dumpRequest(af: number, index: number): Buffer {
  return encodeNeighBody({ family: af }, index === 0 ? {} : { ifindex: index });
}

function stateBits(s: unknown): number {
  if (typeof s !== 'string' || !Object.prototype.hasOwnProperty.call(NUD_STATES, s)) {
    throw new ValidationError('state', s, `must be one of ${Object.keys(NUD_STATES).join(', ')}`);
  }
  return NUD_STATES[s as NeighbourState];
}

/** The state's name; a neighbour is in exactly one NUD state, the lowest set bit is taken otherwise. */
export function stateName(bits: number): NeighbourState {
  for (const [name, bit] of Object.entries(NUD_STATES) as [NeighbourState, number][]) if (bit !== 0 && bits & bit) return name;
  return 'none';
}

/** Turn a decoded RTM_NEWNEIGH into the public shape. */
export function toNeighbour(m: NeighMessage, names?: Map<number, string>): Neighbour {
  const h = m.header;
  const n: Neighbour = {
    family: h.family === AF_INET ? 4 : 6,
    address: m.attrs.dst ?? '',
    ifindex: h.ifindex,
    state: stateName(h.state),
    rawState: h.state,
    flags: (Object.entries(NTF_NAMES) as [NeighbourFlag, number][]).filter(([, bit]) => h.flags & bit).map(([name]) => name),
    router: (h.flags & NTF_ROUTER) !== 0,
  };
  const dev = names?.get(h.ifindex);
  if (dev !== undefined) n.dev = dev;
  if (m.attrs.lladdr !== undefined) n.lladdr = m.attrs.lladdr;
  if (m.attrs.cacheinfo) {
    n.confirmed = Math.floor(m.attrs.cacheinfo.confirmed / USER_HZ);
    n.used = Math.floor(m.attrs.cacheinfo.used / USER_HZ);
    n.updated = Math.floor(m.attrs.cacheinfo.updated / USER_HZ);
  }
  if (m.attrs.probes !== undefined) n.probes = m.attrs.probes;
  return n;
}

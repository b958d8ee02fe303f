/**
 * Namespace ids (NSIDs) as seen from one namespace (`ip netns set` / `ip netns list-id`). A
 * namespace names its peers by these ids, for instance in IFLA_LINK_NETNSID of a veth whose other
 * end lives elsewhere.
 * @module
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { NetnsError, ValidationError } from '../../errors.js';
import { native, type NativeNsInfo } from '../../native.js';
import { RTM_GETNSID, RTM_NEWNSID } from '../../rtnl/constants.js';
import { NETNSA_NSID_NOT_ASSIGNED, decodeNsidBody, encodeNsidBody } from '../../rtnl/nsid/index.js';
import { validateNetnsName } from '../../validate/names.js';
import { validateIntRange as checkInt } from '../../validate/link.js';
import { callNative } from '../../native_call.js';
import { NS_CONTEXT, type NetnsHandle, type NsContext } from '../context.js';
import { NETNS_RUN_DIR } from '../netns/paths.js';
import { queryNsid } from './query.js';

/** Another namespace: a handle, a name under /run/netns, or an nsfs path (`/proc/PID/ns/net`). */
export type PeerNamespace = NetnsHandle | string;

/** One id assigned by this namespace. */
export interface NsidEntry {
  nsid: number;
  /** The name under /run/netns of the namespace with that id, when it is pinned there. */
  name?: string;
}

/** NSID verbs acting inside one namespace (the one that assigns and sees the ids). */
export class Nsids {
  /** @internal The handle makes it (users reach it as `ns.links`, `ns.tc`, ...). */
  constructor(private readonly ns: NsContext) {}

  /**
   * Assign an id to a peer namespace, or let the kernel pick the lowest free one. Fails with EEXIST
   * when the peer already has an id here or the id is taken.
   *
   * Equivalent to: `ip -n THIS netns set PEER ID` (`auto` when `id` is left out)
   * @example
   * ```ts
   * const id = await host.nsids.assign(pod);      // kernel-chosen
   * await host.nsids.assign('red', 7);            // ip netns set red 7
   * ```
   * @returns the id the peer now has in this namespace.
   */
  async assign(peer: PeerNamespace, id?: number): Promise<number> {
    const nsid = id === undefined ? NETNSA_NSID_NOT_ASSIGNED : checkInt('id', id, 0, 0x7fffffff);
    return this.withPeer(peer, async (fd) => {
      const conn = await this.ns.rtnl();
      await conn.request(RTM_NEWNSID, 0, encodeNsidBody({ fd, nsid }), `ip netns set ${describe(peer)} ${id ?? 'auto'}`);
      const got = await queryNsid(conn, fd);
      if (got === undefined) throw new NetnsError(`ip netns set ${describe(peer)}: no id was assigned`, { code: 'ERR_NO_ANSWER' });
      return got;
    });
  }

  /**
   * The id of the peer as seen from this namespace, assigning one (kernel-chosen) when it has none.
   *
   * Equivalent to: `ip -n THIS netns set PEER auto` when `ip -n THIS netns list-id` does not show it.
   * @example
   * ```ts
   * const id = await host.nsids.ensure(pod);
   * ```
   */
  async ensure(peer: PeerNamespace): Promise<number> {
    return this.withPeer(peer, async (fd) => {
      const conn = await this.ns.rtnl();
      const have = await queryNsid(conn, fd);
      if (have !== undefined) return have;
      try {
        await conn.request(RTM_NEWNSID, 0, encodeNsidBody({ fd, nsid: NETNSA_NSID_NOT_ASSIGNED }), `ip netns set ${describe(peer)} auto`);
      } catch (e) {
        // Someone assigned one between our query and our request: theirs is as good as ours.
        if (!(e instanceof NetnsError && e.code === 'EEXIST')) throw e;
      }
      const got = await queryNsid(conn, fd);
      if (got === undefined) throw new NetnsError(`ip netns set ${describe(peer)}: no id was assigned`, { code: 'ERR_NO_ANSWER' });
      return got;
    });
  }

  /**
   * The id this namespace gave the peer, or undefined when it has none.
   *
   * Equivalent to: the `(id: N)` that `ip -n THIS netns list` shows for PEER
   * @example
   * ```ts
   * const id = await host.nsids.get('red'); // undefined until assigned
   * ```
   */
  async get(peer: PeerNamespace): Promise<number | undefined> {
    return this.withPeer(peer, async (fd) => queryNsid(await this.ns.rtnl(), fd));
  }

  /**
   * Every id this namespace assigned, with the /run/netns name of each peer that has one.
   *
   * Equivalent to: `ip -n THIS netns list-id`
   * @example
   * ```ts
   * for (const { nsid, name } of await host.nsids.list()) console.log(nsid, name ?? '(unnamed)');
   * ```
   */
  async list(): Promise<NsidEntry[]> {
    const conn = await this.ns.rtnl();
    const msgs = await conn.dump(RTM_GETNSID, encodeNsidBody({}), 'ip netns list-id');
    const ids = msgs
      .filter((m) => m.type === RTM_NEWNSID)
      .map((m) => decodeNsidBody(m.payload).nsid)
      .filter((n): n is number => n !== undefined && n !== NETNSA_NSID_NOT_ASSIGNED)
      .sort((a, b) => a - b);
    if (ids.length === 0) return [];
    const names = await this.namesById(ids.length);
    return ids.map((nsid) => {
      const name = names.get(nsid);
      return name === undefined ? { nsid } : { nsid, name };
    });
  }

  /** Which pinned namespaces have an id here (stops once `wanted` are found). */
  private async namesById(wanted: number): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    let entries: string[];
    try {
      entries = (await readdir(NETNS_RUN_DIR)).sort();
    } catch {
      return out;
    }
    const conn = await this.ns.rtnl();
    for (const name of entries) {
      if (out.size >= wanted) break;
      let info: NativeNsInfo;
      try {
        info = await callNative<NativeNsInfo>(`open namespace ${name}`, (a, cb) => a.nsOpenPath(join(NETNS_RUN_DIR, name), cb));
      } catch {
        continue; // a stale pin, or not a namespace
      }
      try {
        const id = await queryNsid(conn, info.fd);
        if (id !== undefined && !out.has(id)) out.set(id, name);
      } finally {
        native().closeFd(info.fd);
      }
    }
    return out;
  }

  /** Run `fn` with an fd to the peer, opening and closing one when the peer is given by name. */
  private async withPeer<T>(peer: PeerNamespace, fn: (fd: number) => Promise<T>): Promise<T> {
    if (typeof peer !== 'string') {
      if (typeof peer !== 'object' || peer === null || typeof (peer as NetnsHandle).fd !== 'number') {
        throw new ValidationError('peer', peer, 'must be a Netns handle, a namespace name or an nsfs path');
      }
      return fn(peer.fd);
    }
    const path = peer.includes('/') ? peer : join(NETNS_RUN_DIR, validateNetnsName(peer, 'peer'));
    const info = await callNative<NativeNsInfo>(`open namespace ${path}`, (a, cb) => a.nsOpenPath(path, cb));
    try {
      return await fn(info.fd);
    } finally {
      native().closeFd(info.fd);
    }
  }
}

function describe(peer: PeerNamespace): string {
  return typeof peer === 'string' ? peer : (peer[NS_CONTEXT]?.describe() ?? peer.name ?? 'namespace');
}

/**
 * `ns.diag`: the namespace's TCP and UDP sockets through NETLINK_SOCK_DIAG (lib/observe/sockets.ts).
 * @module
 */
import type { NsContext } from '../context.js';
import { listSockets, socketSummary, type SocketEntry, type SocketListOptions, type SocketSummary } from '../../observe/sockets.js';

/** Socket diagnostics of one namespace, as `ss` shows them. */
export class Diag {
  /** @internal The handle makes it (users reach it as `ns.links`, `ns.tc`, ...). */
  constructor(private readonly ns: NsContext) {}

  /**
   * TCP and UDP sockets (IPv4 and IPv6) with state, endpoints, queues, uid, inode and owning
   * processes. See {@link listSockets}.
   *
   * Equivalent to: `ip netns exec NS ss -tunap`
   * @example
   * ```ts
   * const listening = await ns.diag.sockets({ protocol: 'tcp', state: 'listen' });
   * ```
   */
  sockets(options: SocketListOptions = {}): Promise<SocketEntry[]> {
    return listSockets(this.ns, options);
  }

  /**
   * Counts of TCP (by state, hashed per family) and UDP sockets. See {@link socketSummary}.
   *
   * Equivalent to: `ip netns exec NS ss -s`
   * @example
   * ```ts
   * const { tcp } = await ns.diag.summary();
   * console.log(tcp.established, tcp.timeWait);
   * ```
   */
  summary(): Promise<SocketSummary> {
    return socketSummary(this.ns);
  }
}

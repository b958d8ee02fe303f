/**
 * What a family (links, addresses, routes, tc, firewall, ...) needs from a namespace handle. A
 * family's constructor takes an {@link NsContext}, never the whole `Netns`: the families then import
 * nothing of `lib/api/netns/`, and `lib/` has no import cycle (docs/architecture.md, "Conventions").
 * @module
 */
import type { NetlinkConnection } from '../netlink/connection.js';

/** What identifies a namespace: the device and inode of its nsfs file. Equal identities, same namespace. */
export interface NetnsIdentity {
  dev: number;
  ino: number;
}

/** A namespace handle as a family sees it. @internal */
export interface NsContext {
  /** For messages: the `ip -n NAME` prefix of a named namespace ('' for an unnamed one and the own namespace). */
  readonly label: string;
  /** Name under /run/netns, for named namespaces. */
  readonly name: string | undefined;
  /** Path the handle was opened from, if any. */
  readonly path: string | undefined;
  /** Device and inode of the namespace. */
  readonly identity: NetnsIdentity;
  /** The namespace fd; throws ClosedError after close(). */
  fd(): number;
  /** The handle's rtnetlink request connection (opened on first use, closed with the handle). */
  rtnl(): Promise<NetlinkConnection>;
  /** A request connection of another netlink protocol (NETLINK_NETFILTER, NETLINK_SOCK_DIAG), opened lazily in the namespace, closed with the handle. */
  connection(protocol: number): Promise<NetlinkConnection>;
  /** Name or index -> ifindex (a NetlinkError with code ENODEV when there is no such link). */
  linkIndex(ref: string | number, operation?: string): Promise<number>;
  /** An `ip ...` operation in the namespace's words: `ip link show` -> `ip -n NAME link show`. */
  op(words: string): string;
  /** The namespace in a few words for messages: its name, its path, or `net:[INODE]`. */
  describe(): string;
}

/** The property under which a handle exposes its context to the families (not public API). @internal */
export const NS_CONTEXT: unique symbol = Symbol('netns-native.context');

/**
 * A namespace handle as an argument of another family's method (a veth peer's `netns`, a move's
 * target, a peer for NSIDs): `Netns` implements it.
 */
export interface NetnsHandle {
  /** The namespace fd. */
  readonly fd: number;
  /** Name under /run/netns, for named namespaces. */
  readonly name: string | undefined;
  /** @internal */
  readonly [NS_CONTEXT]: NsContext;
}

/**
 * A netlink socket joined to multicast groups, for events (`ip monitor`). Never used for requests:
 * a socket subscribed to events also receives the notifications of its own changes, which would be
 * indistinguishable from answers (docs/architecture.md, "Protocol").
 * @module
 */
import { NetnsError, fromNative, type SystemError } from '../errors.js';
import { native } from '../native.js';
import { NETLINK_ROUTE } from './constants.js';
import { parseDatagram, type NetlinkMessage } from './message.js';

/** <linux/rtnetlink.h> enum rtnetlink_groups (1-based group numbers) used by the events API. */
export const RTNLGRP_LINK = 1;
export const RTNLGRP_NEIGH = 3;
export const RTNLGRP_IPV4_IFADDR = 5;
export const RTNLGRP_IPV4_ROUTE = 7;
export const RTNLGRP_IPV6_IFADDR = 9;
export const RTNLGRP_IPV6_ROUTE = 11;

/** Options of {@link Subscription.open}. */
export interface SubscriptionOptions {
  /** Netlink protocol; NETLINK_ROUTE by default. */
  protocol?: number;
  /** Namespace fd to open the socket in; the process's own namespace when omitted. */
  nsFd?: number;
  /** Multicast groups to join (at least one). */
  groups: readonly number[];
  /** SO_RCVBUF(FORCE) in bytes (default 1 MiB; the kernel doubles it and enforces its own minimum). */
  rcvbuf?: number;
}

/** What a subscription delivers. Called on the JS thread. */
export interface SubscriptionHandlers {
  /** Notifications, in the kernel's order. */
  onMessages(messages: NetlinkMessage[]): void;
  /**
   * The socket failed: `ENOBUFS` means the kernel dropped notifications (the receive buffer was
   * full); the socket stays usable and later notifications still arrive.
   */
  onError(err: SystemError): void;
}

/**
 * An open multicast socket. Datagrams are delivered as they arrive; flow control is the owner's
 * (the addon stops reading a socket whose deliveries pile up unconsumed, and the kernel then
 * reports ENOBUFS).
 */
export class Subscription {
  private closed = false;
  private refs = 0;

  private constructor(private readonly id: number, readonly portId: number) {}

  /** Open a socket inside a namespace and join `groups`, all on an addon worker. */
  static open(opts: SubscriptionOptions, handlers: SubscriptionHandlers): Promise<Subscription> {
    const addon = native();
    let sub: Subscription | undefined;
    return new Promise((resolve, reject) => {
      addon.netlinkOpen(
        {
          protocol: opts.protocol ?? NETLINK_ROUTE,
          nsFd: opts.nsFd ?? -1,
          groups: [...opts.groups],
          rcvbuf: opts.rcvbuf ?? 1024 * 1024,
          initialReadBuffer: 8192,
          onData: (datagrams) => {
            if (!sub || sub.closed) return;
            const msgs: NetlinkMessage[] = [];
            // Only request sockets (no groups) hand plain ACKs over as numbers.
            for (const d of datagrams) for (const m of parseDatagram(d as Buffer).messages) msgs.push(m);
            handlers.onMessages(msgs);
          },
          onError: (e) => {
            if (sub && !sub.closed) handlers.onError(fromNative(e, 'ip monitor'));
          },
          onSendError: () => undefined, // nothing is ever sent on a subscription
        },
        (err, sock) => {
          if (err || !sock) {
            reject(err ? fromNative(err, 'ip monitor') : new NetnsError('ip monitor: open failed', { code: 'ERR_INTERNAL' }));
            return;
          }
          sub = new Subscription(sock.id, sock.portId);
          resolve(sub);
        },
      );
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Keep the process alive (counted) — while someone awaits an event. */
  ref(): void {
    if (this.closed) return;
    if (this.refs++ === 0) native().ref();
  }

  unref(): void {
    if (this.refs === 0) return;
    if (--this.refs === 0) native().unref();
  }

  /** Close the socket; no handler runs afterwards. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.refs > 0) {
      this.refs = 0;
      native().unref();
    }
    native().netlinkClose(this.id);
  }
}

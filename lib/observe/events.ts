/**
 * Link, address, route and neighbour changes of a namespace as an async iterator (`ip monitor`),
 * typed like the list results, on a multicast socket of its own.
 *
 * A consumer's mirror of the state is never silently wrong: when the kernel drops notifications
 * (ENOBUFS) or the consumer falls behind the bounded queue, every queued event is dropped and the
 * iterator yields a `resync` item carrying a fresh dump; events after it apply on top of that dump.
 * @module
 */
import { NetnsError, type SystemError } from '../errors.js';
import { contextOf, type NetnsHandle, type NsContext } from './target.js';
import { Links } from '../api/link/index.js';
import { Addresses } from '../api/address/index.js';
import { Routes } from '../api/route/index.js';
import { Neighbours } from '../api/neighbour/index.js';
import type { Link } from '../api/link/view.js';
import { toLink } from '../api/link/view.js';
import { toAddress, type Address } from '../api/address/view.js';
import { toRoute, type Route } from '../api/route/view.js';
import { toNeighbour, type Neighbour } from '../api/neighbour/index.js';
import { checkKeys } from '../validate/options.js';
import { linkNames } from '../api/link/resolve.js';
import { ValidationError } from '../errors.js';
import { AF_INET, AF_INET6, RTM_DELADDR, RTM_DELLINK, RTM_DELNEIGH, RTM_DELROUTE, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWNEIGH, RTM_NEWROUTE } from '../rtnl/constants.js';
import { decodeLinkMessage } from '../rtnl/link/index.js';
import { decodeAddrMessage } from '../rtnl/addr/index.js';
import { RTM_F_CLONED, decodeRouteMessage } from '../rtnl/route/index.js';
import { NTF_PROXY, decodeNeighMessage } from '../rtnl/neigh/index.js';
import type { NetlinkMessage } from '../netlink/message.js';
import {
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_IPV4_ROUTE,
  RTNLGRP_IPV6_IFADDR,
  RTNLGRP_IPV6_ROUTE,
  RTNLGRP_LINK,
  RTNLGRP_NEIGH,
  Subscription,
} from '../netlink/subscription.js';

/** What can be watched. */
export type EventKind = 'link' | 'address' | 'route' | 'neighbour';

/** `new` covers creation and change (the kernel sends RTM_NEW* for both); `del` removal. */
export type EventAction = 'new' | 'del';

export interface LinkEvent { kind: 'link'; action: EventAction; link: Link }
export interface AddressEvent { kind: 'address'; action: EventAction; address: Address }
export interface RouteEvent { kind: 'route'; action: EventAction; route: Route }
export interface NeighbourEvent { kind: 'neighbour'; action: EventAction; neighbour: Neighbour }

/** The whole state of the watched kinds, as the list methods return it. */
export interface EventSnapshot {
  links?: Link[];
  addresses?: Address[];
  /** Every table (`ip route show table all`). */
  routes?: Route[];
  neighbours?: Neighbour[];
}

/**
 * Events were lost: `overrun` when the kernel dropped notifications (ENOBUFS on the socket),
 * `overflow` when the consumer fell more than `maxQueue` events behind. Replace the mirror with
 * `snapshot`; the events that follow apply on top of it.
 */
export interface ResyncEvent { kind: 'resync'; reason: 'overrun' | 'overflow'; snapshot: EventSnapshot }

export type NetnsEvent = LinkEvent | AddressEvent | RouteEvent | NeighbourEvent | ResyncEvent;

/** Options of {@link watchEvents}. */
export interface WatchOptions {
  /** What to watch (default all four). */
  kinds?: readonly EventKind[];
  /** Aborting ends the iteration and closes the socket. */
  signal?: AbortSignal;
  /** Events kept for a slow consumer before they are dropped for a resync (default 4096). */
  maxQueue?: number;
  /** Receive buffer of the socket in bytes (default 1 MiB). Smaller means earlier overruns. */
  rcvbuf?: number;
}

const ALL_KINDS: readonly EventKind[] = ['link', 'address', 'route', 'neighbour'];
const GROUPS: Record<EventKind, number[]> = {
  link: [RTNLGRP_LINK],
  address: [RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR],
  route: [RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE],
  neighbour: [RTNLGRP_NEIGH],
};

interface PendingResync {
  reason: 'overrun' | 'overflow';
  snapshot: Promise<{ snapshot: EventSnapshot; names: Map<number, string> }>;
}

/**
 * The iterator {@link watchEvents} returns. `return()` (a `break` out of `for await`), `close()` or
 * the signal ends it and closes its socket; a pending `next()` then resolves done.
 */
export class EventStream implements AsyncIterableIterator<NetnsEvent>, AsyncDisposable {
  private queue: NetnsEvent[] = [];
  private head = 0;
  private resync: PendingResync | undefined;
  private waiter: { resolve: (r: IteratorResult<NetnsEvent>) => void; reject: (e: unknown) => void } | undefined;
  private failure: unknown;
  private closed = false;
  private sub!: Subscription;
  private readonly onAbort = () => this.close();
  /** Events dropped for resyncs so far (kernel overruns not counted: the kernel does not say how many). */
  dropped = 0;

  /** @internal */
  constructor(
    private readonly ns: NsContext,
    private readonly kinds: ReadonlySet<EventKind>,
    private readonly maxQueue: number,
    private names: Map<number, string>,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** @internal */
  attach(sub: Subscription): void {
    this.sub = sub;
    this.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** @internal Names known before the first link event; names learned from events win. */
  seedNames(names: Map<number, string>): void {
    for (const [i, n] of names) if (!this.names.has(i)) this.names.set(i, n);
  }

  /** True while a resync's dump is being taken (its item comes next). */
  get resyncPending(): boolean {
    return this.resync !== undefined;
  }

  /** Events waiting for the consumer. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<NetnsEvent>> {
    for (;;) {
      if (this.failure !== undefined) {
        const f = this.failure;
        this.failure = undefined;
        this.close();
        throw f;
      }
      if (this.closed) return { done: true, value: undefined };
      if (this.resync) {
        const r = this.resync;
        const { snapshot, names } = await r.snapshot;
        if (this.resync !== r) continue; // superseded by a newer resync while the dump ran
        this.resync = undefined;
        // The overrun may have dropped link notifications too: links the stream never heard of are
        // named from the dump, and so are the devices of addresses queued meanwhile that the stream
        // could not name (a link whose RTM_NEWLINK was lost).
        for (const [index, name] of names) this.names.set(index, name);
        for (let i = this.head; i < this.queue.length; i++) {
          const e = this.queue[i];
          if (e.kind === 'address' && e.address.dev === undefined) {
            const dev = this.names.get(e.address.ifindex);
            if (dev !== undefined) e.address.dev = dev;
          }
        }
        return { done: false, value: { kind: 'resync', reason: r.reason, snapshot } };
      }
      if (this.head < this.queue.length) {
        const v = this.queue[this.head++];
        if (this.head === this.queue.length) {
          this.queue = [];
          this.head = 0;
        } else if (this.head >= 1024) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
        return { done: false, value: v };
      }
      await new Promise<void>((resolve, reject) => {
        this.sub.ref();
        this.waiter = {
          resolve: () => {
            this.sub.unref();
            resolve();
          },
          reject: (e) => {
            this.sub.unref();
            reject(e);
          },
        };
      });
    }
  }

  async return(): Promise<IteratorResult<NetnsEvent>> {
    this.close();
    return { done: true, value: undefined };
  }

  /** Stop: close the socket, drop what is queued. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.head = 0;
    this.resync = undefined;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.sub?.close();
    this.wake();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  /** @internal */
  onMessages(msgs: NetlinkMessage[]): void {
    if (this.closed) return;
    for (const m of msgs) {
      const e = this.decode(m);
      if (!e) continue;
      if (this.queued >= this.maxQueue) {
        this.startResync('overflow');
        continue; // the dump includes this change (it started after the change happened)
      }
      this.queue.push(e);
    }
    this.wake();
  }

  /** @internal */
  onError(err: SystemError): void {
    if (this.closed) return;
    if (err.code === 'ENOBUFS') this.startResync('overrun');
    else this.failure = err;
    this.wake();
  }

  private startResync(reason: 'overrun' | 'overflow'): void {
    this.dropped += this.queued;
    this.queue = [];
    this.head = 0;
    const snapshot = takeSnapshot(this.ns, this.kinds);
    snapshot.catch(() => undefined); // surfaced by next()
    this.resync = { reason, snapshot };
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.resolve({ done: true, value: undefined });
  }

  private decode(m: NetlinkMessage): NetnsEvent | undefined {
    switch (m.type) {
      case RTM_NEWLINK:
      case RTM_DELLINK: {
        // Link notifications are always subscribed: they keep the names of the other kinds' `dev`
        // current in stream order (the kernel sends a link's RTM_DELADDRs before its RTM_DELLINK).
        const link = toLink(decodeLinkMessage(m.payload));
        if (m.type === RTM_NEWLINK) this.names.set(link.index, link.name);
        else this.names.delete(link.index);
        if (!this.kinds.has('link')) return undefined;
        return { kind: 'link', action: m.type === RTM_NEWLINK ? 'new' : 'del', link };
      }
      case RTM_NEWADDR:
      case RTM_DELADDR:
        return { kind: 'address', action: m.type === RTM_NEWADDR ? 'new' : 'del', address: toAddress(decodeAddrMessage(m.payload), this.names) };
      case RTM_NEWROUTE:
      case RTM_DELROUTE: {
        const r = decodeRouteMessage(m.payload);
        if ((r.header.family !== AF_INET && r.header.family !== AF_INET6) || r.header.flags & RTM_F_CLONED) return undefined;
        return { kind: 'route', action: m.type === RTM_NEWROUTE ? 'new' : 'del', route: toRoute(r, this.names) };
      }
      case RTM_NEWNEIGH:
      case RTM_DELNEIGH: {
        const n = decodeNeighMessage(m.payload);
        if ((n.header.family !== AF_INET && n.header.family !== AF_INET6) || n.header.flags & NTF_PROXY) return undefined;
        return { kind: 'neighbour', action: m.type === RTM_NEWNEIGH ? 'new' : 'del', neighbour: toNeighbour(n, this.names) };
      }
      default:
        return undefined;
    }
  }
}

async function takeSnapshot(ns: NsContext, kinds: ReadonlySet<EventKind>): Promise<{ snapshot: EventSnapshot; names: Map<number, string> }> {
  const [links, addresses, routes, neighbours] = await Promise.all([
    // Links are listed for the names even when not watched.
    new Links(ns).list(),
    kinds.has('address') ? new Addresses(ns).list() : undefined,
    kinds.has('route') ? new Routes(ns).list({ table: 'all' }) : undefined,
    kinds.has('neighbour') ? new Neighbours(ns).list() : undefined,
  ]);
  const s: EventSnapshot = {};
  if (kinds.has('link')) s.links = links;
  if (addresses) s.addresses = addresses;
  if (routes) s.routes = routes;
  if (neighbours) s.neighbours = neighbours;
  return { snapshot: s, names: new Map(links.map((l) => [l.index, l.name])) };
}

/**
 * Watch link, address, route and neighbour changes inside the namespace. Resolves once the
 * subscription is in place: every change made after that is seen (or covered by a resync).
 * The socket is its own (never the request connection) and is closed by `break`, `return()`,
 * `close()` or the signal. While a `next()` is pending the process is kept alive.
 *
 * Equivalent to: `ip -n NS monitor link address route neigh`
 * @example
 * ```ts
 * const ac = new AbortController();
 * for await (const ev of await watchEvents(ns, { kinds: ['link', 'address'], signal: ac.signal })) {
 *   if (ev.kind === 'resync') mirror = ev.snapshot;       // events were lost: start over
 *   else if (ev.kind === 'address') console.log(ev.action, ev.address.cidr, ev.address.dev);
 * }
 * ```
 * @throws {@link ValidationError} for bad options (nothing is opened).
 */
export async function watchEvents(target: NetnsHandle | NsContext, options: WatchOptions = {}): Promise<EventStream> {
  const ns = contextOf(target);
  checkKeys('', options, ['kinds', 'signal', 'maxQueue', 'rcvbuf']);
  const kinds = options.kinds ?? ALL_KINDS;
  if (!Array.isArray(kinds) || kinds.length === 0 || kinds.some((k) => !ALL_KINDS.includes(k))) {
    throw new ValidationError('kinds', kinds, `must be a non-empty list of ${ALL_KINDS.join(', ')}`);
  }
  const maxQueue = options.maxQueue ?? 4096;
  if (!Number.isInteger(maxQueue) || maxQueue < 1) throw new ValidationError('maxQueue', maxQueue, 'must be a positive integer');
  const rcvbuf = options.rcvbuf ?? 1024 * 1024;
  if (!Number.isInteger(rcvbuf) || rcvbuf < 1 || rcvbuf > 1 << 30) throw new ValidationError('rcvbuf', rcvbuf, 'must be a positive integer up to 1 GiB');
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new ValidationError('signal', options.signal, 'must be an AbortSignal');
  const set = new Set<EventKind>(kinds);
  // Link notifications always: they name the devices of the other kinds' events (decode()).
  const groups = [...new Set<EventKind>([...set, 'link'])].flatMap((k) => GROUPS[k]);
  const stream = new EventStream(ns, set, maxQueue, new Map(), options.signal);
  if (options.signal?.aborted) {
    throw new NetnsError('ip monitor: aborted before it started', { code: 'ABORT_ERR' });
  }
  const sub = await Subscription.open({ nsFd: ns.fd(), groups, rcvbuf }, { onMessages: (m) => stream.onMessages(m), onError: (e) => stream.onError(e) });
  stream.attach(sub);
  try {
    // Names for the `dev` of address/route/neighbour events; link events keep them current.
    const names = await linkNames(ns);
    stream.seedNames(names);
  } catch (e) {
    stream.close();
    throw e;
  }
  if (options.signal?.aborted) stream.close();
  return stream;
}

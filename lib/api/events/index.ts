/**
 * `ns.events`: link, address, route and neighbour changes of the namespace (lib/observe/events.ts).
 * @module
 */
import type { NsContext } from '../context.js';
import { watchEvents, type EventStream, type WatchOptions } from '../../observe/events.js';

/** Changes inside one namespace, as `ip monitor` shows them. */
export class Events {
  /** @internal The handle makes it (users reach it as `ns.links`, `ns.tc`, ...). */
  constructor(private readonly ns: NsContext) {}

  /**
   * An async iterator of the namespace's link/address/route/neighbour changes, typed like the list
   * results, on a multicast socket of its own; lost events come back as a `resync` item carrying a
   * fresh dump. Resolves once subscribed. See {@link watchEvents}.
   *
   * Equivalent to: `ip -n NS monitor link address route neigh`
   * @example
   * ```ts
   * const ac = new AbortController();
   * for await (const ev of await ns.events.watch({ kinds: ['address'], signal: ac.signal })) {
   *   if (ev.kind === 'address') console.log(ev.action, ev.address.cidr, ev.address.dev);
   * }
   * ```
   */
  watch(options: WatchOptions = {}): Promise<EventStream> {
    return watchEvents(this.ns, options);
  }
}

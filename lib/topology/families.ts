/**
 * The traffic-control and firewall families of a namespace handle, for the topology, doctor and the
 * `tc`/`nat` views. Until the handle carries them itself (`ns.tc`, `ns.firewall`: the layout of
 * issue 8), this builds the context they need from the handle's public surface; the netfilter
 * connection it opens is closed with {@link NsFamilies.close}.
 * @module
 */
import type { Netns } from '../api/netns.js';
import { Tc } from '../api/tc/index.js';
import { Firewall } from '../api/firewall/index.js';
import { openNetlink, type NetlinkConnection } from '../netlink/connection.js';

/** `tc` and nf_tables of one namespace. */
export interface NsFamilies {
  tc: Tc;
  firewall: Firewall;
  /** Close the connections opened for them (not the handle). */
  close(): Promise<void>;
}

/** The families of `ns` (see the module comment). */
export function familiesOf(ns: Netns): NsFamilies {
  const label = ns.name ? `ip -n ${ns.name}` : '';
  const others = new Map<number, Promise<NetlinkConnection>>();
  const ctx = {
    label,
    rtnl: () => ns.rtnl(),
    linkIndex: (ref: string | number) => ns.links.index(ref),
    connection(protocol: number): Promise<NetlinkConnection> {
      let c = others.get(protocol);
      if (!c) others.set(protocol, (c = openNetlink({ protocol, nsFd: ns.fd })));
      return c;
    },
  };
  return {
    tc: new Tc(ctx),
    firewall: new Firewall(ctx),
    async close() {
      await Promise.allSettled([...others.values()].map(async (c) => (await c).close()));
      others.clear();
    },
  };
}

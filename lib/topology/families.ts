/**
 * The traffic-control and firewall families of a namespace handle, for the topology, doctor and the
 * `tc`/`nat` views, built on the handle's context (lib/api/context.ts) until the handle carries
 * them itself as `ns.tc` / `ns.firewall`. Their connections are the handle's: closed with it.
 * @module
 */
import type { Netns } from '../api/netns/index.js';
import { NS_CONTEXT } from '../api/context.js';
import { Tc } from '../api/tc/index.js';
import { Firewall } from '../api/firewall/index.js';

/** `tc` and nf_tables of one namespace. */
export interface NsFamilies {
  tc: Tc;
  firewall: Firewall;
}

/** The families of `ns` (see the module comment). */
export function familiesOf(ns: Netns): NsFamilies {
  const ctx = ns[NS_CONTEXT];
  return { tc: new Tc(ctx), firewall: new Firewall(ctx) };
}

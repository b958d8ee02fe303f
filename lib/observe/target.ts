/**
 * The observing functions take any namespace handle (a `Netns` is one) and work on its context, so
 * they import nothing of lib/api/netns/ (no import cycle: docs/architecture.md, "Conventions").
 * @module
 */
import { NS_CONTEXT, type NetnsHandle, type NsContext } from '../api/context.js';

export type { NetnsHandle, NsContext };

/** The context of a handle, or the context itself. */
export function contextOf(target: NetnsHandle | NsContext): NsContext {
  return NS_CONTEXT in target ? (target as NetnsHandle)[NS_CONTEXT] : (target as NsContext);
}

/** ` (netns NAME)` for operation texts of commands that have no `-n` (ss, ping, tcpdump). */
export function inNamespace(ctx: NsContext): string {
  return ctx.name ? ` (netns ${ctx.name})` : '';
}

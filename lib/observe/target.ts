/**
 * The observing functions take any namespace handle (a `Netns` is one) and work on its context, so
 * they import nothing of lib/api/netns/ (no import cycle: docs/architecture.md, "Conventions").
 * @module
 */
import { NS_CONTEXT, type NetnsHandle, type NsContext } from '../api/context.js';
import { ValidationError } from '../errors.js';

export type { NetnsHandle, NsContext };

/** The context of a handle, or the context itself; anything else is a ValidationError (docs/errors.md). */
export function contextOf(target: NetnsHandle | NsContext): NsContext {
  if (target !== null && typeof target === 'object') {
    if (NS_CONTEXT in target) return (target as NetnsHandle)[NS_CONTEXT];
    const ctx = target as NsContext;
    if (typeof ctx.fd === 'function' && typeof ctx.rtnl === 'function' && typeof ctx.connection === 'function') return ctx;
  }
  throw new ValidationError('namespace', target, 'is not a namespace handle (a Netns)');
}

/** ` (netns NAME)` for operation texts of commands that have no `-n` (ss, ping, tcpdump). */
export function inNamespace(ctx: NsContext): string {
  return ctx.name ? ` (netns ${ctx.name})` : '';
}

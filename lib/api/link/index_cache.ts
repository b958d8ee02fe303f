/**
 * Names resolved before, name -> ifindex, one table per namespace handle, for the verbs that must
 * name a link by index (an address's link, a new link's master). Filled by lookups and by
 * `links.add`'s read-back (with a veth's peer index in the peer's namespace), emptied of a name by
 * the library's own delete, rename and move. Never trusted past a failure: see {@link withIndexes}
 * (docs/performance.md, "Levers of the request path").
 * @module
 */
import type { LinkRef } from '../../rtnl/link/kinds/kind.js';
import type { NsContext } from '../context.js';

const tables = new WeakMap<NsContext, Map<string, number>>();

function tableOf(ctx: NsContext): Map<string, number> {
  let t = tables.get(ctx);
  if (!t) tables.set(ctx, (t = new Map()));
  return t;
}

async function lookup(ctx: NsContext, ref: LinkRef, op: string | undefined): Promise<number> {
  const index = await ctx.linkIndex(ref, op);
  if (typeof ref === 'string') tableOf(ctx).set(ref, index);
  return index;
}

/**
 * Run `fn` with the ifindexes of `refs` in `ctx`'s namespace, from the table where known. Should `fn`
 * fail while a remembered index was used, those names are looked up again; when one now has another
 * index (the link was deleted and re-created, or renamed, by someone else), `fn` runs once more with
 * the fresh ones, otherwise its error stands. ifindexes are allocated cyclically within a namespace,
 * so a stale index names no device (ENODEV, or EINVAL for a master) rather than another one. A lookup
 * that finds no link throws, naming `op` (the lookup's own `ip link show` when omitted).
 */
export async function withIndexes<T>(ctx: NsContext, refs: readonly LinkRef[], op: string | undefined, fn: (index: (ref: LinkRef) => number) => Promise<T>): Promise<T> {
  const table = tableOf(ctx);
  const resolved = new Map<LinkRef, number>();
  const remembered: string[] = [];
  for (const r of refs) {
    if (resolved.has(r)) continue;
    const hit = typeof r === 'string' ? table.get(r) : r;
    if (hit !== undefined) {
      if (typeof r === 'string') remembered.push(r);
      resolved.set(r, hit);
    } else {
      resolved.set(r, await lookup(ctx, r, op));
    }
  }
  const get = (r: LinkRef) => resolved.get(r) as number;
  try {
    return await fn(get);
  } catch (e) {
    if (remembered.length === 0) throw e;
    let changed = false;
    for (const name of remembered) {
      table.delete(name);
      const fresh = await lookup(ctx, name, op);
      if (fresh !== resolved.get(name)) changed = true;
      resolved.set(name, fresh);
    }
    if (!changed) throw e;
    return fn(get);
  }
}

/** Record what the kernel just reported: `name` is `index` in `ctx`'s namespace. */
export function rememberIndex(ctx: NsContext, name: string, index: number): void {
  tableOf(ctx).set(name, index);
}

/** Forget a link the library is deleting, renaming or moving away. */
export function forgetIndex(ctx: NsContext, ref: LinkRef): void {
  const table = tables.get(ctx);
  if (!table) return;
  if (typeof ref === 'string') table.delete(ref);
  else for (const [n, i] of table) if (i === ref) table.delete(n);
}

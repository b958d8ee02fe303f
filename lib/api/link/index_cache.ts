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

/**
 * name -> ifindex, with the reverse index kept alongside so that forgetting a link by ifindex costs
 * one lookup, not a scan of every name (deleting N links by index stays linear).
 */
class IndexTable {
  private readonly byName = new Map<string, number>();
  private readonly byIndex = new Map<number, Set<string>>();

  get(name: string): number | undefined {
    return this.byName.get(name);
  }

  set(name: string, index: number): void {
    this.delete(name);
    this.byName.set(name, index);
    let names = this.byIndex.get(index);
    if (!names) this.byIndex.set(index, (names = new Set()));
    names.add(name);
  }

  delete(name: string): void {
    const index = this.byName.get(name);
    if (index === undefined) return;
    this.byName.delete(name);
    const names = this.byIndex.get(index);
    names?.delete(name);
    if (names?.size === 0) this.byIndex.delete(index);
  }

  deleteIndex(index: number): void {
    for (const name of this.byIndex.get(index) ?? []) this.byName.delete(name);
    this.byIndex.delete(index);
  }
}

const tables = new WeakMap<NsContext, IndexTable>();

function tableOf(ctx: NsContext): IndexTable {
  let t = tables.get(ctx);
  if (!t) tables.set(ctx, (t = new IndexTable()));
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
  // Arrays, not a Map: one to three refs, and every verb on the pod path comes through here.
  const indexes: number[] = [];
  let remembered: string[] | undefined;
  for (const r of refs) {
    const hit = typeof r === 'string' ? table.get(r) : r;
    if (hit === undefined) indexes.push(await lookup(ctx, r, op));
    else {
      if (typeof r === 'string') (remembered ??= []).push(r);
      indexes.push(hit);
    }
  }
  const get = (r: LinkRef) => indexes[refs.indexOf(r)];
  try {
    return await fn(get);
  } catch (e) {
    if (!remembered) throw e;
    let changed = false;
    for (const name of new Set(remembered)) {
      table.delete(name);
      const fresh = await lookup(ctx, name, op);
      for (let i = 0; i < refs.length; i++) {
        if (refs[i] !== name) continue;
        if (indexes[i] !== fresh) changed = true;
        indexes[i] = fresh;
      }
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
  else table.deleteIndex(ref);
}

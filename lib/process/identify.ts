/**
 * Which names under /run/netns pin a given namespace (what `ip netns identify` prints).
 * @module
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Names under `dir` whose file is the namespace with this identity (st_dev, st_ino of the nsfs
 * inode), sorted. A stale pin (a placeholder left unmounted) is a plain file with another identity,
 * so it never matches. Only stat(2) runs, on libuv's pool: no namespace is entered.
 */
export async function pinnedNamesOf(identity: { dev: number; ino: number }, dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const hits = await Promise.all(
    names.map(async (name) => {
      try {
        const st = await stat(join(dir, name));
        return st.dev === identity.dev && st.ino === identity.ino ? name : undefined;
      } catch {
        return undefined; // deleted meanwhile
      }
    }),
  );
  return hits.filter((n): n is string => n !== undefined).sort();
}

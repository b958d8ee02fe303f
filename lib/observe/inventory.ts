/**
 * Every network namespace of the machine and the orphans among them: what `lsns -t net`, `ls -l
 * /proc/PID/ns/net`, `ip netns list` and the tutorial's shell loop over `/proc/*\/ns/net` show
 * together (tutorial, "Cleaning Up Orphaned Namespaces").
 *
 * Everything here is readdir/readlink/stat of /proc and /run/netns on libuv's pool: none of it
 * enters a namespace (docs/threading.md). The NSID of each namespace is asked of the process's own
 * namespace with RTM_GETNSID on an fd the addon opens (on its workers).
 * @module
 */
import { readFile, readdir, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ValidationError } from '../errors.js';
import { native, type NativeNsInfo } from '../native.js';
import { callNative } from '../native_call.js';
import { namespaceLane } from '../api/netns/lane.js';
import { homeConnection, queryNsid } from '../api/nsid/query.js';
import { checkKeys } from '../validate/options.js';
import { validateNetnsName } from '../validate/names.js';

/** Where iproute2 pins named namespaces. */
const RUN_DIR = '/run/netns';

/**
 * Why a namespace is alive:
 * - `in-use`: at least one thread of a process runs in it;
 * - `pinned-no-process`: only nsfs bind mounts keep it (the tutorial's orphan: `ip netns add` and
 *   nothing ever started in it, or everything in it has exited);
 * - `held-by-fd`: no process runs in it and no mount pins it, but some process holds an fd to it
 *   (`Netns.anonymous()`, a container runtime's handle).
 */
export type NamespaceState = 'in-use' | 'pinned-no-process' | 'held-by-fd';

/** A process with a thread in the namespace. */
export interface NamespaceProcess {
  pid: number;
  /** /proc/PID/comm. */
  command: string;
}

/** An open fd on the namespace (found through /proc/PID/fd). */
export interface NamespaceFdHolder {
  pid: number;
  fd: number;
  command: string;
}

/** One network namespace of the machine. */
export interface NamespaceEntry {
  /** Inode of the namespace (`net:[INODE]`, lsns's NS column). */
  inode: number;
  /** How the namespace is kept alive (see {@link NamespaceState}). */
  state: NamespaceState;
  /** Names under /run/netns that pin it (sorted). */
  names: string[];
  /** Every nsfs bind mount of it in this mount namespace (/run/netns/NAME and any other path). */
  mounts: string[];
  /** The id this process's namespace gave it (`ip netns list-id`), when one is assigned. */
  nsid?: number;
  /** Processes with a thread in it, by PID (the main thread's or any other thread's). */
  processes: NamespaceProcess[];
  /** fds of processes that refer to it (only those whose /proc/PID/fd could be read). */
  fdHolders: NamespaceFdHolder[];
  /**
   * When the kernel made the namespace's nsfs inode (stat's mtime): the first time anyone opened or
   * pinned it since nothing last held that inode. For a pinned namespace, at the latest when it was
   * pinned. Milliseconds since the epoch.
   */
  since?: number;
  /** True for the namespace this process runs in. */
  current: boolean;
}

/** A file under /run/netns that is not an nsfs mount any more (a crash between create and mount, or a lost mount). */
export interface StalePin {
  name: string;
  path: string;
  /** mtime of the file, ms since the epoch. */
  since: number;
}

/** The result of {@link inventory}. */
export interface Inventory {
  namespaces: NamespaceEntry[];
  stalePins: StalePin[];
}

/** Options of {@link inventory}. */
export interface InventoryOptions {
  /** Look for fds holding namespaces in /proc/PID/fd (default true; costs one readlink per open fd on the machine). */
  fds?: boolean;
  /** Ask the NSID of each namespace (default true; one netlink request each). */
  nsids?: boolean;
}

const NET_LINK = /^net:\[(\d+)\]$/;

interface Partial {
  inode: number;
  names: Set<string>;
  mounts: Set<string>;
  pids: Map<number, string>;
  fds: NamespaceFdHolder[];
  /** A path through which the namespace can be opened (to ask its NSID and stat it). */
  path?: string;
}

/**
 * Every network namespace on the machine: those processes run in (/proc/PID/task/TID/ns/net),
 * those nsfs bind mounts pin (/proc/self/mountinfo, /run/netns), and those only an open fd holds
 * (/proc/PID/fd), each classified; and the stale pins under /run/netns. Sorted by inode.
 *
 * Equivalent to: `lsns -t net`, `ip netns list`, `ls -l /proc/*\/ns/net` and the tutorial's orphan loop
 * @example
 * ```ts
 * import { inventory } from 'netns-native';
 * const { namespaces, stalePins } = await inventory();
 * const orphans = namespaces.filter((n) => n.state === 'pinned-no-process').map((n) => n.names);
 * ```
 */
export async function inventory(options: InventoryOptions = {}): Promise<Inventory> {
  checkKeys('', options, ['fds', 'nsids']);
  const wantFds = options.fds ?? true;
  const wantNsids = options.nsids ?? true;
  const byInode = new Map<number, Partial>();
  const entry = (inode: number): Partial => {
    let e = byInode.get(inode);
    if (!e) byInode.set(inode, (e = { inode, names: new Set(), mounts: new Set(), pids: new Map(), fds: [] }));
    return e;
  };

  const self = Number(NET_LINK.exec(await readlink('/proc/self/ns/net'))?.[1]);
  const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d)).map(Number);
  await Promise.all(
    pids.map(async (pid) => {
      const command = await comm(pid);
      if (command === undefined) return; // exited meanwhile
      let tids: string[];
      try {
        tids = await readdir(`/proc/${pid}/task`);
      } catch {
        return;
      }
      for (const tid of tids) {
        const ino = await nsLink(`/proc/${pid}/task/${tid}/ns/net`);
        if (ino === undefined) continue;
        const e = entry(ino);
        e.pids.set(pid, command);
        e.path ??= `/proc/${pid}/task/${tid}/ns/net`;
      }
      if (!wantFds) return;
      let fds: string[];
      try {
        fds = await readdir(`/proc/${pid}/fd`);
      } catch {
        return;
      }
      for (const fd of fds) {
        const ino = await nsLink(`/proc/${pid}/fd/${fd}`);
        if (ino === undefined) continue;
        const e = entry(ino);
        e.fds.push({ pid, fd: Number(fd), command });
        e.path ??= `/proc/${pid}/fd/${fd}`;
      }
    }),
  );

  // nsfs mounts: the root field of a bind mount of a namespace file is "net:[INODE]".
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const mounted = new Set<string>();
  for (const m of parseNsfsMounts(mountinfo)) {
    const e = entry(m.inode);
    e.mounts.add(m.mountPoint);
    e.path = m.mountPoint; // a mount is the steadiest way to reopen it
    mounted.add(m.mountPoint);
  }

  const stalePins: StalePin[] = [];
  let names: string[] = [];
  try {
    names = (await readdir(RUN_DIR)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await Promise.all(
    names.map(async (name) => {
      const path = join(RUN_DIR, name);
      try {
        const st = await stat(path);
        const owner = mounted.has(path) ? [...byInode.values()].find((e) => e.mounts.has(path)) : undefined;
        if (owner) owner.names.add(name);
        else stalePins.push({ name, path, since: st.mtimeMs });
      } catch {
        // Removed while we looked.
      }
    }),
  );

  const conn = wantNsids ? await homeConnection() : undefined;
  const namespaces = await Promise.all(
    [...byInode.values()].map(async (p): Promise<NamespaceEntry> => {
      const processes = [...p.pids].map(([pid, command]) => ({ pid, command })).sort((a, b) => a.pid - b.pid);
      const out: NamespaceEntry = {
        inode: p.inode,
        state: processes.length > 0 ? 'in-use' : p.mounts.size > 0 ? 'pinned-no-process' : 'held-by-fd',
        names: [...p.names].sort(),
        mounts: [...p.mounts].sort(),
        processes,
        fdHolders: p.fds.sort((a, b) => a.pid - b.pid || a.fd - b.fd),
        current: p.inode === self,
      };
      if (p.path) {
        try {
          out.since = (await stat(p.path)).mtimeMs;
        } catch {
          // Gone meanwhile.
        }
        if (conn) {
          const nsid = await nsidOf(conn, p.path, p.inode);
          if (nsid !== undefined) out.nsid = nsid;
        }
      }
      return out;
    }),
  );
  namespaces.sort((a, b) => a.inode - b.inode);
  stalePins.sort((a, b) => a.name.localeCompare(b.name));
  return { namespaces, stalePins };
}

/** Which orphans {@link cleanupOrphans} may remove; at least one selector is required. */
export interface OrphanCleanupOptions {
  /** Exact names under /run/netns. */
  names?: readonly string[];
  /** Names starting with this prefix (at least one character). */
  prefix?: string;
  /** Only orphans whose namespace (or stale file) is at least this old, in milliseconds. */
  olderThanMs?: number;
  /** List what would be removed and remove nothing. */
  dryRun?: boolean;
  /** Also remove matching stale pins (default true). */
  stalePins?: boolean;
}

/** One pin that {@link cleanupOrphans} removed (or would remove in a dry run). */
export interface OrphanRemoval {
  name: string;
  path: string;
  reason: 'pinned-no-process' | 'stale-pin';
  /** The namespace's inode, for a pinned orphan. */
  inode?: number;
  removed: boolean;
}

/**
 * Remove the pins of orphaned namespaces (pinned, no process in them) and stale pins, chosen by
 * name, prefix and/or age — never "everything": a call without a selector is rejected. Namespaces
 * with a process in them, or held by an fd, are never touched; a namespace pinned under several
 * names is removed only when every one of its names is selected. The classification is taken again
 * right before each removal, so a process that entered meanwhile saves its namespace.
 *
 * Equivalent to: the tutorial's `for ns in $(ip netns list); do [ -z "$(ip netns pids $ns)" ] && ip netns delete $ns; done`
 * @example
 * ```ts
 * import { cleanupOrphans } from 'netns-native';
 * const plan = await cleanupOrphans({ prefix: 'ci-', olderThanMs: 3600_000, dryRun: true });
 * console.log(plan.map((r) => r.name));
 * await cleanupOrphans({ names: plan.map((r) => r.name) });
 * ```
 * @throws {@link ValidationError} when no selector is given or one is malformed (nothing is removed).
 */
export async function cleanupOrphans(options: OrphanCleanupOptions): Promise<OrphanRemoval[]> {
  checkKeys('', options, ['names', 'prefix', 'olderThanMs', 'dryRun', 'stalePins']);
  const { names, prefix, olderThanMs } = options;
  if (names === undefined && prefix === undefined && olderThanMs === undefined) {
    throw new ValidationError('options', options, 'give names, prefix or olderThanMs: cleaning every orphan is never implied');
  }
  if (names !== undefined) {
    if (!Array.isArray(names) || names.length === 0) throw new ValidationError('names', names, 'must be a non-empty array of namespace names');
    for (const n of names) validateNetnsName(n);
  }
  if (prefix !== undefined && (typeof prefix !== 'string' || prefix.length === 0 || prefix.includes('/'))) {
    throw new ValidationError('prefix', prefix, 'must be a non-empty string without /');
  }
  if (olderThanMs !== undefined && (typeof olderThanMs !== 'number' || !Number.isFinite(olderThanMs) || olderThanMs < 0)) {
    throw new ValidationError('olderThanMs', olderThanMs, 'must be a non-negative number of milliseconds');
  }
  const now = Date.now();
  const selected = (name: string, since: number | undefined) =>
    (names === undefined || names.includes(name)) &&
    (prefix === undefined || name.startsWith(prefix)) &&
    (olderThanMs === undefined || (since !== undefined && now - since >= olderThanMs));

  const inv = await inventory({ nsids: false });
  const plan: OrphanRemoval[] = [];
  for (const ns of inv.namespaces) {
    if (ns.state !== 'pinned-no-process' || ns.names.length === 0) continue;
    // A namespace also mounted outside /run/netns stays alive anyway; removing its names would only hide it.
    if (ns.mounts.some((m) => !m.startsWith(RUN_DIR + '/'))) continue;
    if (!ns.names.every((n) => selected(n, ns.since))) continue;
    for (const name of ns.names) plan.push({ name, path: join(RUN_DIR, name), reason: 'pinned-no-process', inode: ns.inode, removed: false });
  }
  if (options.stalePins ?? true) {
    for (const s of inv.stalePins) if (selected(s.name, s.since)) plan.push({ name: s.name, path: s.path, reason: 'stale-pin', removed: false });
  }
  if (options.dryRun) return plan;

  for (const r of plan) {
    if (r.reason === 'pinned-no-process' && !(await stillOrphan(r.path, r.inode!))) continue;
    await namespaceLane.run(() => callNative<void>(`ip netns delete ${r.name}`, (a, cb) => a.nsDelete(r.path, cb)));
    r.removed = true;
  }
  return plan;
}

/** Re-check one pinned namespace right before removing it: still that inode and still no process. */
async function stillOrphan(path: string, inode: number): Promise<boolean> {
  try {
    if ((await stat(path)).ino !== inode) return false;
  } catch {
    return false;
  }
  const info = await callNative<NativeNsInfo>(`open namespace ${path}`, (a, cb) => a.nsOpenPath(path, cb));
  try {
    const pids = await callNative<number[]>(`ip netns pids ${path}`, (a, cb) => a.nsPids(info.fd, cb));
    return pids.length === 0;
  } finally {
    native().closeFd(info.fd);
  }
}

/** One nsfs mount of a network namespace. */
export interface NsfsMount {
  inode: number;
  mountPoint: string;
}

/**
 * The network-namespace bind mounts in a mountinfo text (proc(5): fields 4 and 5 are root and
 * mount point, octal-escaped; the filesystem type follows the " - " separator).
 */
export function parseNsfsMounts(mountinfo: string): NsfsMount[] {
  const out: NsfsMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fstype = line.slice(sep + 3).split(' ')[0];
    if (fstype !== 'nsfs') continue;
    const fields = line.slice(0, sep).split(' ');
    const m = NET_LINK.exec(fields[3] ?? '');
    if (!m) continue;
    out.push({ inode: Number(m[1]), mountPoint: unescapeMountField(fields[4] ?? '') });
  }
  return out;
}

function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

async function nsLink(path: string): Promise<number | undefined> {
  try {
    const m = NET_LINK.exec(await readlink(path));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

async function comm(pid: number): Promise<string | undefined> {
  try {
    return (await readFile(`/proc/${pid}/comm`, 'utf8')).trimEnd();
  } catch {
    return undefined;
  }
}

async function nsidOf(conn: Awaited<ReturnType<typeof homeConnection>>, path: string, inode: number): Promise<number | undefined> {
  let info: NativeNsInfo;
  try {
    info = await callNative<NativeNsInfo>(`open namespace ${path}`, (a, cb) => a.nsOpenPath(path, cb));
  } catch {
    return undefined; // the process exited or the fd was closed meanwhile
  }
  try {
    if (info.ino !== inode) return undefined; // the path now leads elsewhere
    return await queryNsid(conn, info.fd);
  } finally {
    native().closeFd(info.fd);
  }
}

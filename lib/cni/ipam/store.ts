/**
 * The host-local IPAM store, in the reference plugin's on-disk layout so either implementation can
 * take over the other's data directory: `DATADIR/NETWORK/` holds one file per allocated address,
 * named by the address (`10.1.0.5`, `fd00::5`) and holding `CONTAINERID\r\nIFNAME`;
 * `last_reserved_ip.N` holds the last address handed out from range set N; `lock` is the file
 * every invocation flock(2)s while it reads or changes the directory.
 * @module
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { callNative } from '../../native_call.js';

/** Where the reference keeps its stores when `dataDir` is not given. */
export const DEFAULT_DATA_DIR = '/var/lib/cni/networks';
/** Separator between container id and interface name in an allocation file. */
export const LINE_BREAK = '\r\n';
export const LAST_IP_PREFIX = 'last_reserved_ip.';
const LOCK_FILE = 'lock';
// Names the reference never creates (addresses never start with a dot); skipped when listing.
const TMP_PREFIX = '.netns-native-tmp.';

// flock conflicts between open file descriptions, so two holders inside one process would also
// exclude each other; but each waiter would tie up one addon worker while it waits. Waiters of one
// process queue here first, so at most one of them sits in flock per directory.
const inProcess = new Map<string, Promise<void>>();

// node:fs's callback API promisified rather than node:fs/promises: the executables load
// node:fs/promises only when something uses it, and loading it costs them a noticeable share of a
// start-up (docs/cni.md "Speed"). The calls are the same, on libuv's pool either way.
const mkdir = promisify(fs.mkdir);
const open = promisify(fs.open);
const close = promisify(fs.close);
const readFile = promisify(fs.readFile);
const readdir = promisify(fs.readdir);
const rename = promisify(fs.rename);
const unlink = promisify(fs.unlink);
const writeFile = promisify(fs.writeFile);
const link = promisify(fs.link);

/** One network's allocation directory, opened and locked. Call {@link close} to unlock. */
export class IpamStore {
  // The directory's names as read when the lock was taken, until this holder changes it: an ADD
  // then lists the directory once (stale temporaries and the allocations) instead of twice.
  private listing: string[] | undefined;

  private constructor(readonly dir: string, private readonly lockFd: number, private readonly unqueue: () => void) {}

  /** mkdir -p DATADIR/NETWORK, then take the lock (waits while another invocation holds it). */
  static async open(network: string, dataDir = DEFAULT_DATA_DIR): Promise<IpamStore> {
    const dir = join(dataDir || DEFAULT_DATA_DIR, network);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const previous = inProcess.get(dir) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => { release = r; });
    const tail = previous.then(() => mine);
    inProcess.set(dir, tail);
    await previous;
    let fd: number | undefined;
    try {
      fd = await open(join(dir, LOCK_FILE), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
      const lockFd = fd;
      await callNative<void>(`flock ${join(dir, LOCK_FILE)}`, (a, cb) => a.fileLock(lockFd, cb));
    } catch (e) {
      if (fd !== undefined) await close(fd).catch(() => undefined);
      release();
      if (inProcess.get(dir) === tail) inProcess.delete(dir);
      throw e;
    }
    const done = () => {
      release();
      if (inProcess.get(dir) === tail) inProcess.delete(dir);
    };
    const store = new IpamStore(dir, fd, done);
    await store.removeStaleTemporaries();
    return store;
  }

  /** Unlock (closing the fd releases the flock). */
  async close(): Promise<void> {
    try {
      await close(this.lockFd);
    } finally {
      this.unqueue();
    }
  }

  /**
   * Create the file of `ip` exclusively; false when it is taken. Records it as range set `rangeId`'s
   * last. The content is written to a temporary file first and linked to the address's name, so a
   * holder killed mid-way never leaves an empty allocation file that no DEL could match (temporary
   * files of dead holders are removed by the next {@link open}).
   */
  async reserve(id: string, ifName: string, ip: string, rangeId: number): Promise<boolean> {
    this.listing = undefined;
    const path = join(this.dir, ip);
    const tmp = join(this.dir, `${TMP_PREFIX}${process.pid}.${ip}`);
    await writeFile(tmp, id.trim() + LINE_BREAK + ifName, { mode: 0o644 });
    try {
      await link(tmp, path);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
    // The temporary goes while last_reserved_ip is written (independent files, lock held).
    const lastTmp = join(this.dir, `${TMP_PREFIX}${process.pid}.${LAST_IP_PREFIX}${rangeId}`);
    const gone = unlink(tmp).catch(() => undefined);
    try {
      await writeFile(lastTmp, ip, { mode: 0o644 });
      await rename(lastTmp, join(this.dir, LAST_IP_PREFIX + rangeId));
    } finally {
      await gone;
    }
    return true;
  }

  /** Temporary files can only be a dead holder's: they exist only while the lock is held. */
  private async removeStaleTemporaries(): Promise<void> {
    const names = await readdir(this.dir);
    const stale = names.filter((n) => n.startsWith(TMP_PREFIX));
    for (const name of stale) await unlink(join(this.dir, name)).catch(() => undefined);
    this.listing = stale.length === 0 ? names : undefined;
  }

  /** The last address handed out from range set `rangeId`, if recorded. */
  async lastReserved(rangeId: number): Promise<string | undefined> {
    try {
      return (await readFile(join(this.dir, LAST_IP_PREFIX + rangeId), 'utf8')).trim();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** Every allocation: address file name → trimmed content. */
  async entries(): Promise<Map<string, string>> {
    const names = (this.listing ?? (await readdir(this.dir))).filter((n) => n !== LOCK_FILE && !n.startsWith(LAST_IP_PREFIX) && !n.startsWith(TMP_PREFIX));
    // Read in parallel: the lock is held, so the set of files cannot change meanwhile.
    const contents = await Promise.all(names.map((n) => readFile(join(this.dir, n), 'utf8').then((c) => c.trim(), () => undefined)));
    const out = new Map<string, string>();
    names.forEach((n, i) => { if (contents[i] !== undefined) out.set(n, contents[i]!); });
    return out;
  }

  /** Addresses held by (id, ifName), also in the reference's older id-only format. */
  async findById(id: string, ifName: string): Promise<string[]> {
    const match = id.trim() + LINE_BREAK + ifName;
    const old = id.trim();
    const out: string[] = [];
    for (const [ip, content] of await this.entries()) if (content === match || content === old) out.push(ip);
    return out;
  }

  /** Remove (id, ifName)'s allocations; the id-only format only when the full one matched nothing. */
  async releaseById(id: string, ifName: string): Promise<string[]> {
    const entries = await this.entries();
    const match = id.trim() + LINE_BREAK + ifName;
    let hit = [...entries].filter(([, c]) => c === match).map(([ip]) => ip);
    if (hit.length === 0) hit = [...entries].filter(([, c]) => c === id.trim()).map(([ip]) => ip);
    if (hit.length > 0) this.listing = undefined;
    for (const ip of hit) await unlink(join(this.dir, ip)).catch(() => undefined);
    return hit;
  }

  /** Remove an allocation file by address. */
  async release(ip: string): Promise<void> {
    this.listing = undefined;
    await unlink(join(this.dir, ip)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }
}


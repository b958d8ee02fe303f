/**
 * Per-namespace DNS: /etc/netns/NAME/resolv.conf, which `ip netns exec NAME` and
 * {@link Netns.spawn} bind-mount over /etc/resolv.conf for the processes they start.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { NetnsError, SystemError, ValidationError, errnoName } from '../errors.js';
import { parseIp } from '../validate/ip.js';
import { checkKeys } from '../validate/options.js';
import type { NsContext } from '../api/context.js';

/** Where iproute2 looks for per-namespace configuration files. */
export const NETNS_ETC_DIR = '/etc/netns';

/** What {@link Dns.set} writes. */
export interface DnsConfig {
  /** Name server addresses, strict IPv4 or IPv6 (no zone id), 1 to 3 (the resolver's MAXNS). */
  nameservers: readonly string[];
  /** Search domains, in order (`search a.example b.example`). */
  search?: readonly string[];
  /** Resolver options (`ndots:2`, `timeout:1`, `rotate`, `edns0`, ...). */
  options?: readonly string[];
}

/** What {@link Dns.get} reads back. */
export interface ResolvConf {
  nameservers: string[];
  /** From the last `search` or `domain` line, as the resolver reads it. */
  search: string[];
  options: string[];
}

const MAX_NAMESERVERS = 3;
const DOMAIN = /^(?=.{1,253}\.?$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;
const OPTION = /^[A-Za-z][A-Za-z0-9_-]*(:[0-9]+)?$/;

function list(field: string, v: unknown): readonly unknown[] {
  if (!Array.isArray(v)) throw new ValidationError(field, v, 'must be an array of strings');
  return v;
}

/** A Node fs error as the library's typed {@link SystemError}, saying what was being done. */
function fsError(e: unknown, operation: string): unknown {
  const err = e as NodeJS.ErrnoException;
  if (err instanceof NetnsError || typeof err?.code !== 'string' || typeof err.errno !== 'number') return e;
  return new SystemError(`${operation}: ${err.message}`, { code: errnoName(err.errno), errno: err.errno, syscall: err.syscall, path: err.path, operation, cause: e });
}

/** Checks everything before any file is touched; returns the file's text. */
export function formatResolvConf(config: DnsConfig, nsName: string): string {
  if (typeof config !== 'object' || config === null) throw new ValidationError('dns config', config, 'must be an object');
  checkKeys('', config, ['nameservers', 'search', 'options']);
  const servers = list('nameservers', config.nameservers);
  if (servers.length < 1 || servers.length > MAX_NAMESERVERS) {
    throw new ValidationError('nameservers', config.nameservers, `must hold 1 to ${MAX_NAMESERVERS} addresses (the resolver ignores the rest)`);
  }
  for (const s of servers) parseIp(s as string, 'nameserver');
  const search = list('search', config.search ?? []);
  for (const d of search) {
    if (typeof d !== 'string' || !DOMAIN.test(d)) throw new ValidationError('search domain', d, 'must be a domain name (letters, digits, "-", "_", dots; no whitespace)');
  }
  const options = list('options', config.options ?? []);
  for (const o of options) {
    if (typeof o !== 'string' || !OPTION.test(o)) throw new ValidationError('option', o, 'must be a resolver option like "ndots:2" or "rotate"');
  }
  const lines = [`# Written by netns-native for network namespace ${nsName}`, ...servers.map((s) => `nameserver ${s as string}`)];
  if (search.length > 0) lines.push(`search ${search.join(' ')}`);
  if (options.length > 0) lines.push(`options ${options.join(' ')}`);
  return lines.join('\n') + '\n';
}

/** resolv.conf as the resolver reads it: comments (`#`, `;`) skipped, the last search/domain wins. */
export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    const [key, ...rest] = words;
    if (!key || key.startsWith('#') || key.startsWith(';')) continue;
    if (key === 'nameserver' && rest[0] !== undefined) out.nameservers.push(rest[0]);
    else if (key === 'search') out.search = rest;
    else if (key === 'domain' && rest[0] !== undefined) out.search = [rest[0]];
    else if (key === 'options') out.options.push(...rest);
  }
  return out;
}

/**
 * DNS settings of one named namespace, kept in /etc/netns/NAME/resolv.conf. Every process started
 * in the namespace by {@link Netns.spawn} or by `ip netns exec NAME` sees that file as its
 * /etc/resolv.conf (a bind mount in the process's own mount namespace); the host's file is
 * untouched.
 *
 * Deleting the namespace leaves /etc/netns/NAME in place, as `ip netns delete` does; call
 * {@link Dns.clear} to remove it.
 *
 * @example
 * ```ts
 * await ns.dns.set({ nameservers: ['10.0.0.53'], search: ['corp.example'] });
 * const { stdout } = await ns.exec('cat', ['/etc/resolv.conf']);
 * await ns.dns.clear();
 * ```
 */
export class Dns {
  /** @internal The handle makes it (users reach it as `ns.links`, `ns.tc`, ...). */
  constructor(private readonly ns: NsContext) {}

  /** /etc/netns/NAME, the directory `ip netns exec NAME` binds files from. */
  get dir(): string {
    const name = this.ns.name;
    if (name === undefined) {
      throw new NetnsError('per-namespace DNS needs a named namespace (/etc/netns/NAME); this handle has no name', { code: 'ERR_NOT_NAMED' });
    }
    return join(NETNS_ETC_DIR, name);
  }

  /** /etc/netns/NAME/resolv.conf. */
  get path(): string {
    return join(this.dir, 'resolv.conf');
  }

  /**
   * Write the namespace's resolv.conf atomically (a temporary file renamed over it, mode 0644),
   * creating /etc/netns/NAME when needed. Running processes that already bound the old file keep
   * seeing it; processes started afterwards see the new one.
   *
   * Equivalent to: `mkdir -p /etc/netns/NAME && printf 'nameserver ...' > /etc/netns/NAME/resolv.conf`
   * @example
   * ```ts
   * await ns.dns.set({ nameservers: ['10.0.0.53', '2001:db8::53'], search: ['corp.example'], options: ['ndots:2'] });
   * ```
   * @throws {@link ValidationError} for a malformed address, domain or option (nothing is written);
   *   a {@link NetnsError} with code 'ERR_NOT_NAMED' for an unnamed namespace.
   */
  async set(config: DnsConfig): Promise<void> {
    const dir = this.dir;
    const text = formatResolvConf(config, this.ns.name as string);
    // The temporary file lives beside the directory, not in it: `ip netns exec` binds every entry
    // of the directory, and a half-written file must never be one of them.
    const tmp = join(NETNS_ETC_DIR, `.resolv.conf.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await this.write(dir, tmp, text);
    } catch (e) {
      throw fsError(e, `write ${this.path}`);
    }
  }

  private async write(dir: string, tmp: string, text: string): Promise<void> {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const file = await open(tmp, 'wx', 0o644);
    try {
      try {
        await file.writeFile(text, 'utf8');
        await file.chmod(0o644); // whatever the umask
        await file.sync();
      } finally {
        await file.close();
      }
      for (let attempt = 0; ; attempt++) {
        try {
          await rename(tmp, this.path);
          break;
        } catch (e) {
          // A concurrent clear() removed the directory meanwhile: make it again.
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw e;
          await mkdir(dir, { recursive: true, mode: 0o755 });
        }
      }
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
  }

  /**
   * Read the namespace's resolv.conf back, or `undefined` when there is none.
   *
   * Equivalent to: `cat /etc/netns/NAME/resolv.conf`
   * @example
   * ```ts
   * const conf = await ns.dns.get(); // { nameservers: ['10.0.0.53'], search: [...], options: [...] }
   * ```
   */
  async get(): Promise<ResolvConf | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fsError(e, `read ${this.path}`);
    }
    return parseResolvConf(text);
  }

  /**
   * Remove the namespace's resolv.conf, and /etc/netns/NAME when that leaves it empty. Idempotent.
   *
   * Equivalent to: `rm -f /etc/netns/NAME/resolv.conf && rmdir --ignore-fail-on-non-empty /etc/netns/NAME`
   * @example
   * ```ts
   * await ns.dns.clear(); // true
   * await ns.dns.clear(); // false: nothing left to remove
   * ```
   * @returns true when a file was removed.
   */
  async clear(): Promise<boolean> {
    let removed = true;
    try {
      await unlink(this.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(e, `remove ${this.path}`);
      removed = false;
    }
    try {
      await rmdir(this.dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTEMPTY' && code !== 'EEXIST') throw fsError(e, `remove ${this.dir}`);
    }
    return removed;
  }
}

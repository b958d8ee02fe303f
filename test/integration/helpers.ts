/**
 * Shared test plumbing: per-run namespace names, cleanup that runs even when a test fails, and
 * iproute2 as the oracle.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll } from 'vitest';
import { native } from '../../lib/native.js';

const execFileP = promisify(execFile);

/** Prefix shared by the whole run (set by test/global_setup.ts), plus this process's pid. */
export const RUN_PREFIX = `${process.env.NNS_TEST_PREFIX ?? 'nntx'}-${process.pid}-`;

let counter = 0;
const created = new Set<string>();

/** A namespace name unique to this run; it is deleted after the file's tests even if they fail. */
export function nsName(tag = 'ns'): string {
  const n = `${RUN_PREFIX}${tag}${counter++}`;
  created.add(n);
  return n;
}

/** Delete every namespace this process named (with `ip`, so cleanup does not depend on the code under test). */
export function cleanupNamespaces(): void {
  for (const n of created) {
    try {
      execFileSync('ip', ['netns', 'delete', n], { stdio: 'ignore' });
    } catch {
      // Not created, or already deleted by the test.
    }
  }
  created.clear();
}

afterAll(cleanupNamespaces);

/** Run `ip` with JSON output, optionally inside a named namespace, and parse it. */
export function ipJson<T = any>(args: string[], ns?: string): T {
  const full = ns ? ['-n', ns, '-j', ...args] : ['-j', ...args];
  const out = execFileSync('ip', full, { encoding: 'utf8' });
  return (out.trim() ? JSON.parse(out) : []) as T;
}

/** Run a command and return stdout; throws with stderr on failure. */
export function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export async function runAsync(cmd: string, args: string[]): Promise<string> {
  const { stdout } = await execFileP(cmd, args, { encoding: 'utf8' });
  return stdout;
}

/** Namespace names under /run/netns. */
export function pinnedNames(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}

/** Open fds of this process. */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/**
 * The fd count once it stops moving: the addon closes a socket's fd on its I/O thread a moment after
 * `close()` returns, so a count taken right after a cycle may still include the last one's socket.
 */
export async function settledFdCount(): Promise<number> {
  let last = fdCount();
  let same = 0;
  for (let i = 0; i < 100 && same < 3; i++) {
    await new Promise((r) => setTimeout(r, 20));
    const n = fdCount();
    same = n === last ? same + 1 : 0;
    last = n;
  }
  return last;
}

/**
 * Until the addon's link-deletion sender threads have gone idle and exited (docs/threading.md,
 * "Link deletions: sender threads": they linger 250 ms), so thread counts compare with a baseline.
 */
export async function sendersIdle(): Promise<void> {
  for (let i = 0; i < 100 && native().sweepStats().sendersLive > 0; i++) await new Promise((r) => setTimeout(r, 20));
}

/** The net namespace inode of every thread of this process. */
export function threadNamespaces(): Map<number, string> {
  const out = new Map<number, string>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      out.set(Number(tid), readlinkSync(`/proc/self/task/${tid}/ns/net`));
    } catch {
      // Thread exited while we looked.
    }
  }
  return out;
}

/** The process's own namespace, as `net:[inode]`. */
export function ownNamespace(): string {
  return readlinkSync('/proc/self/ns/net');
}

/** Inode of the root network namespace (the machine's own), to assert it is never touched. */
export function nsInode(path: string): number {
  return statSync(path).ino;
}

/** Number of nsfs mounts under /run/netns in this mount namespace. */
export function runNetnsMounts(): number {
  return execFileSync('cat', ['/proc/self/mountinfo'], { encoding: 'utf8' }).split('\n').filter((l) => / \/run\/netns(\/| )/.test(l)).length;
}

/**
 * Running the built `netns-native` (dist/bin/netns-native.cjs, what package.json's "bin" installs) and
 * cleaning up what topology tests make under their per-run prefix.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { RUN_PREFIX } from './helpers.js';

const ROOT = new URL('../../', import.meta.url).pathname;
export const BIN = join(ROOT, 'dist/bin/netns-native.cjs');

/** The CLI tests run the built command: fail clearly when dist/ is older than the sources. */
export function assertBuilt(): void {
  const newest = (dir: string): number =>
    Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
  if (newest(join(ROOT, 'lib')) > statSync(BIN, { throwIfNoEntry: false })?.mtimeMs!) {
    throw new Error('dist/ is older than lib/: run `npm run build` before the CLI tests');
  }
}

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run `netns-native ARGS...` and wait for it. */
export function cli(args: string[], input?: string): CliResult {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input, env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 };
}

/**
 * Run `netns-native ARGS...` without blocking this process: needed when the test itself serves
 * what the command probes (a nameserver, a TCP listener in a namespace).
 */
export function cliAsync(args: string[]): Promise<CliResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      const status = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ status, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

let seq = 0;
const prefixes: string[] = [];

/** A `--prefix` for one application of a topology file; its namespaces and DNS files are removed after the file. */
export function topoPrefix(tag: string): string {
  const p = `${RUN_PREFIX}${tag}${seq++}-`;
  prefixes.push(p);
  return p;
}

/** Names under /run/netns. */
export function pinned(): string[] {
  try {
    return readdirSync('/run/netns').sort();
  } catch {
    return [];
  }
}

/** Names under /etc/netns. */
export function etcNetns(): string[] {
  try {
    return readdirSync('/etc/netns').sort();
  } catch {
    return [];
  }
}

afterAll(() => {
  for (const p of prefixes) {
    for (const n of pinned().filter((n) => n.startsWith(p))) {
      try {
        execFileSync('ip', ['netns', 'delete', n], { stdio: 'ignore' });
      } catch {
        // Already gone.
      }
    }
    for (const n of etcNetns().filter((n) => n.startsWith(p))) rmSync(join('/etc/netns', n), { recursive: true, force: true });
  }
});

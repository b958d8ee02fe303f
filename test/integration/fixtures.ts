/**
 * Integration-test fixtures: a fresh named namespace per test (vitest `test.extend`), deleted even
 * when the test fails; skips for a non-root run and for what this kernel lacks, the skip reason
 * being the kernel's own refusal text.
 */
import { execFileSync } from 'node:child_process';
import { test as base } from 'vitest';
import { Netns } from '../../lib/index.js';
import { nsName } from './helpers.js';

/** True when the tests run as root (every integration test needs it: the kernel is the oracle). */
export const isRoot = process.getuid?.() === 0;

/** `it.skipIf` condition plus reason, for a suite that needs root: `describe.skipIf(!isRoot)`. */
export function skipUnlessRoot(ctx: { skip(note?: string): void }): void {
  if (!isRoot) ctx.skip('needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN): the kernel is the oracle');
}

const probes = new Map<string, string | undefined>();

/**
 * Whether the kernel accepts `ip ARGS...` (run inside a scratch namespace): undefined when it does,
 * else the kernel's own error text, e.g. `Error: Unknown device type.` for `link add x type dummy`.
 * Probed once per process and argument list.
 */
export function kernelRefusal(ipArgs: readonly string[]): string | undefined {
  const key = ipArgs.join(' ');
  if (probes.has(key)) return probes.get(key);
  const ns = nsName('probe');
  let refusal: string | undefined;
  try {
    execFileSync('ip', ['netns', 'add', ns], { stdio: 'pipe' });
    execFileSync('ip', ['-n', ns, ...ipArgs], { stdio: 'pipe' });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    refusal = (err.stderr?.toString().trim() || err.message).split('\n')[0];
  } finally {
    try { execFileSync('ip', ['netns', 'delete', ns], { stdio: 'pipe' }); } catch { /* never added */ }
  }
  probes.set(key, refusal);
  return refusal;
}

/**
 * Skip the running test when the kernel refuses `ip ARGS...`, with the kernel's text as the
 * reason: `skipUnlessKernelHas(ctx, ['link', 'add', 'd0', 'type', 'dummy'])`.
 */
export function skipUnlessKernelHas(ctx: { skip(note?: string): void }, ipArgs: readonly string[]): void {
  const refusal = kernelRefusal(ipArgs);
  if (refusal !== undefined) ctx.skip(`kernel lacks it: ${refusal}`);
}

/** `test` with a fresh named namespace per test (`ns`), deleted after it whatever happened. */
export const nsTest = base.extend<{ ns: Netns }>({
  // eslint-disable-next-line no-empty-pattern
  ns: async ({}, use) => {
    const ns = await Netns.create(nsName('t'));
    try {
      await use(ns);
    } finally {
      await ns.delete({ ifExists: true });
    }
  },
});

/**
 * The test preflight (issue 11): on a machine without one of the tools the integration tests use,
 * the run stops before any test and names every missing tool with its Debian package.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TOOLS, missingTools } from '../global_setup.js';
import { skipUnlessRoot } from './fixtures.js';

const ROOT = new URL('../../', import.meta.url).pathname;

/** A directory of symlinks to this machine's tools except `without`, for use as PATH. */
function pathWithout(without: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'nn-path-'));
  symlinkSync(process.execPath, join(dir, 'node'));
  for (const tool of Object.keys(TOOLS).filter((t) => !t.includes('/') && !without.includes(t))) {
    const where = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    if (where) symlinkSync(where, join(dir, tool));
  }
  return dir;
}

describe('test preflight', () => {
  it('names every tool missing from PATH, with its package', () => {
    expect(missingTools()).toEqual([]); // this machine has them all (.ci/run installs them)
    const dir = pathWithout(['ping', 'tcpdump']);
    const saved = process.env.PATH;
    try {
      process.env.PATH = dir;
      expect(missingTools()).toEqual(['ping (iputils-ping)', 'tcpdump (tcpdump)']);
    } finally {
      process.env.PATH = saved;
      rmSync(dir, { recursive: true });
    }
  });

  it('stops an integration run before any test, naming them', (ctx) => {
    skipUnlessRoot(ctx);
    const dir = pathWithout(['ping', 'nft']);
    try {
      const vitest = join(ROOT, 'node_modules/vitest/vitest.mjs');
      const env = { ...process.env, PATH: dir };
      delete env.NNS_TEST_PREFIX;
      const r = spawnSync(process.execPath, [vitest, 'run', '--config', 'test/vitest.config.ts', '--project', 'unit+integration', 'test/integration/fixtures.test.ts'], {
        cwd: ROOT, encoding: 'utf8', env,
      });
      expect(r.status).not.toBe(0);
      expect(r.stdout + r.stderr).toContain('test preflight: missing nft (nftables), ping (iputils-ping)');
      expect(r.stdout + r.stderr).toContain('apt-get install nftables iputils-ping');
      expect(r.stdout + r.stderr).not.toMatch(/✓|passed/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  }, 60_000);
});

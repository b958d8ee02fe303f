/**
 * Runs once around the whole test run: gives every test process the same per-run prefix, and after
 * the run removes anything a crashed test left under that prefix and fails loudly if there was any.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export default function setup(): () => void {
  const prefix = process.env.NNS_TEST_PREFIX ?? `nnt${randomBytes(2).toString('hex')}`;
  process.env.NNS_TEST_PREFIX = prefix;
  return () => {
    let listed = '';
    try {
      listed = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    } catch {
      return;
    }
    const leftovers = listed.split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(prefix));
    for (const n of leftovers) {
      try {
        execFileSync('ip', ['netns', 'delete', n]);
      } catch {
        // Already gone.
      }
    }
    if (leftovers.length > 0) {
      console.error(`LEAK: tests left ${leftovers.length} namespaces behind (removed now): ${leftovers.join(' ')}`);
      process.exitCode = 1;
    }
  };
}

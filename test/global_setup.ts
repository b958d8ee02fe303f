/**
 * Runs once around the whole test run: gives every test process the same per-run prefix, and after
 * the run removes anything a crashed test left under that prefix and fails loudly if there was any.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** The machine's own nf_tables ruleset (read only), or undefined when nft is not installed. */
function hostRuleset(): string | undefined {
  try {
    return execFileSync('nft', ['-j', 'list', 'ruleset'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

export default function setup(): () => void {
  const prefix = process.env.NNS_TEST_PREFIX ?? `nnt${randomBytes(2).toString('hex')}`;
  process.env.NNS_TEST_PREFIX = prefix;
  // Firewall tests change rulesets only inside their own namespaces; the machine's must not move.
  const rulesetBefore = hostRuleset();
  return () => {
    const rulesetAfter = hostRuleset();
    if (rulesetBefore !== rulesetAfter) {
      console.error(`LEAK: the machine's own nf_tables ruleset changed during the run.\nbefore: ${rulesetBefore}\nafter:  ${rulesetAfter}`);
      process.exitCode = 1;
    }
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

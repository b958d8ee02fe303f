/**
 * Runs once around the whole test run: gives every test process the same per-run prefix, and after
 * the run removes anything a crashed test left under that prefix and fails loudly if there was any.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants as fsConstants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * What the integration tests run as oracles or helpers, with the Debian package that has it (the
 * same list as .ci/run's apt-get line). A missing one used to fail tests one by one with ENOENT
 * deep inside them; now the run stops before any test, naming all of them at once.
 */
export const TOOLS: Record<string, string> = {
  ip: 'iproute2', tc: 'iproute2', ss: 'iproute2', bridge: 'iproute2',
  nft: 'nftables', iptables: 'iptables', ping: 'iputils-ping', tcpdump: 'tcpdump', tshark: 'tshark',
  setpriv: 'util-linux', unshare: 'util-linux', lsns: 'util-linux', mount: 'mount', sysctl: 'procps',
  python3: 'python3', '/usr/lib/cni/bridge': 'containernetworking-plugins', '/usr/lib/cni/host-local': 'containernetworking-plugins',
};

function found(tool: string): boolean {
  const candidates = tool.includes('/') ? [tool] : (process.env.PATH ?? '').split(delimiter).map((d) => join(d, tool));
  return candidates.some((c) => {
    try {
      accessSync(c, fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The tools missing from this machine, as "tool (package)". */
export function missingTools(): string[] {
  return Object.entries(TOOLS).filter(([t]) => !found(t)).map(([t, pkg]) => `${t} (${pkg})`);
}

/** Whether this run includes integration tests: they need root and the tools (unit tests neither). */
function runsIntegration(): boolean {
  const files = process.argv.filter((a) => a.startsWith('test/') || a.includes('.test.'));
  return process.getuid?.() === 0 && (files.length === 0 || files.some((f) => !f.startsWith('test/unit')));
}

/** The machine's own nf_tables ruleset (read only), or undefined when nft is not installed. */
function hostRuleset(): string | undefined {
  try {
    return execFileSync('nft', ['-j', 'list', 'ruleset'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

export default function setup(): () => void {
  if (runsIntegration()) {
    const missing = missingTools();
    if (missing.length > 0) {
      const pkgs = [...new Set(missing.map((m) => /\((.*)\)$/.exec(m)![1]))].join(' ');
      throw new Error(`test preflight: missing ${missing.join(', ')}. Install them (Debian: apt-get install ${pkgs}) or run only test/unit.`);
    }
  }
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

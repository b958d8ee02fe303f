/**
 * Cleanup on interruption (issue 11): `npm run demo` and `npm run bench` stopped by SIGINT (Ctrl-C:
 * the signal goes to the whole process group, npm included) or SIGTERM (to the program alone) at
 * several points leave no namespace, pin or mount of theirs, and exit with 128 + the signal number.
 * The points are found by watching /run/netns (the k-th namespace of the run appears) and /proc (a
 * child process of the bench is running). All runs go at once to keep the file short.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { pinnedNames, run } from './helpers.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const started = new Set<string>(); // prefixes of every run, for the cleanup after a failure

/** Direct children of `pid` (every thread's, from /proc/PID/task/TID/children): cheap enough to poll. */
function children(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      out.push(...readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
    }
  } catch {
    // Exited meanwhile.
  }
  return out;
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Running (not a zombie waiting to be reaped). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

/** The first `node` process below `pid` (npm -> sh -> node). */
function nodeBelow(pid: number): number {
  for (const c of children(pid)) {
    if (comm(c) === 'node') return c;
    const deeper = nodeBelow(c);
    if (deeper) return deeper;
  }
  return 0;
}

interface Case {
  script: 'demo' | 'bench';
  /** Through `npm run` with the signal to the process group (a terminal's Ctrl-C), or node alone. */
  npm: boolean;
  signal: 'SIGINT' | 'SIGTERM';
  /** When to send it: after the k-th namespace of the run appears (plus a delay), or while the run has a child process. */
  at: { namespaces: number; match?: string; delayMs?: number } | { child: string[] };
}

interface Outcome {
  prefix: string;
  /** Whether the point was reached before the signal (else it went after 30 s). */
  reached: boolean;
  exit: { code: number | null; signal: NodeJS.Signals | null };
  output: string;
  leftPins: string[];
  leftListed: string[];
  leftMounts: string[];
  programAlive: boolean;
}

const BENCH_ARGS = ['--sizes', '20', '--reps', '1', '--mem', '0', '--no-ops'];

async function interrupt(c: Case): Promise<Outcome> {
  const args = c.script === 'demo' ? ['dist/examples/demo.js'] : ['dist/bench/run.js', ...BENCH_ARGS];
  const p: ChildProcess = c.npm
    ? spawn('npm', ['run', '--silent', c.script, ...(c.script === 'bench' ? ['--', ...BENCH_ARGS] : [])], { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, args, { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  p.stdout!.on('data', (d) => (output += d));
  p.stderr!.on('data', (d) => (output += d));
  const exit = new Promise<Outcome['exit']>((r) => p.on('exit', (code, signal) => r({ code, signal })));
  // The program's pid names its namespaces: the node process of the group (npm's child's child).
  let program = c.npm ? 0 : p.pid!;
  for (let i = 0; program === 0 && i < 3000; i++) {
    program = nodeBelow(p.pid!);
    if (program === 0) await sleep(5);
  }
  const prefix = `${c.script}-${program}-`;
  started.add(prefix);
  const at = c.at;
  let reached = false;
  for (let i = 0; i < 6000 && !reached; i++) {
    reached = 'namespaces' in at
      ? pinnedNames().filter((n) => n.startsWith(prefix) && (at.match === undefined || n.includes(at.match))).length >= at.namespaces
      : children(program).some((x) => at.child.includes(comm(x)));
    if (!reached) await sleep(5);
  }
  if ('namespaces' in c.at && c.at.delayMs) await sleep(c.at.delayMs);
  process.kill(c.npm ? -p.pid! : program, c.signal);
  const result = await exit;
  for (let i = 0; i < 2000 && alive(program); i++) await sleep(5); // npm may return before its child is done
  return {
    prefix,
    reached,
    exit: result,
    output,
    leftPins: pinnedNames().filter((n) => n.startsWith(prefix)),
    leftListed: run('ip', ['netns', 'list']).split('\n').filter((l) => l.startsWith(prefix)),
    leftMounts: readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(`/run/netns/${prefix}`)),
    programAlive: alive(program),
  };
}

afterAll(() => {
  for (const prefix of started) {
    for (const n of pinnedNames().filter((x) => x.startsWith(prefix))) run('ip', ['netns', 'delete', n]);
  }
});

const CASES: [string, Case][] = [
  ['demo, Ctrl-C through npm right after its first namespace', { script: 'demo', npm: true, signal: 'SIGINT', at: { namespaces: 1 } }],
  ['demo, SIGINT 300 ms after its 8th namespace (building the router, or checking traffic)', { script: 'demo', npm: false, signal: 'SIGINT', at: { namespaces: 8, delayMs: 300 } }],
  ['demo, SIGTERM during the bandwidth part', { script: 'demo', npm: false, signal: 'SIGTERM', at: { namespaces: 1, match: '-bw-', delayMs: 200 } }],
  ['bench, Ctrl-C through npm after its 5th namespace', { script: 'bench', npm: true, signal: 'SIGINT', at: { namespaces: 5 } }],
  ['bench, SIGTERM while an ip script or the C floor runs', { script: 'bench', npm: false, signal: 'SIGTERM', at: { child: ['sh', 'netns-bench-flo'] } }],
];

describe('interrupted runs leave nothing', () => {
  let outcomes: Map<string, Outcome>;
  const all = async () => (outcomes ??= new Map(await Promise.all(CASES.map(async ([title, c]) => [title, await interrupt(c)] as const))));

  it.each(CASES)('%s', async (title, c) => {
    const o = (await all()).get(title)!;
    const why = `${o.prefix}: ${o.output.slice(-2000)}`;
    expect(o.reached, why).toBe(true);
    expect({ pins: o.leftPins, listed: o.leftListed, mounts: o.leftMounts, alive: o.programAlive }, why).toEqual({ pins: [], listed: [], mounts: [], alive: false });
    const status = 128 + (c.signal === 'SIGINT' ? 2 : 15);
    // npm re-raises the signal on itself once its child has exited; node alone reports the status.
    if (c.npm) expect(o.exit.code === status || o.exit.signal === c.signal, why).toBe(true);
    else expect(o.exit, why).toEqual({ code: status, signal: null });
    expect(o.output, why).toContain(c.signal);
  }, 120_000);
});

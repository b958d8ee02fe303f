/**
 * The C floor of the benchmark (bench/floor.c): the pod workload and the single operations done by
 * raw system calls, one netlink request at a time. Compiled on demand with the machine's `cc` the
 * first time the bench needs it (and again whenever floor.c is newer than the binary), so every run
 * measures its own floor on the same kernel, in the same minutes as the library and `ip`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Between, PhaseTimes, Plan } from './workloads.js';

const here = dirname(fileURLToPath(import.meta.url)); // dist/bench
const SOURCE = join(here, '..', '..', 'bench', 'floor.c');
const BINARY = join(here, 'netns-bench-floor');

/** Path of the floor binary, built first if missing or older than its source. */
export function floorBinary(): string {
  if (!existsSync(SOURCE)) throw new Error(`${SOURCE} is missing: the floor is built from the repository's bench/floor.c`);
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= statSync(SOURCE).mtimeMs) return BINARY;
  mkdirSync(dirname(BINARY), { recursive: true });
  const cc = process.env.CC || 'cc';
  try {
    execFileSync(cc, ['-O2', '-Wall', '-o', BINARY, SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new Error(`building the C floor failed (${cc} -O2 -o ${BINARY} ${SOURCE}): ${(e as { stderr?: Buffer }).stderr?.toString().trim() ?? e}`);
  }
  return BINARY;
}

/** Run the floor and return the milliseconds it measured itself (its process start-up excluded). */
async function floorMs(args: string[]): Promise<number> {
  const out = await execJson(args);
  return out.ms as number;
}

/** Run the floor with `args`; resolve with the JSON object of its last output line. */
function execJson(args: string[]): Promise<Record<string, number>> {
  const bin = floorBinary();
  return new Promise((resolve, reject) => {
    execFile(bin, args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`floor ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '{}'));
    });
  });
}

/**
 * The pod workload of `plan`, one request at a time (or, with `pipelined`, the fast variant with
 * many requests per sendmsg: the "C pipeline" issue 10 compares all pods at once with): setup, then
 * `between` (untimed), then teardown.
 */
export async function floorRun(plan: Plan, between?: Between, pipelined = false): Promise<PhaseTimes> {
  if (pipelined && plan.variant !== 'fast') throw new Error('the pipelined floor does the fast variant only');
  const setup = await floorMs(['setup', plan.prefix, plan.tag, String(plan.n), pipelined ? 'pipe' : plan.variant]);
  if (between) await between(plan);
  const teardown = await floorMs(['teardown', plan.prefix, plan.tag, String(plan.n)]);
  return { setup, teardown, total: setup + teardown };
}

/** Median ms of K single operations of each kind, as bench/single_ops.ts measures the library. */
export interface FloorOps {
  netnsCreateMs: number;
  netnsDeleteMs: number;
  vethCreateMs: number;
  addrAddMs: number;
}

export async function floorOps(prefix: string, tag: string, k: number): Promise<FloorOps> {
  const o = await execJson(['ops', prefix, tag, String(k)]);
  return { netnsCreateMs: o.netnsCreateMs, netnsDeleteMs: o.netnsDeleteMs, vethCreateMs: o.vethCreateMs, addrAddMs: o.addrAddMs };
}

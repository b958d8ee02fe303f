/**
 * `npm run bench`: the CNI pod-setup workload through the library and through iproute2, side by
 * side in one run, plus single-operation costs, event-loop delay, memory, fds and threads.
 *
 *   node dist/bench/run.js [--reps 3] [--sizes 50,200] [--mem 1000] [--no-ip-process] [--library-only] [--no-ops]
 *
 * Every figure is also printed as a ratio to the C floor (bench/floor.c, built on demand with `cc`):
 * the same workload by raw system calls, one netlink request at a time, measured in the same run.
 *
 * --library-only runs the library's workloads (and the C floor) alone (for profiling: `node --cpu-prof ...`, `perf`);
 * --no-ops skips the single-operation costs; --mem 0 skips the memory runs.
 *
 * Root only. Every namespace is named `bench-<pid>-...` and removed at the end, even on failure or
 * Ctrl-C. The machine's own namespace is never changed: the "host" of the workload is a namespace.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { constants, cpus, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { namespaceLane } from '../lib/api/netns/lane.js';
import { native } from '../lib/native.js';
import { opCosts, type OpCost } from './single_ops.js';
import { formatTable } from './report.js';
import {
  PeakSampler,
  fdCount,
  idleLoopDelay,
  killDescendantsSync,
  liveNetNamespaces,
  median,
  pinnedWithPrefix,
  processThreads,
  removeAll,
  rssMiB,
  settle,
  withLoopDelay,
  type LoopDelay,
  type ThreadCpu,
  cpuDelta,
  threadCpu,
} from './util.js';
import { IpScripts, Plan, libraryRun, scriptRun, type PhaseTimes, type Variant } from './workloads.js';
import { verifyPods } from './verify.js';
import { memoryRuns } from './memory.js';
import { floorBinary, floorOps, floorRun, type FloorOps } from './floor.js';

/**
 * library: all N pods at once; library-1by1: one pod after another, every call awaited; c-floor:
 * bench/floor.c, raw system calls one request at a time (every ratio is taken to it); c-pipe: the
 * same program with many requests per sendmsg (fast variant only; issue 10 holds all pods at once
 * to it).
 */
type Method = 'library' | 'library-1by1' | 'c-floor' | 'c-pipe' | 'ip-batch' | 'ip-process';
const isLibrary = (m: Method) => m === 'library' || m === 'library-1by1';

interface Args {
  reps: number;
  sizes: number[];
  mem: number;
  ipProcess: boolean;
  ipBatch: boolean;
  ops: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { reps: 3, sizes: [50, 200], mem: 1000, ipProcess: true, ipBatch: true, ops: true };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--reps': a.reps = Math.max(1, Number(v)); i++; break;
      case '--sizes': a.sizes = v.split(',').map(Number); i++; break;
      case '--mem': a.mem = Number(v); i++; break;
      case '--no-ip-process': a.ipProcess = false; break;
      case '--library-only': a.ipProcess = false; a.ipBatch = false; break;
      case '--no-ops': a.ops = false; break;
      default: throw new Error(`unknown argument ${argv[i]} (known: --reps N, --sizes 50,200, --mem N, --no-ip-process, --library-only, --no-ops)`);
    }
  }
  if (a.sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 1000)) throw new Error('--sizes: integers from 1 to 1000');
  return a;
}

/** One timed execution of a workload. */
interface Sample extends PhaseTimes {
  /** ms spent waiting for the kernel to destroy the previous run's namespaces before this one. */
  settledMs: number;
  loop?: LoopDelay;
  /** The same process doing nothing, right before the run (after the previous run's namespaces are gone). */
  idleBefore?: LoopDelay;
  /** The same process doing nothing, right after the run (while the kernel destroys its namespaces). */
  idle?: LoopDelay;
  rss?: { before: number; peak: number; after: number };
  fds?: { before: number; peak: number; after: number };
  threads?: { addon: number; process: number };
  /** CPU ms of the process's threads during the run (library runs). */
  cpu?: ThreadCpu;
}

interface WorkloadResult {
  variant: Variant;
  n: number;
  method: Method;
  samples: Sample[];
  median: PhaseTimes;
}

const PREFIX = `bench-${process.pid}-`;
let tagCounter = 0;
const nextTag = () => `r${tagCounter++}`;

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

/**
 * @param idleMs how long to sample the idle baseline before a library run: as long as the previous
 *   run of the same workload took, at most 3 s (percentiles and the maximum depend on how many
 *   samples there are).
 */
async function runOnce(method: Method, variant: Variant, n: number, verify: boolean, baseline: number | undefined, idleMs = 500): Promise<Sample> {
  const oneByOne = method === 'library-1by1';
  if (isLibrary(method) && verify) {
    // Checked on a run of its own: the check runs `ip` synchronously, which would show up in the
    // event-loop figures of a measured run.
    await settle(baseline);
    await libraryRun(new Plan(PREFIX, nextTag(), n, variant), (p) => verifyPods(p), oneByOne);
  }
  const settledMs = await settle(baseline);
  const plan = new Plan(PREFIX, nextTag(), n, variant);
  if (method === 'c-floor' || method === 'c-pipe') {
    try {
      return { ...(await floorRun(plan, verify ? (p) => verifyPods(p) : undefined, method === 'c-pipe')), settledMs };
    } finally {
      removeAll(`${plan.prefix}${plan.tag}-`); // after a failure; a no-op otherwise
    }
  }
  if (isLibrary(method)) {
    // The baseline the run's delay is compared with: the loop of this same process with nothing to
    // do, sampled after settle() (the kernel has destroyed the previous run's namespaces) and right
    // before the run, so the machine's other load is the same minutes' (docs/performance.md, "Event
    // loop during a burst").
    const idleBefore = await idleLoopDelay(idleMs);
    const before = { rss: rssMiB(), fds: fdCount() };
    const cpu0 = threadCpu();
    const sampler = new PeakSampler();
    sampler.start(20);
    let times: PhaseTimes;
    let loop: LoopDelay;
    try {
      ({ value: times, delay: loop } = await withLoopDelay(() => libraryRun(plan, undefined, oneByOne)));
    } finally {
      sampler.stop();
    }
    const cpu = cpuDelta(cpu0, threadCpu());
    const idle = await idleLoopDelay(Math.max(loop.ms, 100));
    const addon = native();
    return {
      ...times,
      settledMs,
      loop,
      idleBefore,
      idle,
      rss: { before: before.rss, peak: sampler.peakRss, after: rssMiB() },
      fds: { before: before.fds, peak: sampler.peakFds, after: fdCount() },
      threads: { addon: addon.threadCount(), process: processThreads() },
      cpu,
    };
  }
  const between = verify ? (p: Plan) => verifyPods(p) : undefined;
  const scripts = new IpScripts(plan);
  try {
    const pair = method === 'ip-batch' ? scripts.batch() : scripts.perProcess();
    return { ...(await scriptRun(pair, plan, between)), settledMs };
  } finally {
    scripts.dispose();
    removeAll(`${plan.prefix}${plan.tag}-`); // after a failed script; a no-op otherwise
  }
}

function medianTimes(samples: Sample[]): PhaseTimes {
  return {
    setup: median(samples.map((s) => s.setup)),
    teardown: median(samples.map((s) => s.teardown)),
    total: median(samples.map((s) => s.total)),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (it creates namespaces)');
  const t0 = performance.now();
  const start = { rss: rssMiB(), fds: fdCount() };
  const baseline = liveNetNamespaces();
  log(`netns-native bench: prefix ${PREFIX}, ${cpus().length} CPUs, kernel ${release()}, node ${process.version}, ${execFileSync('ip', ['-V'], { encoding: 'utf8' }).trim()}`);

  // Warm-up: loads the addon, starts its threads, JIT-compiles the hot paths; not measured.
  await libraryRun(new Plan(PREFIX, nextTag(), 20, 'fast'));
  await libraryRun(new Plan(PREFIX, nextTag(), 20, 'move'));
  const warm = { rss: rssMiB(), fds: fdCount() };

  floorBinary(); // built before anything is timed
  const methods: Method[] = ['library', 'library-1by1', 'c-floor', 'c-pipe'];
  if (args.ipBatch) methods.push('ip-batch');
  if (args.ipProcess) methods.push('ip-process');
  const results: WorkloadResult[] = [];
  for (const n of args.sizes) {
    const cells: { variant: Variant; method: Method }[] = [];
    for (const variant of ['fast', 'move'] as Variant[]) {
      for (const method of methods) if (method !== 'c-pipe' || variant === 'fast') cells.push({ variant, method });
    }
    const byCell = new Map<string, Sample[]>();
    for (let rep = 0; rep < args.reps; rep++) {
      // Rotate the order each repetition so no method always runs right after another's teardown.
      const order = cells.map((_, i) => cells[(i + rep) % cells.length]);
      for (const { variant, method } of order) {
        const key = `${variant}/${method}`;
        const prev = byCell.get(key)?.at(-1)?.loop?.ms;
        const s = await runOnce(method, variant, n, rep === 0, baseline, Math.min(3000, Math.max(100, prev ?? (method === 'library' ? 4 : 6) * n)));
        (byCell.get(key) ?? byCell.set(key, []).get(key)!).push(s);
        log(`  N=${n} ${key.padEnd(19)} rep ${rep + 1}/${args.reps}: setup ${s.setup.toFixed(1)} ms, teardown ${s.teardown.toFixed(1)} ms` +
          (s.loop ? `; loop p99 ${s.loop.p99.toFixed(2)} max ${s.loop.max.toFixed(2)} ms (idle before p99 ${s.idleBefore!.p99.toFixed(2)} max ${s.idleBefore!.max.toFixed(2)}, after max ${s.idle!.max.toFixed(2)})` : ''));
      }
    }
    for (const { variant, method } of cells) {
      const samples = byCell.get(`${variant}/${method}`)!;
      results.push({ variant, n, method, samples, median: medianTimes(samples) });
    }
  }

  let ops: OpCost[] = [];
  let floor: FloorOps | undefined;
  if (args.ops) {
    log('single-operation costs ...');
    await settle(baseline);
    ops = await opCosts(PREFIX, nextTag, args.ipProcess, baseline);
    await settle(baseline);
    floor = await floorOps(PREFIX, nextTag(), 100);
  }

  log(`memory: ${args.mem} namespaces alive at once, then ${args.mem} pods in 5 rounds ...`);
  const memory = args.mem > 0 ? await memoryRuns(PREFIX, nextTag, args.mem, baseline) : undefined;

  const addon = native();
  const end = { rss: rssMiB(), fds: fdCount() };
  const report = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, kernel: release(), node: process.version, iproute2: execFileSync('ip', ['-V'], { encoding: 'utf8' }).trim() },
    args,
    workloads: results,
    singleOps: ops,
    floorOps: floor,
    memory,
    process: {
      start,
      afterWarmup: warm,
      end,
      addonThreads: addon.threadCount(),
      addonMaxThreads: addon.maxThreads(),
      processThreads: processThreads(),
    },
    seconds: (performance.now() - t0) / 1000,
  };
  const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `bench-${report.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2));
  console.log(formatTable(report));
  console.log(`\nJSON: ${file}  (${report.seconds.toFixed(0)} s)`);
}

function cleanup(): void {
  const n = removeAll(PREFIX);
  if (n > 0) log(`removed ${n} leftover namespaces`);
  const left = pinnedWithPrefix(PREFIX);
  if (left.length > 0) log(`WARNING: could not remove ${left.join(' ')}`);
}

/**
 * Ctrl-C or SIGTERM at any point leaves nothing. The sweep runs as a task of the library's namespace
 * lane (every namespace create/delete/pin goes through it, one at a time), so every create queued
 * before has finished and none queued after can start; and it runs synchronously from there to the
 * exit, so no JavaScript of the workload runs in between to spawn a process or queue a create. Child
 * processes (ip scripts, the C floor) are killed first, and waited for, in the same turn. Exit status
 * 128 + the signal's number, as a shell reports a process the signal killed. Tested in
 * test/integration/interrupt.test.ts.
 */
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    log(`\n${sig}: stopping child processes and removing every ${PREFIX}* namespace`);
    void namespaceLane.run(async () => {
      const children = killDescendantsSync();
      if (children > 0) log(`killed ${children} child processes`);
      cleanup();
      process.exit(128 + constants.signals[sig]);
    });
  });
}

try {
  await main();
} catch (e) {
  process.exitCode = 1;
  console.error(e);
} finally {
  // Handles are closed by the workloads; unpin whatever a failure left (an interrupted run is swept
  // by its signal handler, which then exits).
  if (!interrupted) cleanup();
}

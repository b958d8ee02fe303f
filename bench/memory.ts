/**
 * Memory for 1,000 namespaces, two ways:
 *  - alive at once: 1,000 named namespaces, each with its handle, its netlink connection, lo up and
 *    an address (what an agent holding 1,000 pods keeps open); RSS before, while alive, after;
 *  - one after another: the pod workload run 5 times with 200 pods (1,000 pods in all); RSS after
 *    each round, to see whether it keeps growing.
 * A forced GC precedes every reading, so JS garbage does not count as growth.
 */
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Netns } from '../lib/index.js';
import { fdCount, rssMiB, settle } from './util.js';
import { Plan, libraryRun } from './workloads.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

export interface MemorySample {
  rssMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  /** Anonymous memory of the process (malloc'd native memory + V8 heap + stacks). */
  anonMiB: number;
  fds: number;
}

export function memorySample(): MemorySample {
  gc();
  const m = process.memoryUsage();
  let anon = NaN;
  try {
    anon = Number(/Anonymous:\s+(\d+)/.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'))?.[1]) / 1024;
  } catch {
    // No smaps_rollup: leave NaN.
  }
  return { rssMiB: rssMiB(), heapUsedMiB: m.heapUsed / 1048576, heapTotalMiB: m.heapTotal / 1048576, anonMiB: anon, fds: fdCount() };
}

export interface MemoryReport {
  aliveAtOnce: { namespaces: number; before: MemorySample; alive: MemorySample; after: MemorySample; growthMiB: number; perNamespaceKiB: number; retainedMiB: number; ms: number };
  sequential: { pods: number; rounds: number; before: MemorySample; afterRound: MemorySample[]; growthMiB: number };
}

export async function memoryRuns(prefix: string, nextTag: () => string, count: number, baseline: number | undefined): Promise<MemoryReport> {
  await settle(baseline);
  // ---- alive at once ---------------------------------------------------------------------------
  const before = memorySample();
  const tag = nextTag();
  const handles: Netns[] = [];
  const t0 = performance.now();
  let alive: MemorySample;
  try {
    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const ns = await Netns.create(`${prefix}${tag}-n${i}`);
        handles.push(ns);
        await ns.links.setUp('lo');
        await ns.addresses.add('lo', `10.${(i >> 8) & 255}.${i & 255}.1/32`);
      }),
    );
    alive = memorySample();
  } finally {
    await Promise.all(handles.map((h) => h.delete()));
  }
  const ms = performance.now() - t0;
  const after = memorySample();

  // ---- one after another -----------------------------------------------------------------------
  const rounds = 5;
  const pods = Math.round(count / rounds);
  await settle(baseline);
  const seqBefore = memorySample();
  const afterRound: MemorySample[] = [];
  for (let r = 0; r < rounds; r++) {
    await libraryRun(new Plan(prefix, nextTag(), pods, 'fast'));
    afterRound.push(memorySample());
  }
  return {
    aliveAtOnce: {
      namespaces: count,
      before,
      alive,
      after,
      growthMiB: alive.rssMiB - before.rssMiB,
      perNamespaceKiB: ((alive.rssMiB - before.rssMiB) * 1024) / count,
      retainedMiB: after.rssMiB - before.rssMiB,
      ms,
    },
    sequential: { pods: pods * rounds, rounds, before: seqBefore, afterRound, growthMiB: afterRound[afterRound.length - 1].rssMiB - seqBefore.rssMiB },
  };
}

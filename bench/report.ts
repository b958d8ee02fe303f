/**
 * The printed summary of a bench run.
 */
import type { MemoryReport } from './memory.js';
import type { OpCost } from './single_ops.js';
import type { FloorOps } from './floor.js';
import { median, type LoopDelay, type ThreadCpu } from './util.js';
import type { PhaseTimes } from './workloads.js';

interface ReportShape {
  workloads: {
    variant: string;
    n: number;
    method: string;
    median: PhaseTimes;
    samples: { cpu?: ThreadCpu; loop?: LoopDelay; idleBefore?: LoopDelay; idle?: LoopDelay; rss?: { before: number; peak: number; after: number }; fds?: { before: number; peak: number; after: number } }[];
  }[];
  singleOps: OpCost[];
  floorOps?: FloorOps;
  memory?: MemoryReport;
  process: { start: { rss: number; fds: number }; afterWarmup: { rss: number; fds: number }; end: { rss: number; fds: number }; addonThreads: number; addonMaxThreads: number; processThreads: number };
}

const ms = (x: number | undefined) => (x === undefined ? '-' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const mib = (x: number) => x.toFixed(1);

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

/** lib/ip time ratio, with how many times faster the library is. */
function ratio(lib: number, other: number | undefined): string {
  if (other === undefined) return '-';
  return `${(lib / other).toFixed(3)} (${(other / lib).toFixed(1)}x)`;
}

/** A time as a multiple of the C floor's. */
function times(x: number | undefined, floor: number | undefined): string {
  if (x === undefined || floor === undefined || floor <= 0) return '-';
  return `${(x / floor).toFixed(2)}x`;
}

const worst = (xs: number[]) => Math.max(...xs);
const LIBRARY_METHODS = [
  ['library', 'all at once'],
  ['library-1by1', 'one by one'],
] as const;
const med = median;
/** Median over repetitions, and the worst in brackets. */
const medWorst = (xs: number[]) => `${ms(med(xs))} [${ms(worst(xs))}]`;

type Workload = ReportShape['workloads'][number];

/** The library's workloads present in the report, labelled as in the tables. */
function libraryWorkloads(keys: string[], get: (variant: string, n: number, method: string) => Workload | undefined): { label: string; lib: Workload }[] {
  const out: { label: string; lib: Workload }[] = [];
  for (const k of keys) {
    const [nStr, variant] = k.split('|');
    for (const [method, how] of LIBRARY_METHODS) {
      const lib = get(variant, Number(nStr), method);
      if (lib) out.push({ label: `${variant} N=${nStr} ${how}`, lib });
    }
  }
  return out;
}

export function formatTable(r: ReportShape): string {
  const out: string[] = [];
  const get = (variant: string, n: number, method: string) => r.workloads.find((w) => w.variant === variant && w.n === n && w.method === method);
  const keys = [...new Set(r.workloads.map((w) => `${w.n}|${w.variant}`))];

  out.push('\nAgainst the C floor (bench/floor.c: raw system calls, one netlink request at a time, same run) and the C pipeline');
  out.push('(the same program, many requests per sendmsg; fast only): median ms of setup + teardown, each as a multiple of the');
  out.push('floor; issue 10: one pod after another <= 1.25x the floor, all pods at once <= 1.10x the pipeline\n');
  const floorRows: string[][] = [];
  for (const k of keys) {
    const [nStr, variant] = k.split('|');
    const n = Number(nStr);
    const f = get(variant, n, 'c-floor')?.median.total;
    const pipe = get(variant, n, 'c-pipe')?.median.total;
    const all = get(variant, n, 'library')?.median.total;
    const cell = (method: string) => {
      const t = get(variant, n, method)?.median.total;
      return t === undefined ? '-' : `${ms(t)} (${times(t, f)})`;
    };
    floorRows.push([
      `${variant} N=${n}`,
      f === undefined ? '-' : ms(f),
      cell('c-pipe'),
      cell('library-1by1'),
      cell('library'),
      times(all, pipe),
      cell('ip-batch'),
      cell('ip-process'),
    ]);
  }
  out.push(table(['workload', 'C floor', 'C pipeline', 'library one pod after another', 'library all pods at once', 'all at once / pipeline', 'ip -batch', 'ip per process'], floorRows));

  out.push('\nPod setup + teardown (median ms; ratio = library time / ip time, (Nx) = library is N times faster)\n');
  const rows: string[][] = [];
  for (const k of keys) {
    const [nStr, variant] = k.split('|');
    const n = Number(nStr);
    const lib = get(variant, n, 'library');
    const batch = get(variant, n, 'ip-batch');
    const proc = get(variant, n, 'ip-process');
    if (!lib) continue;
    rows.push([
      `${variant} N=${n}`,
      `${ms(lib.median.setup)} + ${ms(lib.median.teardown)} = ${ms(lib.median.total)}`,
      batch ? ms(batch.median.total) : '-',
      proc ? ms(proc.median.total) : '-',
      ratio(lib.median.total, batch?.median.total),
      ratio(lib.median.total, proc?.median.total),
      ratio(lib.median.setup, batch?.median.setup),
      ratio(lib.median.setup, proc?.median.setup),
    ]);
  }
  out.push(table(['workload', 'library setup+teardown', 'ip -batch', 'ip/process', 'lib/ip-batch', 'lib/ip-process', 'setup lib/batch', 'setup lib/process'], rows));

  out.push('\nWhere the library\'s time goes (median CPU ms during the run, by thread; wall = setup + teardown)\n');
  const cpuRows: string[][] = [];
  for (const k of keys) {
    const [nStr, variant] = k.split('|');
    for (const [method, how] of LIBRARY_METHODS) {
      const lib = get(variant, Number(nStr), method);
      if (!lib || !lib.samples[0]?.cpu) continue;
      const c = (f: keyof ThreadCpu) => ms(med(lib.samples.map((s) => s.cpu![f])));
      cpuRows.push([`${variant} N=${nStr} ${how}`, ms(lib.median.total), c('js'), c('workers'), c('io'), c('other')]);
    }
  }
  out.push(table(['workload', 'wall', 'JS thread', 'addon workers (kernel)', 'addon I/O thread', 'V8/libuv threads'], cpuRows));

  out.push('\nEvent-loop delay during the library runs (ms, perf_hooks, 1 ms timer: an undisturbed loop reads ~1.0)');
  out.push('median over repetitions [worst]; idle = the same process doing nothing for as long, before the run (after the previous');
  out.push("run's namespaces are gone) and after it (while the kernel destroys this run's); over idle = run minus idle before, per");
  out.push('repetition (issue 10 target, all pods at once: p99 <= 2, max <= 5)\n');
  const loopRows: string[][] = [];
  for (const { label, lib } of libraryWorkloads(keys, get)) {
    const S = lib.samples.filter((s) => s.loop && s.idle);
    // Older result files have no idle-before sample: their deltas are against the idle after.
    const base = (s: (typeof S)[number]) => s.idleBefore ?? s.idle!;
    loopRows.push([
      label,
      medWorst(S.map((s) => s.loop!.p50)),
      medWorst(S.map((s) => s.loop!.p99)),
      medWorst(S.map((s) => s.loop!.max)),
      `${ms(med(S.map((s) => base(s).p99)))} / ${ms(med(S.map((s) => base(s).max)))}`,
      `${ms(med(S.map((s) => s.idle!.p99)))} / ${ms(med(S.map((s) => s.idle!.max)))}`,
      medWorst(S.map((s) => s.loop!.p99 - base(s).p99)),
      medWorst(S.map((s) => s.loop!.max - base(s).max)),
    ]);
  }
  out.push(table(['workload', 'p50', 'p99', 'max', 'idle before p99 / max', 'idle after p99 / max', 'p99 over idle', 'max over idle'], loopRows));

  out.push('\nWhat held the loop during those runs (median over repetitions [worst]): V8 garbage-collection pauses, and the JS');
  out.push("thread's time on a CPU and runnable but waiting for one (other threads had both CPUs), from /proc/thread-self/schedstat\n");
  const heldRows: string[][] = [];
  for (const { label, lib } of libraryWorkloads(keys, get)) {
    const L = lib.samples.map((s) => s.loop).filter((d): d is LoopDelay => d?.gc !== undefined);
    if (L.length === 0) continue;
    heldRows.push([
      label,
      ms(med(L.map((d) => d.ms))),
      `${med(L.map((d) => d.gc!.count))} [${worst(L.map((d) => d.gc!.count))}]`,
      medWorst(L.map((d) => d.gc!.totalMs)),
      medWorst(L.map((d) => d.gc!.maxMs)),
      L[0].jsCpuMs === undefined ? '-' : medWorst(L.map((d) => d.jsCpuMs!)),
      L[0].jsRunqueueMs === undefined ? '-' : medWorst(L.map((d) => d.jsRunqueueMs!)),
    ]);
  }
  out.push(table(['workload', 'wall', 'GC pauses', 'GC ms', 'longest GC', 'JS thread on CPU', 'JS thread waiting for a CPU'], heldRows));

  out.push('\nMemory and fds during the library runs (MiB / count: before -> peak -> after, median)\n');
  const memRows: string[][] = [];
  for (const k of keys) {
    const [nStr, variant] = k.split('|');
    const lib = get(variant, Number(nStr), 'library');
    if (!lib) continue;
    const S = lib.samples;
    memRows.push([
      `${variant} N=${nStr}`,
      `${mib(med(S.map((s) => s.rss!.before)))} -> ${mib(med(S.map((s) => s.rss!.peak)))} -> ${mib(med(S.map((s) => s.rss!.after)))}`,
      `${med(S.map((s) => s.fds!.before))} -> ${med(S.map((s) => s.fds!.peak))} -> ${med(S.map((s) => s.fds!.after))}`,
    ]);
  }
  out.push(table(['workload', 'RSS MiB', 'open fds'], memRows));
  if (r.memory) {
    const a = r.memory.aliveAtOnce;
    const q = r.memory.sequential;
    out.push(
      `\n${a.namespaces} namespaces alive at once (each: handle, netlink connection, lo up, an address; ${ms(a.ms)} ms in all), after a forced GC:` +
        `\n  RSS ${mib(a.before.rssMiB)} -> ${mib(a.alive.rssMiB)} MiB while alive (+${mib(a.growthMiB)} MiB, ${a.perNamespaceKiB.toFixed(1)} KiB per namespace;` +
        ` JS heap used ${mib(a.before.heapUsedMiB)} -> ${mib(a.alive.heapUsedMiB)}) -> ${mib(a.after.rssMiB)} MiB after deleting them (+${mib(a.retainedMiB)} retained)` +
        `\n  fds ${a.before.fds} -> ${a.alive.fds} -> ${a.after.fds}` +
        `\n${q.pods} pods one round of ${q.pods / q.rounds} after another: RSS ${mib(q.before.rssMiB)} -> ${q.afterRound.map((x) => mib(x.rssMiB)).join(' -> ')} MiB (+${mib(q.growthMiB)})`,
    );
  }
  const p = r.process;
  out.push(
    `\nProcess: RSS ${mib(p.start.rss)} MiB at start, ${mib(p.afterWarmup.rss)} after warm-up, ${mib(p.end.rss)} at end; ` +
      `fds ${p.start.fds} / ${p.afterWarmup.fds} / ${p.end.fds}; addon threads ${p.addonThreads} (max ${p.addonMaxThreads}); process threads ${p.processThreads}`,
  );

  if (r.singleOps.length === 0) return out.join('\n');
  const fo = r.floorOps;
  const floorOf: Record<string, number | undefined> = {
    'namespace create+pin': fo?.netnsCreateMs,
    'namespace delete': fo?.netnsDeleteMs,
    'veth create': fo?.vethCreateMs,
    'address add': fo?.addrAddMs,
  };
  out.push('\nSingle operations (ms per operation; C floor: median of 100, one at a time; (Nx) = multiple of the floor)\n');
  out.push(
    table(
      ['operation', 'C floor', 'library, one at a time (median / p90)', `library, ${r.singleOps[0]?.k ?? ''} at once`, 'ip/process', 'ip -batch'],
      r.singleOps.map((o) => {
        const f = floorOf[o.op];
        const cell = (x: number | undefined) => (x === undefined ? '-' : `${ms(x)} (${times(x, f)})`);
        return [
          o.op,
          f === undefined ? '-' : ms(f),
          `${ms(o.library.sequentialMedianMs)} (${times(o.library.sequentialMedianMs, f)}) / ${ms(o.library.sequentialP90Ms)}`,
          cell(o.library.concurrentPerOpMs),
          cell(o.ipProcessPerOpMs),
          cell(o.ipBatchPerOpMs),
        ];
      }),
    ),
  );
  return out.join('\n');
}

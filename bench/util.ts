/**
 * Measuring plumbing for the benchmark: medians, event-loop delay, RSS and fd samples, running
 * generated `ip` scripts, waiting for the kernel to finish tearing namespaces down, and removing
 * everything the run created.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readdir, readdirSync, readFileSync } from 'node:fs';
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Open fds of this process. */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Resident set size in MiB. */
export function rssMiB(): number {
  return process.memoryUsage.rss() / (1024 * 1024);
}

/**
 * CPU time (user + system, ms) used so far by this process's threads, grouped: the JS thread
 * (`js`), the addon's workers (`workers`: their time is almost all kernel time inside sendmsg,
 * unshare, mount...), its I/O thread (`io`), and everything else (`other`: V8's GC and compiler
 * threads, libuv's pool).
 */
export interface ThreadCpu {
  js: number;
  workers: number;
  io: number;
  other: number;
}

const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux

export function threadCpu(): ThreadCpu {
  const out: ThreadCpu = { js: 0, workers: 0, io: 0, other: 0 };
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
      const comm = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      if (Number(tid) === process.pid) out.js += ms;
      else if (comm === 'netns-worker') out.workers += ms;
      else if (comm === 'netns-io') out.io += ms;
      else out.other += ms;
    } catch {
      // The thread exited meanwhile.
    }
  }
  return out;
}

export function cpuDelta(a: ThreadCpu, b: ThreadCpu): ThreadCpu {
  return { js: b.js - a.js, workers: b.workers - a.workers, io: b.io - a.io, other: b.other - a.other };
}

/** Threads of this process (all of them: V8, libuv pool, the addon's). */
export function processThreads(): number {
  return readdirSync('/proc/self/task').length;
}

/** Event-loop delay of a span, in ms, as perf_hooks reports it (with a 1 ms timer: values include that 1 ms). */
export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
  ms: number;
  /**
   * What kept the loop from its timer, for the span: V8's garbage-collection pauses (count, total
   * and longest, ms), and the JS thread's time on a CPU and waiting for one (runnable but not
   * running: other threads had the CPUs), from /proc/thread-self/schedstat.
   */
  gc?: { count: number; totalMs: number; maxMs: number };
  jsCpuMs?: number;
  jsRunqueueMs?: number;
}

/** The JS thread's [ns on a CPU, ns runnable waiting for one] (the first two fields of schedstat). */
function schedstat(): [number, number] | undefined {
  try {
    const f = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ');
    return [Number(f[0]), Number(f[1])];
  } catch {
    return undefined;
  }
}

/**
 * Run `fn` with the event-loop delay monitor on (1 ms resolution). Nothing may block the loop on
 * purpose meanwhile: perf_hooks cannot pause (after disable/enable the first sample spans the gap).
 */
export async function withLoopDelay<T>(fn: () => Promise<T>): Promise<{ value: T; delay: LoopDelay }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  const pauses: number[] = [];
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (e.startTime >= t0 && e.startTime <= t1) pauses.push(e.duration);
  });
  gc.observe({ entryTypes: ['gc'] });
  const t0 = performance.now();
  let t1 = Infinity;
  const s0 = schedstat();
  h.enable();
  try {
    const value = await fn();
    h.disable();
    t1 = performance.now();
    const s1 = schedstat();
    // GC entries are delivered to observers a turn later.
    await new Promise((r) => setImmediate(r));
    const delay: LoopDelay = {
      p50: h.percentile(50) / 1e6,
      p99: h.percentile(99) / 1e6,
      max: h.max / 1e6,
      ms: t1 - t0,
      gc: { count: pauses.length, totalMs: pauses.reduce((a, b) => a + b, 0), maxMs: Math.max(0, ...pauses) },
    };
    if (s0 && s1) {
      delay.jsCpuMs = (s1[0] - s0[0]) / 1e6;
      delay.jsRunqueueMs = (s1[1] - s0[1]) / 1e6;
    }
    return { value, delay };
  } finally {
    h.disable();
    gc.disconnect();
  }
}

/** The event-loop delay of this process doing nothing for `ms`. */
export async function idleLoopDelay(ms: number): Promise<LoopDelay> {
  return (await withLoopDelay(() => new Promise<void>((r) => setTimeout(r, ms)))).delay;
}

/**
 * Samples RSS and fd count every few ms, keeping the peaks, without blocking the event loop it runs
 * beside: the fds are counted by an asynchronous readdir of /proc/self/fd (on libuv's pool; at most
 * one in flight). A synchronous readdir of the ~430 fds of a 200-pod run took 0.4-1.6 ms of the JS
 * thread every sample, inside the run whose event-loop delay is being measured
 * (docs/performance.md, "Event loop during a burst").
 */
export class PeakSampler {
  peakRss = 0;
  peakFds = 0;
  private timer: NodeJS.Timeout | undefined;
  private counting = false;

  start(everyMs = 5): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  sample(): void {
    this.peakRss = Math.max(this.peakRss, rssMiB());
    if (this.counting) return;
    this.counting = true;
    readdir('/proc/self/fd', (err, names) => {
      this.counting = false;
      if (!err) this.peakFds = Math.max(this.peakFds, names.length);
    });
  }

  /** Stop sampling; the last sample is synchronous (the run is over). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.peakRss = Math.max(this.peakRss, rssMiB());
    this.peakFds = Math.max(this.peakFds, fdCount());
  }
}

/** Run a command; resolve with its wall-clock time in ms, reject with its stderr. */
export function timedExec(cmd: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (err, _stdout, stderr) => {
      const ms = performance.now() - t0;
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr.trim().split('\n').slice(-3).join(' | ') || err.message}`));
      else resolve(ms);
    });
  });
}

/** Active `net_namespace` objects in the slab: namespaces the kernel has not finished destroying count too. */
export function liveNetNamespaces(): number | undefined {
  try {
    const line = readFileSync('/proc/slabinfo', 'utf8').split('\n').find((l) => l.startsWith('net_namespace '));
    return line ? Number(line.split(/\s+/)[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Deleting a namespace only unpins it; the kernel destroys it later on a workqueue (cleanup_net,
 * under the same locks namespace creation takes). Before a timed run, wait until that backlog is
 * gone, so no workload pays for the previous one's teardown: until the count of live namespaces is
 * back to `baseline` or stops falling. Returns the ms waited.
 */
export async function settle(baseline: number | undefined, maxMs = 8000): Promise<number> {
  const t0 = performance.now();
  if (baseline === undefined) {
    await sleep(300);
    return performance.now() - t0;
  }
  let last = liveNetNamespaces() ?? 0;
  let stableSince = performance.now();
  while (performance.now() - t0 < maxMs) {
    const n = liveNetNamespaces() ?? 0;
    if (n <= baseline) break;
    if (n < last) stableSince = performance.now();
    else if (performance.now() - stableSince > 400) break; // other processes' namespaces: not ours to wait for
    last = n;
    await sleep(25);
  }
  return performance.now() - t0;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Names under /run/netns starting with `prefix`. */
export function pinnedWithPrefix(prefix: string): string[] {
  try {
    return readdirSync('/run/netns').filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
}

/** Delete every namespace pinned under `prefix`, with `ip` (independent of the code under test). */
export function removeAll(prefix: string): number {
  const left = pinnedWithPrefix(prefix);
  for (const n of left) {
    try {
      execFileSync('ip', ['netns', 'delete', n], { stdio: 'ignore' });
    } catch {
      // Gone meanwhile.
    }
  }
  return left.length;
}

/** Sleep on the JS thread itself: nothing else of the process's JavaScript runs meanwhile. */
function blockFor(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** PIDs of every descendant of `pid` (children, their children, ...), from /proc/PID/stat. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Exited meanwhile.
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, pp] of parent) if (pp === p) { out.push(child); walk(child); }
  };
  walk(pid);
  return out;
}

/** Whether `pid` has exited (gone, or a zombie its parent has not reaped yet). */
function exited(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] === 'Z';
  } catch {
    return true;
  }
}

/**
 * SIGKILL every descendant process (the ip scripts, the C floor) and wait, blocking, until each has
 * exited, so none creates a namespace after the caller's sweep. Returns how many there were.
 */
export function killDescendantsSync(timeoutMs = 5000): number {
  const pids = descendants(process.pid);
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  const t0 = performance.now();
  while (pids.some((p) => !exited(p)) && performance.now() - t0 < timeoutMs) blockFor(5);
  return pids.length;
}

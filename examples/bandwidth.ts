/**
 * The tutorial's "Bandwidth Limiting" without iperf3: a TCP bulk transfer between two namespaces
 * through sockets the library opens inside them (ns.createServer in the receiver, ns.connect in the
 * sender), measured at the receiver over a steady window, so TCP's start and the bucket's initial
 * burst are not counted. Shared by `npm run demo` and test/integration/tc_bandwidth.test.ts.
 * @module
 */
import { performance } from 'node:perf_hooks';
import type { Socket } from 'node:net';
import type { Netns } from '../lib/index.js';
import type { Report } from './report.js';
import { LIMITED_HOST_END, limited, type Lab } from './topologies.js';

/** What one transfer measured. */
export interface Throughput {
  /** Payload bits per second received during the window. */
  bitsPerSecond: number;
  /** Payload bytes received during the window, and its length. */
  bytes: number;
  seconds: number;
  /** Bytes received in all (window or not). */
  total: number;
}

/** Options of {@link measureThroughput}. */
export interface MeasureOptions {
  /** Port the receiver listens on. */
  port?: number;
  /** Time before the window starts (TCP slow start, the bucket's burst), in ms. */
  warmupMs?: number;
  /** Length of the window, in ms. */
  windowMs?: number;
}

const CHUNK = Buffer.alloc(64 * 1024, 0x5a);

/**
 * Send as fast as TCP allows from `sender` to `host` (an address `receiver` holds) and measure what
 * arrives: the byte count is sampled with its time on every read, and the rate is the least-squares
 * slope of bytes over time inside the window. Sender and receiver share this process's event loop,
 * so a read can come late after the loop was busy; a slope over every sample absorbs such a delay,
 * where the first and last samples alone would turn it into an error of several percent.
 */
export async function measureThroughput(sender: Netns, receiver: Netns, host: string, opts: MeasureOptions = {}): Promise<Throughput> {
  const port = opts.port ?? 5201;
  const warmup = opts.warmupMs ?? 500;
  const windowMs = opts.windowMs ?? 2000;
  const samples: Array<[number, number]> = [];
  let total = 0;
  let start = 0;
  let peer: Socket | undefined;
  const server = await receiver.createServer({ port, host }, (s) => {
    peer = s;
    s.on('data', (d: Buffer) => {
      total += d.length;
      samples.push([performance.now(), total]);
    });
    s.on('error', () => undefined);
  });
  const client = await sender.connect({ host, port });
  client.on('error', () => undefined);
  start = performance.now();
  const until = start + warmup + windowMs + 100;
  try {
    while (performance.now() < until) {
      if (!client.write(CHUNK)) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.max(1, until - performance.now()));
          client.once('drain', () => { clearTimeout(t); resolve(); });
        });
      } else {
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  } finally {
    client.destroy();
    peer?.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  const inWindow = samples.filter(([t]) => t >= start + warmup && t <= start + warmup + windowMs);
  if (inWindow.length < 2) throw new Error(`only ${inWindow.length} reads during the ${windowMs} ms window (${total} bytes in all)`);
  const [t0, b0] = inWindow[0];
  const [t1, b1] = inWindow[inWindow.length - 1];
  return { bitsPerSecond: slope(inWindow) * 8 * 1000, bytes: b1 - b0, seconds: (t1 - t0) / 1000, total };
}

/** Least-squares slope of y over x (bytes per millisecond here). */
function slope(points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) * (x - mx);
  }
  return num / den;
}

/** `9.57 Mbit/s` */
export function formatRate(bps: number): string {
  return bps >= 1e9 ? `${(bps / 1e9).toFixed(2)} Gbit/s` : `${(bps / 1e6).toFixed(2)} Mbit/s`;
}

/** What the demo's bandwidth section checks: the tutorial's ±15 % around 10 Mbit/s, and unshaped at least 5x faster. */
const TARGET_BPS = 10e6;

/**
 * The tutorial's "Bandwidth Limiting" in the demo: its limited topology in `lab`, a TCP transfer
 * measured without a qdisc, with the tutorial's tbf on veth-limited (ns.tc), and with the host end's
 * ingress shaped through an ifb (ns.tc.shape), each step timed in `report`; the qdiscs are removed again.
 */
export async function demoBandwidth(lab: Lab, report: Report): Promise<void> {
  await limited.build(lab);
  const [host, lim] = [lab.ns('host'), lab.ns('limited')];
  const transfer = (from: Netns, to: Netns, addr: string) => measureThroughput(from, to, addr);
  const unshaped = await report.timed('TCP limited -> host (10.0.3.1), no qdisc', () => measureThroughput(lim, host, '10.0.3.1', { warmupMs: 300, windowMs: 1000 }), (r) => ({
    result: `${formatRate(r.bitsPerSecond)} over ${r.seconds.toFixed(2)} s`, ok: r.bitsPerSecond >= 5 * TARGET_BPS,
  }));
  const judge = (r: Throughput) => {
    const ok = Math.abs(r.bitsPerSecond - TARGET_BPS) <= 0.15 * TARGET_BPS && unshaped.bitsPerSecond >= 5 * r.bitsPerSecond;
    return { result: `${formatRate(r.bitsPerSecond)} over ${r.seconds.toFixed(2)} s (${(unshaped.bitsPerSecond / r.bitsPerSecond).toFixed(0)}x slower than unshaped)${ok ? '' : ': outside 10 Mbit/s ± 15 %'}`, ok };
  };
  await report.timed('ip netns exec limited tc qdisc add dev veth-limited root tbf rate 10mbit burst 32kbit latency 400ms', () =>
    lim.tc.qdiscs.add('veth-limited', { kind: 'tbf', rate: '10mbit', burst: '32kbit', latency: '400ms' }));
  await report.timed('TCP limited -> host through the tbf', () => transfer(lim, host, '10.0.3.1'), judge);
  await report.timed('ip netns exec limited tc -s qdisc show dev veth-limited', async () => (await lim.tc.qdiscs.list('veth-limited'))[0], (q) => ({
    result: `${q.kind} rate ${formatRate((q.options as { rate: number }).rate * 8)}: sent ${q.stats?.bytes} bytes ${q.stats?.packets} pkt, overlimits ${q.stats?.overlimits}, dropped ${q.stats?.drops}`, ok: q.kind === 'tbf',
  }));
  await report.timed('ip netns exec limited tc qdisc del dev veth-limited root', () => lim.tc.qdiscs.delete('veth-limited'));
  await report.timed(`ingress of ${LIMITED_HOST_END} to 10mbit: ns.tc.shape (ifb + ingress qdisc + u32/mirred redirect + tbf)`, () =>
    host.tc.shape(LIMITED_HOST_END, { ingress: '10mbit' }), (s) => ({ result: `through ${s.ingress?.ifb}`, ok: true }));
  await report.timed('TCP limited -> host, shaped where the host receives it', () => transfer(lim, host, '10.0.3.1'), judge);
  await report.timed(`ns.tc.clear(${LIMITED_HOST_END})`, () => host.tc.clear(LIMITED_HOST_END));
}

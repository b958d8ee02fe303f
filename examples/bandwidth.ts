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

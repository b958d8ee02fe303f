/**
 * Cost of single operations: namespace create+pin, namespace delete, veth create, address add.
 *
 * For each: the library one operation at a time (median latency of K awaited calls), the library
 * with K calls in flight at once (wall-clock / K), `ip` one process per operation (a `sh` script of K
 * commands, wall-clock / K) and `ip -batch` (K lines, wall-clock / K).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns } from '../lib/index.js';
import { median, settle, timedExec } from './util.js';

export interface OpCost {
  op: string;
  k: number;
  library: { sequentialMedianMs: number; sequentialP90Ms: number; concurrentPerOpMs: number };
  ipProcessPerOpMs?: number;
  ipBatchPerOpMs: number;
}

const K = 100;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function p90(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.9))];
}

async function timeEach(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}

async function timeAll(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await Promise.all(range(n).map(fn));
  return (performance.now() - t) / n;
}

class Scripts {
  readonly dir = mkdtempSync(join(tmpdir(), 'netns-bench-ops-'));
  private n = 0;
  /** Per-op ms of running `lines` one `ip` process each. */
  async perProcess(lines: string[]): Promise<number> {
    const f = join(this.dir, `s${this.n++}.sh`);
    writeFileSync(f, lines.map((l) => `ip ${l}`).join('\n') + '\n');
    return (await timedExec('sh', ['-e', f])) / lines.length;
  }
  /** Per-op ms of running `lines` in one `ip [-n ns] -batch`. */
  async batch(lines: string[], ns?: string): Promise<number> {
    const f = join(this.dir, `b${this.n++}.batch`);
    writeFileSync(f, lines.join('\n') + '\n');
    return (await timedExec('ip', [...(ns ? ['-n', ns] : []), '-batch', f])) / lines.length;
  }
  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function opCosts(prefix: string, nextTag: () => string, ipProcess: boolean, baseline: number | undefined): Promise<OpCost[]> {
  const sh = new Scripts();
  const scratch: Netns[] = [];
  const newScratch = async () => {
    const s = await Netns.create(`${prefix}${nextTag()}-s`);
    scratch.push(s);
    return s;
  };
  try {
    // ---- namespaces ------------------------------------------------------------------------------
    const names = () => {
      const tag = nextTag();
      return range(K).map((i) => `${prefix}${tag}-c${i}`);
    };
    await settle(baseline);
    let ns = names();
    const handles: Netns[] = [];
    const seqCreate = await timeEach(K, async (i) => handles.push(await Netns.create(ns[i])));
    const seqDelete = await timeEach(K, (i) => handles[i].delete());
    await settle(baseline);
    ns = names();
    let hs: Netns[] = [];
    const concCreate = await timeAll(K, async (i) => { hs[i] = await Netns.create(ns[i]); });
    const concDelete = await timeAll(K, (i) => hs[i].delete());
    hs = [];
    let procCreate: number | undefined;
    let procDelete: number | undefined;
    if (ipProcess) {
      await settle(baseline);
      ns = names();
      procCreate = await sh.perProcess(ns.map((n) => `netns add ${n}`));
      procDelete = await sh.perProcess(ns.map((n) => `netns del ${n}`));
    }
    await settle(baseline);
    ns = names();
    const batchCreate = await sh.batch(ns.map((n) => `netns add ${n}`));
    const batchDelete = await sh.batch(ns.map((n) => `netns del ${n}`));

    // ---- veth create -----------------------------------------------------------------------------
    await settle(baseline);
    const veth = (s: Netns) => (i: number) => s.links.add({ kind: 'veth', name: `a${i}`, peer: { name: `b${i}` } });
    const seqVeth = await timeEach(K, veth(await newScratch()));
    const concVeth = await timeAll(K, veth(await newScratch()));
    const vethLines = range(K).map((i) => `link add a${i} type veth peer name b${i}`);
    let procVeth: number | undefined;
    if (ipProcess) {
      const procScratch = await newScratch();
      procVeth = await sh.perProcess(vethLines.map((l) => `-n ${procScratch.name} ${l}`));
    }
    const batchScratch = await newScratch();
    const batchVeth = await sh.batch(vethLines, batchScratch.name);

    // ---- address add -----------------------------------------------------------------------------
    const s = await newScratch();
    for (const d of ['d0', 'd1', 'd2', 'd3']) await s.links.add({ kind: 'bridge', name: d }); // this kernel has no dummy module
    const addr = (net: number, i: number) => `10.${net}.${i >> 8}.${i & 255}/32`;
    const seqAddr = await timeEach(K, (i) => s.addresses.add('d0', addr(50, i)));
    const concAddr = await timeAll(K, (i) => s.addresses.add('d1', addr(51, i)));
    const procAddr = ipProcess ? await sh.perProcess(range(K).map((i) => `-n ${s.name} addr add ${addr(52, i)} dev d2`)) : undefined;
    const batchAddr = await sh.batch(range(K).map((i) => `addr add ${addr(53, i)} dev d3`), s.name);

    const cost = (op: string, seq: number[], conc: number, proc: number | undefined, batch: number): OpCost => ({
      op,
      k: K,
      library: { sequentialMedianMs: median(seq), sequentialP90Ms: p90(seq), concurrentPerOpMs: conc },
      ...(proc === undefined ? {} : { ipProcessPerOpMs: proc }),
      ipBatchPerOpMs: batch,
    });
    return [
      cost('namespace create+pin', seqCreate, concCreate, procCreate, batchCreate),
      cost('namespace delete', seqDelete, concDelete, procDelete, batchDelete),
      cost('veth create', seqVeth, concVeth, procVeth, batchVeth),
      cost('address add', seqAddr, concAddr, procAddr, batchAddr),
    ];
  } finally {
    sh.dispose();
    for (const s of scratch) await s.delete({ ifExists: true }).catch(() => undefined);
  }
}

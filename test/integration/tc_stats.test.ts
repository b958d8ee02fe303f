/**
 * Statistics read through the library equal `tc -s`: read the library, then tc, then the library
 * again, and tc's counters must lie between the two reads (only packets sent in between can make
 * them differ), for a qdisc, an htb class (with its xstats) and a mirred action.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, LIMITED_HOST_END, limited } from '../../examples/topologies.js';
import { measureThroughput } from '../../examples/bandwidth.js';
import type { TcStats } from '../../lib/api/tc/index.js';
import type { Tc } from '../../lib/api/tc/index.js';
import { nsName } from './helpers.js';
import { tc } from './tc_helpers.js';

const lab = new Lab((role) => nsName(role));
beforeAll(() => limited.build(lab));
afterAll(() => lab.teardown());
const limTc = (): Tc => lab.ns('limited').tc;
const hostTc = (): Tc => lab.ns('host').tc;

const traffic = () => measureThroughput(lab.ns('limited'), lab.ns('host'), '10.0.3.1', { warmupMs: 100, windowMs: 400 });

type Counters = { bytes: number; packets: number; drops: number; overlimits: number; requeues: number };
const counters = (s: TcStats): Counters => ({ bytes: Number(s.bytes), packets: Number(s.packets), drops: s.drops, overlimits: s.overlimits, requeues: s.requeues });

function between(before: Counters, oracle: Counters, after: Counters): void {
  for (const k of Object.keys(before) as Array<keyof Counters>) {
    expect(oracle[k], k).toBeGreaterThanOrEqual(before[k]);
    expect(oracle[k], k).toBeLessThanOrEqual(after[k]);
  }
}

/** `Sent N bytes M pkt (dropped D, overlimits O requeues R)` of the block that starts with `head`. */
function textCounters(text: string, head: string): Counters {
  const block = text.slice(text.indexOf(head));
  const m = /Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits (\d+) requeues (\d+)\)/.exec(block);
  if (!m) throw new Error(`no counters after ${head} in:\n${text}`);
  return { bytes: +m[1], packets: +m[2], drops: +m[3], overlimits: +m[4], requeues: +m[5] };
}

describe('statistics equal tc -s', () => {
  it("the tutorial's tbf: bytes, packets, drops, overlimits, requeues, backlog, qlen", async () => {
    await limTc().qdiscs.add('veth-limited', { kind: 'tbf', rate: '10mbit', burst: '32kbit', latency: '400ms' });
    await traffic();
    const ns = lab.name('limited');
    const before = (await limTc().qdiscs.list('veth-limited')).find((q) => q.kind === 'tbf')!;
    const [j] = JSON.parse(tc(ns, '-j', '-s', 'qdisc', 'show', 'dev', 'veth-limited'));
    const after = (await limTc().qdiscs.list('veth-limited')).find((q) => q.kind === 'tbf')!;
    expect(Number(before.stats!.packets)).toBeGreaterThan(100);
    expect(before.stats!.overlimits).toBeGreaterThan(0);
    between(counters(before.stats!), j, counters(after.stats!));
    expect(typeof before.stats!.backlog).toBe('number');
    await limTc().qdiscs.delete('veth-limited');
  });

  it('an htb class fed by a u32 filter, with its lends/borrows/tokens', async () => {
    await limTc().qdiscs.add('veth-limited', { kind: 'htb', handle: '1:' });
    await limTc().classes.add('veth-limited', { kind: 'htb', classid: '1:10', rate: '20mbit' });
    await limTc().filters.add('veth-limited', { kind: 'u32', parent: '1:', protocol: 'ip', prio: 1, match: { ip: { dst: '10.0.3.1/32' } }, classid: '1:10' });
    await traffic();
    const ns = lab.name('limited');
    const get = async () => (await limTc().classes.list('veth-limited')).find((c) => c.classid === '1:10')!;
    const before = await get();
    const text = tc(ns, '-s', 'class', 'show', 'dev', 'veth-limited');
    const after = await get();
    expect(Number(before.stats!.packets)).toBeGreaterThan(100);
    between(counters(before.stats!), textCounters(text, 'class htb 1:10'), counters(after.stats!));
    expect(before.xstats).toBeDefined();
    const lent = /lended: (\d+) borrowed: (\d+)/.exec(text.slice(text.indexOf('class htb 1:10')))!;
    expect(+lent[1]).toBeGreaterThanOrEqual(before.xstats!.lends);
    expect(+lent[1]).toBeLessThanOrEqual(after.xstats!.lends);
    expect(+lent[2]).toBeGreaterThanOrEqual(before.xstats!.borrows);
    expect(+lent[2]).toBeLessThanOrEqual(after.xstats!.borrows);
    await limTc().qdiscs.delete('veth-limited');
  });

  it('the mirred action of the ingress recipe counts what it redirected', async () => {
    const made = await hostTc().shape(LIMITED_HOST_END, { ingress: '50mbit' });
    await traffic();
    const host = lab.name('host');
    const action = async () => (await hostTc().filters.list(LIMITED_HOST_END, 'ffff:')).flatMap((f) => f.options?.actions ?? [])[0];
    const before = await action();
    const j = (JSON.parse(tc(host, '-j', '-s', 'filter', 'show', 'dev', LIMITED_HOST_END, 'parent', 'ffff:')) as any[])
      .flatMap((f) => f.options?.actions ?? [])[0];
    const after = await action();
    expect(before.mirred?.ifindex).toBe(await lab.ns('host').links.index(made.ingress!.ifb));
    expect(Number(before.stats!.packets)).toBeGreaterThan(100);
    between(counters(before.stats!), { bytes: j.stats.bytes, packets: j.stats.packets, drops: j.stats.drops, overlimits: j.stats.overlimits, requeues: j.stats.requeues }, counters(after.stats!));
    await hostTc().clear(LIMITED_HOST_END);
  });
});

/**
 * Traffic control through the library against the kernel, with `tc` as the oracle: the state the
 * library builds equals what the same `tc` commands build in another namespace (normalized
 * `tc -s -d` output), statistics equal `tc -j -s`, and bad input is refused before any request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetlinkError, ValidationError } from '../../lib/errors.js';
import { Netns } from '../../lib/api/netns/index.js';
import type { Tc } from '../../lib/api/tc/index.js';
import { nsName, run } from './helpers.js';
import { tc, tcJson, tcText } from './tc_helpers.js';

let lib: Netns;
let ref: Netns;
let t: Tc;

/** Same devices in both namespaces: a veth pair v0/v1 and an ifb i0. */
async function devices(ns: Netns): Promise<void> {
  await ns.links.add({ kind: 'veth', name: 'v0', up: true, peer: { name: 'v1', up: true } });
  await ns.links.add({ kind: 'ifb', name: 'i0', up: true });
  await ns.links.setUp('lo');
}

beforeAll(async () => {
  lib = await Netns.create(nsName('tclib'));
  ref = await Netns.create(nsName('tcref'));
  await Promise.all([devices(lib), devices(ref)]);
  t = lib.tc;
});

afterAll(async () => {
  await lib?.delete().catch(() => undefined);
  await ref?.delete().catch(() => undefined);
});

describe('equivalence with tc commands (normalized tc -s -d output, stats excluded)', () => {
  it("the tutorial's tbf: rate 10mbit burst 32kbit latency 400ms", async () => {
    const q = await t.qdiscs.add('v0', { kind: 'tbf', rate: '10mbit', burst: '32kbit', latency: '400ms' });
    tc(ref.name!, 'qdisc', 'add', 'dev', 'v0', 'root', 'tbf', 'rate', '10mbit', 'burst', '32kbit', 'latency', '400ms');
    const norm = (ns: string) => (tcJson(ns, ['qdisc', 'show', 'dev', 'v0']) as Array<Record<string, unknown>>).map((x) => ({ ...x, handle: 'auto' }));
    expect(norm(lib.name!)).toEqual(norm(ref.name!));
    expect(q).toMatchObject({ kind: 'tbf', root: true, parent: 'root', options: { rate: 1250000, limit: 504096, latency: 400000 } });
    await t.qdiscs.delete('v0');
    tc(ref.name!, 'qdisc', 'del', 'dev', 'v0', 'root');
  });

  it('htb with two classes, fifos under them, and u32 filters to each class', async () => {
    await t.qdiscs.add('v1', { kind: 'htb', handle: '1:', defaultClass: '20', r2q: 5 });
    await t.classes.add('v1', { kind: 'htb', parent: '1:', classid: '1:10', rate: '5mbit', ceil: '10mbit', burst: '15k', prio: 1, quantum: 1500 });
    await t.classes.add('v1', { kind: 'htb', classid: '1:20', rate: '2mbit' });
    await t.qdiscs.add('v1', { kind: 'pfifo', parent: '1:10', handle: '10:', limit: 100 });
    await t.qdiscs.add('v1', { kind: 'bfifo', parent: '1:20', handle: '20:', limit: '64kb' });
    await t.filters.add('v1', { kind: 'u32', parent: '1:', protocol: 'ip', prio: 1, match: { ip: { dst: '10.0.0.0/24', protocol: 'tcp', dport: 80 } }, classid: '1:10' });
    await t.filters.add('v1', { kind: 'u32', parent: '1:', protocol: 'ipv6', prio: 2, match: { ip6: { src: '2001:db8::/32', sport: 53 } }, classid: '1:20' });
    const r = ref.name!;
    tc(r, 'qdisc', 'add', 'dev', 'v1', 'root', 'handle', '1:', 'htb', 'default', '20', 'r2q', '5');
    tc(r, 'class', 'add', 'dev', 'v1', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '5mbit', 'ceil', '10mbit', 'burst', '15k', 'prio', '1', 'quantum', '1500');
    tc(r, 'class', 'add', 'dev', 'v1', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '2mbit');
    tc(r, 'qdisc', 'add', 'dev', 'v1', 'parent', '1:10', 'handle', '10:', 'pfifo', 'limit', '100');
    tc(r, 'qdisc', 'add', 'dev', 'v1', 'parent', '1:20', 'handle', '20:', 'bfifo', 'limit', '64kb');
    tc(r, 'filter', 'add', 'dev', 'v1', 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'ip', 'dst', '10.0.0.0/24',
      'match', 'ip', 'protocol', '6', '0xff', 'match', 'ip', 'dport', '80', '0xffff', 'flowid', '1:10');
    tc(r, 'filter', 'add', 'dev', 'v1', 'parent', '1:', 'protocol', 'ipv6', 'prio', '2', 'u32', 'match', 'ip6', 'src', '2001:db8::/32',
      'match', 'ip6', 'sport', '53', '0xffff', 'classid', '1:20');
    expect(tcJson(lib.name!, ['qdisc', 'show', 'dev', 'v1'])).toEqual(tcJson(r, ['qdisc', 'show', 'dev', 'v1']));
    const classes = tcText(lib.name!, ['class', 'show', 'dev', 'v1']).replace(/\n [^\n]*(Sent|backlog|lended|tokens)[^\n]*/g, '');
    expect(classes).toEqual(tcText(r, ['class', 'show', 'dev', 'v1']).replace(/\n [^\n]*(Sent|backlog|lended|tokens)[^\n]*/g, ''));
    expect(classes).toContain('class htb 1:10 root leaf 10: prio 1 quantum 1500 rate 5Mbit ceil 10Mbit');
    const filters = tcText(lib.name!, ['filter', 'show', 'dev', 'v1']);
    expect(filters).toEqual(tcText(r, ['filter', 'show', 'dev', 'v1']));
    expect(filters).toContain('match 0a000000/ffffff00 at 16');

    // Read back through the library.
    const cls = await t.classes.list('v1');
    expect(cls.find((c) => c.classid === '1:10')).toMatchObject({ kind: 'htb', parent: 'root', leaf: '10:', options: { rate: 625000, ceil: 1250000, prio: 1, quantum: 1500 } });
    const fl = (await t.filters.list('v1', '1:')).filter((f) => f.options?.keys.length);
    expect(fl.map((f) => [f.protocol, f.prio, f.options?.classid])).toEqual([['ip', 1, '1:10'], ['ipv6', 2, '1:20']]);
    const qd = await t.qdiscs.list('v1');
    expect(qd.map((q) => `${q.kind} ${q.handle} ${q.parent}`).sort()).toEqual(['bfifo 20: 1:20', 'htb 1: root', 'pfifo 10: 1:10']);
  });

  it('the mirred redirect of everything arriving on v0 to the ifb', async () => {
    await t.qdiscs.add('v0', { kind: 'ingress' });
    await t.filters.add('v0', { kind: 'u32', parent: 'ffff:', protocol: 'all', prio: 1, match: {}, action: { kind: 'mirred', direction: 'egress', mode: 'redirect', dev: 'i0' } });
    const r = ref.name!;
    tc(r, 'qdisc', 'add', 'dev', 'v0', 'ingress');
    tc(r, 'filter', 'add', 'dev', 'v0', 'parent', 'ffff:', 'protocol', 'all', 'prio', '1', 'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', 'i0');
    const text = tcText(lib.name!, ['filter', 'show', 'dev', 'v0', 'parent', 'ffff:']).replace(/\n\t(Action statistics|Sent|backlog)[^\n]*/g, '');
    expect(text).toEqual(tcText(r, ['filter', 'show', 'dev', 'v0', 'parent', 'ffff:']).replace(/\n\t(Action statistics|Sent|backlog)[^\n]*/g, ''));
    expect(text).toContain('mirred (Egress Redirect to device i0) stolen');
    const all = await t.filters.list('v0');
    const f = all.find((x) => x.options?.actions.length)!;
    expect(f.options!.actions[0].mirred).toEqual({ direction: 'egress', mode: 'redirect', ifindex: await lib.links.index('i0'), verdict: 4 });
  });

  it('replace, change and delete: qdisc, class and filter', async () => {
    const q1 = await t.qdiscs.replace('v0', { kind: 'tbf', handle: '5:', rate: '1mbit', burst: '10kb', limit: '20kb' });
    expect(q1).toMatchObject({ handle: '5:', options: { rate: 125000, limit: 20480 } });
    const q2 = await t.qdiscs.change('v0', { kind: 'tbf', handle: '5:', rate: '2mbit', burst: '10kb', limit: '20kb' });
    expect(q2.options).toMatchObject({ rate: 250000 });
    expect(tc(lib.name!, 'qdisc', 'show', 'dev', 'v0')).toMatch(/qdisc tbf 5: root refcnt \d+ rate 2Mbit/);
    const q3 = await t.qdiscs.replace('v0', { kind: 'pfifo', limit: 50 });
    expect(q3).toMatchObject({ kind: 'pfifo', root: true, options: { limit: 50 } });
    await t.qdiscs.delete('v0');
    expect(tc(lib.name!, 'qdisc', 'show', 'dev', 'v0')).not.toContain('pfifo');

    const c = await t.classes.change('v1', { kind: 'htb', classid: '1:20', rate: '3mbit', ceil: '6mbit' });
    expect(c.options).toMatchObject({ rate: 375000, ceil: 750000 });
    const c2 = await t.classes.replace('v1', { kind: 'htb', classid: '1:30', rate: '1mbit' });
    expect(c2.classid).toBe('1:30');
    await t.classes.delete('v1', '1:30');
    expect(tc(lib.name!, 'class', 'show', 'dev', 'v1')).not.toContain('1:30');

    const [f] = (await t.filters.list('v1', '1:')).filter((x) => x.prio === 1 && x.options?.keys.length);
    expect(f.handle).toBe('800::800');
    await t.filters.change('v1', { kind: 'u32', parent: '1:', protocol: 'ip', prio: 1, handle: f.handleId, match: { ip: { dst: '10.9.0.0/16' } }, classid: '1:20' });
    // As with tc: the kernel changes an existing u32 filter's class and actions, never its keys.
    const shown = tc(lib.name!, 'filter', 'show', 'dev', 'v1');
    expect(shown).toContain('fh 800::800 order 2048 key ht 800 bkt 0 *flowid 1:20');
    expect(shown).toContain('match 0a000000/ffffff00 at 16');
    await t.filters.delete('v1', { parent: '1:', prio: 1 });
    const left = await t.filters.list('v1', '1:');
    expect(new Set(left.map((x) => x.prio))).toEqual(new Set([2]));
    expect(left.filter((x) => x.options?.keys.length).map((x) => x.options?.classid)).toEqual(['1:20']);
    const all = await t.filters.list('v1');
    expect(all.every((x) => x.prio === 2)).toBe(true);
  });
});

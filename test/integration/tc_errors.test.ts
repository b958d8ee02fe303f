/**
 * Bad traffic-control input: refused with a ValidationError naming the field before anything is
 * sent (the context counts every request the family makes), or answered with the kernel's own text;
 * either way nothing is left half-made. Kinds this kernel lacks fail with the kernel's text, and
 * their tests skip saying so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetlinkError, ValidationError } from '../../lib/errors.js';
import { Netns } from '../../lib/api/netns/index.js';
import { Tc, type QdiscSpec } from '../../lib/api/tc/index.js';
import { nsName } from './helpers.js';
import { tc } from './tc_helpers.js';

let ns: Netns;
let t: Tc;
/** Requests the family asked for (rtnl() and linkIndex() calls): must stay 0 for refused input. */
let asked = 0;

beforeAll(async () => {
  ns = await Netns.create(nsName('tcerr'));
  await ns.links.add({ kind: 'veth', name: 'v0', up: true, peer: { name: 'v1', up: true } });
  t = new Tc({
    label: `ip -n ${ns.name}`,
    rtnl: () => { asked++; return ns.rtnl(); },
    linkIndex: (r) => { asked++; return ns.links.index(r); },
  });
});
afterAll(() => ns?.delete());

/** What tc shows on v0, for "nothing half-made". */
const state = (): string => tc(ns.name!, 'qdisc', 'show', 'dev', 'v0') + tc(ns.name!, 'class', 'show', 'dev', 'v0');

async function refused(fn: () => Promise<unknown>, field: string): Promise<void> {
  const before = state();
  asked = 0;
  const e = await fn().then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(ValidationError);
  expect((e as ValidationError).field).toBe(field);
  expect(asked).toBe(0);
  expect(state()).toBe(before);
}

const tbf = (over: Record<string, unknown>) => ({ kind: 'tbf', rate: '10mbit', burst: '32kbit', latency: '400ms', ...over }) as QdiscSpec;

describe('refused before any request', () => {
  it.each([
    ['rate', '10 mbit'], ['rate', '-1kbit'], ['rate', '1e3kbit'], ['rate', '10mbitt'], ['rate', ''], ['rate', '10parsecs'],
    ['rate', 0], ['rate', '0mbit'], ['burst', '32 kbit'], ['burst', 0], ['latency', '400'+'mss'], ['latency', -1],
  ])('tbf %s %j', async (field, value) => {
    await refused(() => t.qdiscs.add('v0', tbf({ [field]: value })), field);
  });

  it('tbf without latency or limit, with both, with peakrate but no mtu, with an unknown key', async () => {
    await refused(() => t.qdiscs.add('v0', { kind: 'tbf', rate: '10mbit', burst: '32kbit' } as QdiscSpec), 'latency');
    await refused(() => t.qdiscs.add('v0', tbf({ limit: '10kb' })), 'limit');
    await refused(() => t.qdiscs.add('v0', tbf({ peakrate: '20mbit' })), 'mtu');
    await refused(() => t.qdiscs.add('v0', tbf({ latncy: '1ms' })), 'latncy');
  });

  it.each([['1:'], ['ffff:ffff'], ['0:0'], ['1:10000'], ['g:1']])('class id %j', async (classid) => {
    await refused(() => t.classes.add('v0', { kind: 'htb', classid, rate: '1mbit' }), 'classid');
  });

  it.each([['0:'], ['0:0'], ['ffff:'], ['1:10']])('qdisc handle %j', async (handle) => {
    await refused(() => t.qdiscs.add('v0', { kind: 'htb', handle }), 'handle');
  });

  it('unknown kinds', async () => {
    await refused(() => t.qdiscs.add('v0', { kind: 'nosuchqdisc' } as unknown as QdiscSpec), 'kind');
    await refused(() => t.classes.add('v0', { kind: 'cbq', classid: '1:1', rate: '1mbit' } as never), 'kind');
    await refused(() => t.filters.add('v0', { kind: 'flower', parent: '1:', match: {} } as never), 'kind');
  });

  it('bad u32 matches and actions', async () => {
    await refused(() => t.filters.add('v0', { kind: 'u32', parent: '1:', match: { ip: { dst: '10.0.0.1/24' } }, classid: '1:1' }), 'match.ip.dst');
    await refused(() => t.filters.add('v0', { kind: 'u32', parent: '1:', match: { ip: { dst: '2001:db8::/32' } }, classid: '1:1' }), 'match.ip.dst');
    await refused(() => t.filters.add('v0', { kind: 'u32', parent: '1:', match: { ip: { dport: 70000 } }, classid: '1:1' }), 'match.ip.dport');
    await refused(() => t.filters.add('v0', { kind: 'u32', parent: '1:', match: { ip: { protocol: 'sctpx' as never } } }), 'match.ip.protocol');
    await refused(() => t.filters.add('v0', { kind: 'u32', parent: '1:', match: {}, action: { kind: 'police' } as never }), 'action.kind');
    await refused(() => t.filters.add('v0', { kind: 'u32', parent: 'sideways' as never, match: {} }), 'parent');
  });

  it('shape without a rate, or with a bad one', async () => {
    await refused(() => t.shape('v0', {}), 'opts');
    await refused(() => t.shape('v0', { egress: '10 mbit' }), 'egress');
    await refused(() => t.shape('v0', { ingress: '5mbps ' }), 'ingress');
  });
});

describe("the kernel's own answers", () => {
  it('a parent that does not exist', async () => {
    const before = state();
    const e = await t.qdiscs.add('v0', { kind: 'pfifo', parent: '5:1', limit: 10 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NetlinkError);
    expect((e as NetlinkError).kernelMessage).toBeTruthy();
    expect((e as NetlinkError).operation).toContain(`tc -n ${ns.name} qdisc add dev v0 parent 5:1`);
    const c = await t.classes.add('v0', { kind: 'htb', classid: '7:1', rate: '1mbit' }).catch((x: unknown) => x);
    expect(c).toBeInstanceOf(NetlinkError);
    expect(state()).toBe(before);
  });

  it('a device that does not exist', async () => {
    const e = await t.qdiscs.add('nosuch0', tbf({})).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NetlinkError);
    expect((e as NetlinkError).code).toBe('ENODEV');
  });

  it('adding where a qdisc already is: EEXIST, the first one kept', async () => {
    await t.qdiscs.add('v1', tbf({}));
    const e = await t.qdiscs.add('v1', tbf({ rate: '1mbit' })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NetlinkError);
    expect((e as NetlinkError).code).toBe('EEXIST');
    expect(tc(ns.name!, 'qdisc', 'show', 'dev', 'v1')).toContain('rate 10Mbit');
    await t.qdiscs.delete('v1');
    const d = await t.qdiscs.delete('v1').catch((x: unknown) => x);
    expect(d).toBeInstanceOf(NetlinkError);
  });

  for (const kind of ['netem', 'fq_codel', 'sfq', 'prio'] as const) it(`${kind}: created with defaults, or the kernel says it lacks it`, async (ctx) => {
    const before = state();
    try {
      const q = await t.qdiscs.add('v0', { kind });
      expect(q.kind).toBe(kind);
      expect(tc(ns.name!, 'qdisc', 'show', 'dev', 'v0')).toContain(`qdisc ${kind}`);
      await t.qdiscs.delete('v0');
    } catch (e) {
      if (!(e instanceof NetlinkError)) throw e;
      expect(state()).toBe(before);
      ctx.skip(`this kernel has no ${kind} qdisc (kernel: "${e.kernelMessage}", ${e.code})`);
    }
  });
});

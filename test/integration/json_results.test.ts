/**
 * `JSON.stringify` of every result type round-trips (issue 11, "Done when" 3): for each public
 * operation that returns data, the JSON text parses back to the result itself with bigints as
 * decimal strings and Buffers as `{ type: 'Buffer', data }` (what `jsonValue` promises). Anything
 * JSON would silently lose (a Map, a Set, a Date, a function, a typed array other than Buffer) fails
 * here. The results are made in one pair of namespaces with a veth, tc, firewall rules and traffic.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, capture, inventory, ping, type CapturedPacket } from '../../lib/index.js';
import { Topology } from '../../lib/topology/index.js';
import { nsName } from './helpers.js';

/** The JSON form a result must have, or a throw naming what JSON cannot carry. */
function expected(v: unknown, path = '$'): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'function' || typeof v === 'symbol') throw new Error(`${path}: a ${typeof v} in a result`);
  if (v === null || typeof v !== 'object') return typeof v === 'number' && !Number.isFinite(v) ? null : v;
  if (Buffer.isBuffer(v)) return { type: 'Buffer', data: [...v] };
  if (Array.isArray(v)) return v.map((x, i) => (x === undefined ? null : expected(x, `${path}[${i}]`)));
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) throw new Error(`${path}: a ${proto?.constructor?.name} in a result: JSON would not carry it`);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = expected(x, `${path}.${k}`);
  return out;
}

function roundTrips(name: string, result: unknown): void {
  const text = JSON.stringify(result); // throws on a bigint without toJSON
  expect(text, name).toBeTypeOf('string');
  expect(JSON.parse(text), name).toEqual(expected(result));
}

let a: Netns;
let b: Netns;
beforeAll(async () => {
  a = await Netns.create(nsName('ja'));
  b = await Netns.create(nsName('jb'));
  await a.links.setUp('lo');
  await a.links.add({ kind: 'veth', name: 'va', peer: { name: 'vb', netns: b, up: true }, up: true });
  await a.addresses.add('va', '10.79.0.1/24');
  await b.addresses.add('vb', '10.79.0.2/24');
  await a.neighbours.add('va', '10.79.0.9', { lladdr: '02:00:00:00:00:09' });
  await a.routes.add({ destination: '10.80.0.0/16', gateway: '10.79.0.2' });
  await a.nsids.ensure(b);
  await a.tc.qdiscs.add('va', { kind: 'htb', handle: '1:', defaultClass: '10' });
  await a.tc.classes.add('va', { parent: '1:', classid: '1:10', kind: 'htb', rate: '10mbit' });
  await a.tc.filters.add('va', { parent: '1:', protocol: 'ip', prio: 1, kind: 'u32', match: { ip: { dst: '10.79.0.2/32' } }, classid: '1:10' });
  await a.firewall.masquerade({ source: '10.79.0.0/24', outInterface: 'va' });
});
afterAll(async () => {
  await a?.delete({ ifExists: true });
  await b?.delete({ ifExists: true });
});

describe('JSON.stringify of every result type round-trips', () => {
  it('links, addresses, routes, neighbours, nsids', async () => {
    roundTrips('links.list', await a.links.list());
    roundTrips('links.get', await a.links.get('va'));
    roundTrips('addresses.list', await a.addresses.list());
    roundTrips('routes.list', await a.routes.list({ table: 'all' }));
    roundTrips('routes.get', await a.routes.get('10.80.1.1'));
    roundTrips('neighbours.list', await a.neighbours.list());
    roundTrips('neighbours.get', await a.neighbours.get('va', '10.79.0.9'));
    roundTrips('nsids.list', await a.nsids.list());
  });

  it('tc qdiscs, classes, filters (with statistics)', async () => {
    roundTrips('tc.qdiscs.list', await a.tc.qdiscs.list('va'));
    roundTrips('tc.classes.list', await a.tc.classes.list('va'));
    roundTrips('tc.filters.list', await a.tc.filters.list('va'));
  });

  it('firewall rules (bigint counters) and the ruleset', async () => {
    const rules = await a.firewall.list();
    expect(typeof rules[0].counters?.packets).toBe('bigint');
    roundTrips('firewall.list', rules);
    roundTrips('firewall.ruleset', await a.firewall.ruleset());
  });

  it('sockets (bigint cookies), summary, stats samples, ping, capture, inventory, events', async () => {
    const server = await a.createServer({ host: '10.79.0.1' });
    try {
      const sockets = await a.diag.sockets({ processes: true });
      expect(sockets.length).toBeGreaterThan(0);
      roundTrips('diag.sockets', sockets);
      roundTrips('diag.summary', await a.diag.summary());
    } finally {
      server.close();
    }
    for await (const sample of a.stats.sample({ intervalMs: 20, count: 2 })) roundTrips('stats.sample', sample);

    const packets: CapturedPacket[] = [];
    const stream = await capture(b, { dev: 'vb', count: 1 });
    const pinged = await ping(a, '10.79.0.2', { count: 1, timeoutMs: 2000 });
    for await (const p of stream) packets.push(p);
    roundTrips('ping', pinged);
    roundTrips('capture packet', packets[0]);

    const events = await a.events.watch({ kinds: ['address'] });
    await a.addresses.add('va', '10.79.0.3/24');
    for await (const ev of events) {
      roundTrips('event', ev);
      break;
    }
    roundTrips('inventory', await inventory());
    roundTrips('Netns.list', await Netns.list());
    roundTrips('exec', await a.exec('true', []));
    roundTrips('sysctl.get', await a.sysctl.get('net.ipv4.ip_forward'));
    roundTrips('pids', await a.pids());
    roundTrips('Netns.identify', await Netns.identify(process.pid));
    roundTrips('Topology.plan', await Topology.from({ namespaces: { x: {} } }, { rename: (n) => nsName(n) }).plan());
  });
});

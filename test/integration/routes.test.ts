/**
 * `ns.routes` against the real kernel, with `ip -j route` as the oracle. Everything happens in test
 * namespaces (see addresses_setup.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NetlinkError, ValidationError, type RouteSpec } from '../../lib/index.js';
import { ipRouteView, stripIpRoute } from '../../lib/format/ip_views.js';
import { vethWorld, type VethWorld } from './addresses_setup.js';

let worlds: VethWorld[] = [];
async function world(tag = 'rt'): Promise<VethWorld> {
  const w = await vethWorld(tag, { noLinkLocal: true });
  worlds.push(w);
  return w;
}
afterEach(async () => {
  await Promise.all(worlds.map((w) => w.dispose()));
  worlds = [];
});

/** Addresses both sides of the equivalence tests start from. */
function addAddresses(w: VethWorld): void {
  w.ip('address', 'add', '10.1.0.1/24', 'dev', 'v0');
  w.ip('address', 'add', '10.2.0.1/24', 'dev', 'v1');
  w.ip('address', 'add', '2001:db8:1::1/64', 'dev', 'v0', 'nodad');
}

/** The routes of the tutorial-like scenario, as `ip route` arguments and as library specs. */
const SCENARIO: [string[], RouteSpec][] = [
  [['route', 'add', 'default', 'via', '10.1.0.254', 'dev', 'v0', 'metric', '50'], { destination: 'default', gateway: '10.1.0.254', dev: 'v0', metric: 50 }],
  [
    ['route', 'add', '10.9.0.0/16', 'via', '10.1.0.254', 'mtu', 'lock', '1400', 'advmss', '1300', 'hoplimit', '9', 'table', '1000', 'proto', 'static'],
    { destination: '10.9.0.0/16', gateway: '10.1.0.254', metrics: { mtu: 1400, advmss: 1300, hoplimit: 9, lock: ['mtu'] }, table: 1000, protocol: 'static' },
  ],
  [['route', 'add', '10.9.0.0/16', 'via', '10.2.0.254', 'table', '7'], { destination: '10.9.0.0/16', gateway: '10.2.0.254', table: 7 }],
  [['route', 'add', 'blackhole', '10.8.0.0/16'], { destination: '10.8.0.0/16', type: 'blackhole' }],
  [['route', 'add', 'unreachable', '10.7.0.0/16', 'metric', '7'], { destination: '10.7.0.0/16', type: 'unreachable', metric: 7 }],
  [['route', 'add', 'prohibit', '10.6.0.1'], { destination: '10.6.0.1', type: 'prohibit' }],
  [['route', 'add', 'throw', '10.66.0.0/16', 'table', '7'], { destination: '10.66.0.0/16', type: 'throw', table: 7 }],
  [
    ['route', 'add', '10.5.0.0/16', 'nexthop', 'via', '10.1.0.2', 'dev', 'v0', 'weight', '2', 'nexthop', 'via', '10.2.0.3', 'dev', 'v1'],
    { destination: '10.5.0.0/16', nexthops: [{ gateway: '10.1.0.2', dev: 'v0', weight: 2 }, { gateway: '10.2.0.3', dev: 'v1' }] },
  ],
  [['route', 'add', '10.4.0.0/16', 'dev', 'v0', 'src', '10.1.0.1'], { destination: '10.4.0.0/16', dev: 'v0', source: '10.1.0.1' }],
  [['route', 'add', '10.3.3.3', 'dev', 'v1', 'scope', 'host', 'proto', '99'], { destination: '10.3.3.3', dev: 'v1', scope: 'host', protocol: 99 }],
  [['route', 'add', '172.16.0.0/12', 'via', '10.1.0.9', 'dev', 'v0', 'onlink'], { destination: '172.16.0.0/12', gateway: '10.1.0.9', dev: 'v0', onlink: true }],
  [['route', 'add', 'local', '10.44.0.1', 'dev', 'lo', 'table', 'local'], { destination: '10.44.0.1', type: 'local', dev: 'lo', table: 'local' }],
  [['route', 'add', 'broadcast', '10.1.0.127', 'dev', 'v0', 'table', 'local'], { destination: '10.1.0.127', type: 'broadcast', dev: 'v0', table: 'local' }],
  [['route', 'add', 'multicast', '239.1.0.0/16', 'dev', 'v1', 'table', '7'], { destination: '239.1.0.0/16', type: 'multicast', dev: 'v1', table: 7 }],
  [['-6', 'route', 'add', '2001:db9::/64', 'via', '2001:db8:1::2', 'dev', 'v0', 'metric', '5', 'pref', 'high'],
    { destination: '2001:db9::/64', gateway: '2001:db8:1::2', dev: 'v0', metric: 5, pref: 'high' }],
  [['-6', 'route', 'add', '2001:dba::/64', 'nexthop', 'via', '2001:db8:1::2', 'dev', 'v0', 'nexthop', 'via', '2001:db8:1::3', 'dev', 'v0', 'weight', '3'],
    { destination: '2001:dba::/64', nexthops: [{ gateway: '2001:db8:1::2', dev: 'v0' }, { gateway: '2001:db8:1::3', dev: 'v0', weight: 3 }] }],
  [['-6', 'route', 'add', 'unreachable', 'default', 'metric', '4000'], { destination: 'default', family: 6, type: 'unreachable', metric: 4000 }],
  [['-6', 'route', 'add', '2001:dbb::/48', 'dev', 'v1', 'table', '1000'], { destination: '2001:dbb::/48', dev: 'v1', table: 1000 }],
];

const ipAll = (w: VethWorld) => stripIpRoute(w.ipj('route', 'show', 'table', 'all'));

describe('routes created by ip read back as ip -j reports them', () => {
  it('every table, both families: metrics, tables, types, multipath, onlink, pref', async () => {
    const w = await world();
    addAddresses(w);
    for (const [args] of SCENARIO) w.ip(...args);
    const all = await w.ns.routes.list({ table: 'all' });
    expect(all.map((r) => ipRouteView(r, true))).toEqual(ipAll(w));
    // Default listing = main table, like `ip route` plus `ip -6 route`.
    const main = await w.ns.routes.list();
    const ipMain = [...stripIpRoute(w.ipj('route', 'show')), ...stripIpRoute(w.ipj('-6', 'route', 'show'))];
    expect(main.map((r) => ipRouteView(r, false))).toEqual(ipMain);
    expect(main.every((r) => r.table === 254)).toBe(true);
  });

  it('typed values for the interesting cases', async () => {
    const w = await world();
    addAddresses(w);
    for (const [args] of SCENARIO) w.ip(...args);
    const t1000 = await w.ns.routes.list({ table: 1000, family: 4 });
    expect(t1000).toHaveLength(1);
    expect(t1000[0]).toMatchObject({
      destination: '10.9.0.0/16', gateway: '10.1.0.254', dev: 'v0', table: 1000, protocol: 'static',
      metrics: { mtu: 1400, advmss: 1300, hoplimit: 9, lock: ['mtu'] },
    });
    const mp = (await w.ns.routes.list({ family: 4 })).find((r) => r.destination === '10.5.0.0/16');
    expect(mp?.nexthops).toEqual([
      expect.objectContaining({ gateway: '10.1.0.2', dev: 'v0', weight: 2 }),
      expect.objectContaining({ gateway: '10.2.0.3', dev: 'v1', weight: 1 }),
    ]);
    const onlink = (await w.ns.routes.list({ dev: 'v0' })).find((r) => r.destination === '172.16.0.0/12');
    expect(onlink?.flags).toContain('onlink');
    expect((await w.ns.routes.list({ type: 'blackhole' })).map((r) => r.destination)).toEqual(['10.8.0.0/16']);
    expect((await w.ns.routes.list({ protocol: 99 })).map((r) => r.destination)).toEqual(['10.3.3.3']);
    expect((await w.ns.routes.list({ table: 7 })).map((r) => r.type).sort()).toEqual(['multicast', 'throw', 'unicast']);
    expect(await w.ns.routes.list({ table: 4242 })).toEqual([]);
  });
});

describe('routes created by the library', () => {
  it('equal, in ip -j, to what the same ip route commands make', async () => {
    const byIp = await world('rtip');
    const byLib = await world('rtlib');
    addAddresses(byIp);
    addAddresses(byLib);
    for (const [args, spec] of SCENARIO) {
      byIp.ip(...args);
      await byLib.ns.routes.add(spec);
    }
    expect(ipAll(byLib)).toEqual(ipAll(byIp));
    expect(stripIpRoute(byLib.ipj('-6', 'route', 'show', 'table', 'all'))).toEqual(stripIpRoute(byIp.ipj('-6', 'route', 'show', 'table', 'all')));
  });

  it('add is exclusive; replace and append; delete is idempotent on request', async () => {
    const w = await world();
    addAddresses(w);
    await w.ns.routes.add({ destination: 'default', gateway: '10.1.0.254' });
    await expect(w.ns.routes.add({ destination: 'default', gateway: '10.1.0.253' })).rejects.toMatchObject({ code: 'EEXIST' });
    await w.ns.routes.replace({ destination: 'default', gateway: '10.1.0.253' });
    await w.ns.routes.replace({ destination: 'default', gateway: '10.1.0.253' });
    expect(stripIpRoute(w.ipj('route', 'show', 'default'))).toEqual([{ dst: 'default', gateway: '10.1.0.253', dev: 'v0', flags: [] }]);
    await w.ns.routes.append({ destination: '2001:db9::/64', gateway: '2001:db8:1::2', dev: 'v0' });
    await w.ns.routes.append({ destination: '2001:db9::/64', gateway: '2001:db8:1::3', dev: 'v0' });
    const [mp] = stripIpRoute(w.ipj('-6', 'route', 'show', '2001:db9::/64'));
    expect((mp.nexthops as { gateway: string }[]).map((n) => n.gateway)).toEqual(['2001:db8:1::2', '2001:db8:1::3']);

    expect(await w.ns.routes.delete('default')).toBe(true);
    expect(await w.ns.routes.delete('default', { ifExists: true })).toBe(false);
    const err = await w.ns.routes.delete('default').catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err.code).toBe('ESRCH');
    expect(await w.ns.routes.delete({ destination: '2001:db9::/64' })).toBe(true);
    expect(await w.ns.routes.delete({ destination: '10.1.0.0/24', dev: 'gone0' }, { ifExists: true })).toBe(false);
    expect(w.ipj('route', 'show', 'default')).toEqual([]);
  });

  it('delete matches table, gateway and type when given', async () => {
    const w = await world();
    addAddresses(w);
    w.ip('route', 'add', '10.9.0.0/16', 'via', '10.1.0.254', 'table', '1000');
    w.ip('route', 'add', '10.9.0.0/16', 'via', '10.1.0.253');
    w.ip('route', 'add', 'blackhole', '10.8.0.0/16', 'table', '1000');
    await expect(w.ns.routes.delete({ destination: '10.9.0.0/16', gateway: '10.1.0.1' })).rejects.toMatchObject({ code: 'ESRCH' });
    expect(await w.ns.routes.delete({ destination: '10.9.0.0/16', table: 1000 })).toBe(true);
    expect(stripIpRoute(w.ipj('route', 'show', '10.9.0.0/16'))).toHaveLength(1);
    expect(await w.ns.routes.delete({ destination: '10.8.0.0/16', table: 1000, type: 'unreachable' }, { ifExists: true })).toBe(false);
    expect(await w.ns.routes.delete({ destination: '10.8.0.0/16', table: 1000, type: 'blackhole' })).toBe(true);
    expect(w.ipj('route', 'show', 'table', '1000')).toEqual([]);
  });
});

describe('routes.get agrees with ip route get', () => {
  const lookups: string[][] = [
    ['10.5.0.1'],
    ['10.9.9.9'],
    ['10.1.0.7'],
    ['10.1.0.1'],
    ['10.2.0.200'],
    ['10.4.1.1'],
    ['8.8.8.8', 'from', '10.2.0.1'],
    ['8.8.8.8', 'oif', 'v1'],
    ['10.1.0.9', 'mark', '7'],
    ['2001:db9::1'],
    ['2001:db8:1::9'],
    ['172.16.1.1', 'fibmatch'],
    ['10.1.0.1', 'from', '10.1.0.9', 'iif', 'v0'],
    ['10.2.0.1', 'from', '10.1.0.9', 'iif', 'v0'],
  ];
  /** `ip route get` arguments after the destination, as RouteLookupOptions. */
  const options = (rest: string[]): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] === 'fibmatch') o.fibMatch = true;
      else if (rest[i] === 'mark') o.mark = Number(rest[++i]);
      else o[rest[i]] = rest[++i];
    }
    return o;
  };
  it.each(lookups.map((a) => [a.join(' '), a] as const))('ip route get %s', async (_title, args) => {
    const w = await world('rtget');
    addAddresses(w);
    for (const [a] of SCENARIO.filter(([a]) => !a.includes('unreachable') || a.includes('7'))) w.ip(...a);
    const [dst, ...rest] = args;
    const ours = await w.ns.routes.get(dst, options(rest));
    const [ip] = stripIpRoute(w.ipj('route', 'get', ...args));
    expect(ipRouteView(ours, true)).toEqual(ip);
  });

  it('typed answer: device, gateway, source, table, type', async () => {
    const w = await world('rtget');
    addAddresses(w);
    w.ip('route', 'add', 'default', 'via', '10.1.0.254');
    expect(await w.ns.routes.get('8.8.8.8')).toMatchObject({
      destination: '8.8.8.8', type: 'unicast', dev: 'v0', gateway: '10.1.0.254', source: '10.1.0.1', table: 254,
    });
    const local = await w.ns.routes.get('10.1.0.1');
    expect(local).toMatchObject({ type: 'local', dev: 'lo', source: '10.1.0.1' });
    // Without policy rules the kernel keeps local and main merged and may name either; ip agrees.
    const ipTable = w.ipj('route', 'get', '10.1.0.1')[0].table;
    expect(local.table).toBe(ipTable === undefined ? 254 : ipTable === 'local' ? 255 : Number(ipTable));
    w.ip('route', 'add', 'blackhole', '10.8.0.0/16');
    w.ip('route', 'add', 'unreachable', '10.7.0.0/16');
    // The kernel refuses to answer for routes that drop packets, as `ip route get` shows.
    await expect(w.ns.routes.get('10.7.0.1')).rejects.toMatchObject({ code: 'EHOSTUNREACH' });
    await expect(w.ns.routes.get('10.8.0.1')).rejects.toMatchObject({ code: 'EINVAL' });
    w.ip('route', 'del', 'default');
    await expect(w.ns.routes.get('8.8.8.8')).rejects.toMatchObject({ code: 'ENETUNREACH' });
  });
});

describe('bad input: typed error, nothing created', () => {
  const cases: RouteSpec[] = [
    { destination: '10.0.0.1/24', dev: 'v0' },
    { destination: '010.0.0.0/8', dev: 'v0' },
    { destination: '10.0.0.0/33', dev: 'v0' },
    { destination: ' default', gateway: '10.1.0.254' },
    { destination: '10.9.0.0/16', gateway: '2001:db8::1' },
    { destination: '10.9.0.0/16', gateway: '10.1.0.2', nexthops: [{ gateway: '10.1.0.3' }] },
    { destination: '10.9.0.0/16', nexthops: [{ gateway: '10.1.0.3', weight: 0 }] },
    { destination: '10.9.0.0/16', type: 'blackhole', gateway: '10.1.0.2' },
    { destination: '10.9.0.0/16', dev: 'v0', table: 0 },
    { destination: '10.9.0.0/16', dev: 'v0', metrics: { mtu: 1400, lock: ['mtuu' as 'mtu'] } },
    { destination: '10.9.0.0/16', dev: 'v0', pref: 'high' },
    { destination: '10.9.0.0/16', dev: 'v0/x' },
  ];
  it.each(cases)('add(%j)', async (spec) => {
    const w = await world('rtbad');
    addAddresses(w);
    const before = ipAll(w);
    const err = await w.ns.routes.add(spec).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(ipAll(w)).toEqual(before);
  });

  it("a kernel rejection carries the kernel's text", async () => {
    const w = await world('rtbad');
    addAddresses(w);
    const err = await w.ns.routes.add({ destination: '10.9.0.0/16', gateway: '10.55.0.1' }).catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err).toMatchObject({ code: 'ENETUNREACH', kernelMessage: 'Nexthop has invalid gateway' });
    expect(err.message).toBe(`ip -n ${w.name} route add 10.9.0.0/16 via 10.55.0.1: Nexthop has invalid gateway (ENETUNREACH)`);
  });
});

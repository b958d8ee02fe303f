/**
 * Links created by `ip` read back through the library with the values `ip -d -s -j link` reports.
 * Everything happens inside this file's own namespaces.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, type Link } from '../../lib/index.js';
import { ipView, libView } from '../../lib/format/link_views.js';
import { ipJson, nsName, run } from './helpers.js';

let a: string;
let b: string;
let nsA: Netns;
let nsB: Netns;

/** `ip -n NS ARGS`. */
const ip = (ns: string, ...args: string[]) => run('ip', ['-n', ns, ...args]);

/** ifindex -> name of a namespace, as ip sees it. */
function names(ns: string): Map<number, string> {
  return new Map(ipJson<{ ifindex: number; ifname: string }[]>(['link', 'show'], ns).map((l) => [l.ifindex, l.ifname]));
}

/** Read `dev` through the library and through ip, and compare. */
async function expectSameAsIp(handle: Netns, ns: string, dev: string): Promise<Link> {
  const link = await handle.links.get(dev);
  const map = names(ns);
  const want = ipView(ipJson(['-d', '-s', 'link', 'show', 'dev', dev], ns)[0], map);
  expect(libView(link, want, map)).toEqual(want);
  return link;
}

beforeAll(async () => {
  a = nsName('rba');
  b = nsName('rbb');
  for (const n of [a, b]) {
    run('ip', ['netns', 'add', n]);
    // No IPv6 autoconfiguration traffic: counters must not move between the two reads.
    run('ip', ['netns', 'exec', n, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  }
  nsA = await Netns.open(a);
  nsB = await Netns.open(b);
});

afterAll(async () => {
  await nsA?.close();
  await nsB?.close();
});

describe('veth', () => {
  it('a pair split across namespaces: peer index and link-netnsid', async () => {
    ip(a, 'link', 'add', 'v0', 'mtu', '1450', 'address', '02:00:00:00:0a:01', 'txqueuelen', '300', 'type', 'veth', 'peer', 'name', 'v1', 'netns', b, 'mtu', '1400');
    const v0 = await expectSameAsIp(nsA, a, 'v0');
    const v1 = await expectSameAsIp(nsB, b, 'v1');
    expect(v0).toMatchObject({ kind: 'veth', mtu: 1450, mac: '02:00:00:00:0a:01', txqueuelen: 300, peerIndex: v1.index });
    expect(v1).toMatchObject({ kind: 'veth', mtu: 1400, peerIndex: v0.index });
    expect(v0.linkNetnsid).toBeTypeOf('number');
    expect(v0.info).toMatchObject({ kind: 'veth', data: {} });
  });

  it('both ends in one namespace, with an alias, up', async () => {
    ip(a, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1');
    ip(a, 'link', 'set', 'dev', 'p0', 'alias', 'uplink to p1', 'up');
    ip(a, 'link', 'set', 'dev', 'p1', 'up');
    ip(a, 'link', 'property', 'add', 'dev', 'p0', 'altname', 'uplink-to-p1-altname');
    const p0 = await expectSameAsIp(nsA, a, 'p0');
    expect(p0).toMatchObject({ alias: 'uplink to p1', up: true, lowerUp: true, operState: 'UP' });
    expect(p0.altNames).toEqual(ipJson(['link', 'show', 'dev', 'p0'], a)[0].altnames);
    expect(p0.linkNetnsid).toBeUndefined();
  });

  it('64-bit counters after real traffic match ip -s', async () => {
    ip(a, 'link', 'add', 't0', 'type', 'veth', 'peer', 'name', 't1', 'netns', b);
    ip(a, 'addr', 'add', '192.0.2.1/24', 'dev', 't0');
    ip(b, 'addr', 'add', '192.0.2.2/24', 'dev', 't1');
    ip(a, 'link', 'set', 't0', 'up');
    ip(b, 'link', 'set', 't1', 'up');
    run('ip', ['netns', 'exec', a, 'ping', '-c', '3', '-i', '0.2', '-W', '2', '192.0.2.2']);
    const t0 = await expectSameAsIp(nsA, a, 't0');
    expect(t0.stats?.txPackets).toBeGreaterThanOrEqual(3n);
    expect(t0.stats?.rxBytes).toBeGreaterThan(0n);
    await expectSameAsIp(nsB, b, 't1');
  });
});

describe('bridge', () => {
  it('STP, timers, priority, multicast and netfilter switches', async () => {
    ip(a, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '1', 'forward_delay', '400', 'hello_time', '300', 'max_age', '1500',
      'ageing_time', '1000', 'priority', '100', 'mcast_snooping', '0', 'group_fwd_mask', '0x4000');
    const br = await expectSameAsIp(nsA, a, 'br0');
    if (br.info?.kind !== 'bridge') throw new Error('not a bridge');
    expect(br.info.data).toMatchObject({ stp: true, forwardDelay: 400, helloTime: 300, maxAge: 1500, ageingTime: 1000, priority: 100, mcastSnooping: false, groupFwdMask: 0x4000 });
  });

  it('a port reads back its master; list filters by master and kind', async () => {
    ip(a, 'link', 'add', 'br1', 'type', 'bridge');
    ip(a, 'link', 'add', 'q0', 'master', 'br1', 'type', 'veth', 'peer', 'name', 'q1');
    const q0 = await expectSameAsIp(nsA, a, 'q0');
    const br1 = await nsA.links.get('br1');
    expect(q0.master).toBe(br1.index);
    expect(q0.info?.slaveKind).toBe('bridge');
    expect((await nsA.links.list({ master: 'br1' })).map((l) => l.name)).toEqual(['q0']);
    const bridges = (await nsA.links.list({ kind: 'bridge' })).map((l) => l.name).sort();
    expect(bridges).toEqual(ipJson<{ ifname: string }[]>(['link', 'show', 'type', 'bridge'], a).map((l) => l.ifname).sort());
  });

  it('vlan_filtering (skipped where the kernel lacks CONFIG_BRIDGE_VLAN_FILTERING)', async (ctx) => {
    try {
      ip(a, 'link', 'add', 'brv', 'type', 'bridge', 'vlan_filtering', '1', 'vlan_default_pvid', '7');
    } catch (e) {
      if (/Operation not supported/.test(String((e as { stderr?: string }).stderr))) ctx.skip('this kernel has no bridge VLAN filtering (ip: Operation not supported)');
      throw e;
    }
    const br = await expectSameAsIp(nsA, a, 'brv');
    expect(br.info?.kind === 'bridge' && br.info.data).toMatchObject({ vlanFiltering: true, vlanDefaultPvid: 7 });
  });
});

describe('macvlan', () => {
  it('every mode', async () => {
    ip(a, 'link', 'add', 'm0', 'type', 'veth', 'peer', 'name', 'm1');
    ip(a, 'link', 'add', 'n0', 'type', 'veth', 'peer', 'name', 'n1');
    for (const mode of ['private', 'vepa', 'bridge', 'source']) ip(a, 'link', 'add', `mv-${mode}`, 'link', 'm0', 'type', 'macvlan', 'mode', mode);
    // passthru takes its parent for itself.
    ip(a, 'link', 'add', 'mv-passthru', 'link', 'n0', 'type', 'macvlan', 'mode', 'passthru');
    const m0 = await nsA.links.get('m0');
    for (const mode of ['private', 'vepa', 'bridge', 'source', 'passthru']) {
      const mv = await expectSameAsIp(nsA, a, `mv-${mode}`);
      expect(mv.info?.kind === 'macvlan' && mv.info.data?.mode).toBe(mode);
      if (mode !== 'passthru') expect(mv.linkIndex).toBe(m0.index);
    }
  });
});

describe('vxlan', () => {
  beforeAll(() => {
    ip(a, 'link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u1');
  });

  it('unicast IPv4 with local, port, dev, ttl, nolearning', async () => {
    ip(a, 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'local', '10.1.1.1', 'remote', '10.2.2.2', 'dstport', '4789', 'dev', 'u0', 'ttl', '10', 'nolearning', 'ageing', '120');
    const vx = await expectSameAsIp(nsA, a, 'vx0');
    const u0 = await nsA.links.get('u0');
    expect(vx.info?.kind === 'vxlan' && vx.info.data).toMatchObject({ vni: 42, local: '10.1.1.1', remote: '10.2.2.2', port: 4789, link: u0.index, ttl: 10, learning: false, ageing: 120 });
  });

  it('multicast group on a device, kernel default port', async () => {
    ip(a, 'link', 'add', 'vx1', 'type', 'vxlan', 'id', '43', 'group', '239.1.1.1', 'dev', 'u0', 'dstport', '0');
    const vx = await expectSameAsIp(nsA, a, 'vx1');
    expect(vx.info?.kind === 'vxlan' && vx.info.data).toMatchObject({ vni: 43, group: '239.1.1.1', port: 8472 });
  });

  it('IPv6 remote and local, source port range', async () => {
    ip(a, 'link', 'add', 'vx2', 'type', 'vxlan', 'id', '44', 'remote', '2001:db8::2', 'local', '2001:db8::1', 'dstport', '4790', 'srcport', '5000', '6000');
    const vx = await expectSameAsIp(nsA, a, 'vx2');
    expect(vx.info?.kind === 'vxlan' && vx.info.data).toMatchObject({ remote: '2001:db8::2', local: '2001:db8::1', portRange: { low: 5000, high: 6000 } });
  });

  it('external (collect metadata)', async () => {
    ip(a, 'link', 'add', 'vx3', 'type', 'vxlan', 'external', 'dstport', '4791');
    const vx = await expectSameAsIp(nsA, a, 'vx3');
    expect(vx.info?.kind === 'vxlan' && vx.info.data?.collectMetadata).toBe(true);
  });
});

describe('other kinds', () => {
  it('ifb', async () => {
    ip(a, 'link', 'add', 'ifb0', 'type', 'ifb');
    const l = await expectSameAsIp(nsA, a, 'ifb0');
    expect(l.kind).toBe('ifb');
  });

  it('a kind the library does not model (tun/tap) keeps its raw data', async (ctx) => {
    if (!existsSync('/dev/net/tun')) ctx.skip('no /dev/net/tun on this machine');
    ip(a, 'tuntap', 'add', 'dev', 'tap0', 'mode', 'tap');
    const l = await expectSameAsIp(nsA, a, 'tap0');
    expect(l.kind).toBe('tun');
    expect(l.info?.data).toBeUndefined();
    expect(l.info?.rawData?.length).toBeGreaterThan(0);
  });

  it('loopback: no kind, its own hardware type', async () => {
    const lo = await expectSameAsIp(nsA, a, 'lo');
    expect(lo).toMatchObject({ index: 1, linkType: 772, flagNames: ['LOOPBACK'] });
    expect(lo.kind).toBeUndefined();
  });
});

describe('list', () => {
  it('lists what ip lists, by index and by name, each read like get()', async () => {
    const mine = await nsA.links.list();
    const theirs = ipJson<{ ifindex: number; ifname: string }[]>(['link', 'show'], a);
    expect(mine.map((l) => [l.index, l.name])).toEqual(theirs.map((l) => [l.ifindex, l.ifname]));
    const byIndex = await nsA.links.get(mine[mine.length - 1].index);
    expect(byIndex.name).toBe(mine[mine.length - 1].name);
  });
});

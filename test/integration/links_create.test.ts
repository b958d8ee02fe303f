/**
 * Links created by the library look right to `ip -d -j link`, and read back through the library
 * the same way ip reads them. Everything happens inside this file's own namespaces.
 */
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { Netns, NetlinkError, type Link, type LinkSpec } from '../../lib/index.js';
import { ipView, libView, type LinkView } from '../../lib/format/link_views.js';
import { NS_CONTEXT } from '../../lib/api/context.js';
import { ipJson, nsName, run } from './helpers.js';

let host: Netns;
let pod: Netns;

const show = (ns: Netns, dev: string) => ipJson(['-d', 'link', 'show', 'dev', dev], ns.name)[0];
const infoData = (ns: Netns, dev: string) => show(ns, dev).linkinfo?.info_data;

function names(ns: Netns): Map<number, string> {
  return new Map(ipJson<{ ifindex: number; ifname: string }[]>(['link', 'show'], ns.name).map((l) => [l.ifindex, l.ifname]));
}

/**
 * The link as returned by add() must be what ip sees, but for `lagging`: fields the creation's
 * answer gives as of before the kernel joined the master (CreatedLink).
 */
function expectSameAsIp(ns: Netns, link: Link, lagging: (keyof LinkView)[] = []): void {
  const map = names(ns);
  const want = ipView(ipJson(['-d', 'link', 'show', 'dev', link.name], ns.name)[0], map);
  delete want.stats;
  // Flags and state may have moved since add() returned (carrier comes up asynchronously).
  const got = libView(link, want, map);
  for (const v of [want, got] as Partial<typeof want>[]) {
    delete v.flags;
    delete v.operState;
    for (const k of lagging) delete v[k];
  }
  expect(got).toEqual(want);
}

/** The netlink requests `ns`'s connection sends while `fn` runs, by message type (the kernel still answers each). */
async function requestsOf(ns: Netns, fn: () => Promise<unknown>): Promise<number[]> {
  const conn = await ns[NS_CONTEXT].rtnl();
  const types: number[] = [];
  const request = conn.request;
  conn.request = function (this: typeof conn, type, ...rest) {
    types.push(type);
    return request.call(this, type, ...rest);
  };
  try {
    await fn();
  } finally {
    conn.request = request;
  }
  return types;
}
const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;

/** Create, or skip the test when this kernel lacks the kind (never pass without checking). */
async function addOrSkip(ctx: TestContext, ns: Netns, spec: LinkSpec): Promise<Link> {
  try {
    return await ns.links.add(spec);
  } catch (e) {
    if (e instanceof NetlinkError && /Unknown device type/.test(e.kernelMessage ?? '')) {
      ctx.skip(`this kernel has no ${spec.kind} devices (kernel: "${e.kernelMessage}")`);
    }
    throw e;
  }
}

beforeAll(async () => {
  host = await Netns.create(nsName('crh'));
  pod = await Netns.create(nsName('crp'));
});

afterAll(async () => {
  await host?.close();
  await pod?.close();
});

describe('veth', () => {
  it('the CNI fast path: peer created in the pod, host end on its bridge and up, in one request', async () => {
    const br = await host.links.add({ kind: 'bridge', name: 'cni0', up: true });
    let hostEnd!: Link;
    const sent = await requestsOf(host, async () => {
      hostEnd = await host.links.add({
        kind: 'veth', name: 'veth-a1', master: 'cni0', up: true, mtu: 1450,
        peer: { name: 'eth0', netns: pod, mtu: 1450, mac: '02:42:0a:00:00:05' },
      });
    });
    expect(sent).toEqual([RTM_NEWLINK]); // the master's index came from the bridge's creation
    // The creation's answer (CreatedLink) is what ip sees, but for joining the bridge, which the
    // kernel does after it: no master yet, and the promiscuity of before.
    expectSameAsIp(host, hostEnd, ['master', 'promiscuity']);
    expect(hostEnd).toMatchObject({ up: true, promiscuity: 0 });
    expect(hostEnd.master).toBeUndefined();
    const h = show(host, 'veth-a1');
    expect(h).toMatchObject({ master: 'cni0', mtu: 1450, promiscuity: 1, linkinfo: { info_kind: 'veth', info_slave_kind: 'bridge' } });
    expect(h.flags).toContain('UP');
    const p = show(pod, 'eth0');
    expect(p).toMatchObject({ mtu: 1450, address: '02:42:0a:00:00:05', link_index: hostEnd.index, linkinfo: { info_kind: 'veth' } });
    expect(p.flags).not.toContain('UP');
    expect(hostEnd.peerIndex).toBe(p.ifindex);
    expect(hostEnd.linkNetnsid).toBe(h.link_netnsid);
    // The answer's IFLA_LINK named eth0's index in the pod: the pod's first address needs no lookup.
    expect(await requestsOf(pod, () => pod.addresses.add('eth0', '10.9.0.2/24'))).toEqual([RTM_NEWADDR]);
    expect(ipJson(['-4', 'addr', 'show', 'dev', 'eth0'], pod.name)[0].addr_info[0].local).toBe('10.9.0.2');
    // Asked for, the link is read back in the same sendmsg: then master and all are what ip sees.
    let port!: Link;
    const sent2 = await requestsOf(host, async () => {
      port = await host.links.add({ kind: 'veth', name: 'veth-a2', master: 'cni0', up: true, peer: { name: 'eth9', netns: pod } }, { read: true });
    });
    expect(sent2).toEqual([RTM_NEWLINK, RTM_GETLINK]);
    expectSameAsIp(host, port);
    expect(port).toMatchObject({ master: br.index, promiscuity: 1, info: { kind: 'veth', slaveKind: 'bridge' } });
  });

  it('peer up as well (a second request in the pod, since the kernel cannot open the peer while creating it)', async () => {
    const hostEnd = await host.links.add({ kind: 'veth', name: 'veth-b1', up: true, peer: { name: 'eth1', netns: pod, up: true } });
    expect(show(pod, 'eth1').flags).toContain('UP');
    expect(show(host, 'veth-b1').flags).toEqual(expect.arrayContaining(['UP', 'LOWER_UP']));
    expect((await host.links.get(hostEnd.index)).lowerUp).toBe(true);
  });

  it('both ends in one namespace, with txqueuelen and a MAC on each', async () => {
    const l = await host.links.add({ kind: 'veth', name: 'va', mac: '02:00:00:00:00:aa', txqueuelen: 100, peer: { name: 'vb', mac: '02:00:00:00:00:bb', txqueuelen: 200 } });
    expectSameAsIp(host, l);
    expect(show(host, 'va')).toMatchObject({ address: '02:00:00:00:00:aa', txqlen: 100, link: 'vb' });
    expect(show(host, 'vb')).toMatchObject({ address: '02:00:00:00:00:bb', txqlen: 200, link: 'va' });
  });

  it('this end created in another namespace too (netns), peer left where the request is sent', async () => {
    const l = await host.links.add({ kind: 'veth', name: 'away', netns: pod, peer: { name: 'here' } });
    expect(l.name).toBe('away');
    expect(show(pod, 'away').linkinfo.info_kind).toBe('veth');
    expect(show(host, 'here').link_index).toBe(l.index);
  });

  it('add() answers with the creation\'s echo (a read\'s state without master and up); with read: true, with a read', async () => {
    const withoutStats = ({ stats: _s, ...rest }: Link) => rest;
    // Down, no master: the creation's echo is what a read right after shows.
    const echoed = await host.links.add({ kind: 'veth', name: 'ea', peer: { name: 'eb' } });
    expect(withoutStats(echoed)).toEqual(withoutStats(await host.links.get('ea')));
    // Up with its peer down in the pod, asked to read: what a read shows once the link watcher ran.
    const readBack = await host.links.add({ kind: 'veth', name: 'ec', up: true, peer: { name: 'ed', netns: pod } }, { read: true });
    expect(withoutStats(readBack)).toEqual(withoutStats(await host.links.get('ec')));
    expect(readBack).toMatchObject({ up: true, lowerUp: false, operState: 'LOWERLAYERDOWN' });
    expect(readBack.flagNames).not.toContain('RUNNING');
    // The same without read: the echo predates the link watcher (CreatedLink), the rest is final.
    const created = await host.links.add({ kind: 'veth', name: 'ee', up: true, peer: { name: 'ef', netns: pod } });
    const now = await host.links.get('ee');
    expect(created).toMatchObject({ up: true, lowerUp: false, operState: 'UNKNOWN' });
    expect(created.flagNames).toContain('RUNNING');
    const stable = ({ flags: _f, flagNames: _n, operState: _o, ...rest }: ReturnType<typeof withoutStats>) => rest;
    expect(stable(withoutStats(created))).toEqual(stable(withoutStats(now)));
    expect(now).toMatchObject({ operState: 'LOWERLAYERDOWN' });
    // Options are checked before anything is sent.
    await expect(host.links.add({ kind: 'veth', name: 'eg', peer: { name: 'eh' } }, { read: 1 } as never)).rejects.toThrow(/read/);
    await expect(host.links.add({ kind: 'veth', name: 'eg', peer: { name: 'eh' } }, { reed: true } as never)).rejects.toThrow(/reed/);
    expect(await host.links.find('eg')).toBeUndefined();
  });

  it('queues: the kernel\'s own counts by default and with 0 (as ip link add), one on each end with 1, N active with N', async () => {
    const queues = (ns: Netns, dev: string) => run('ip', ['netns', 'exec', ns.name!, 'ls', `/sys/class/net/${dev}/queues`]).trim().split(/\s+/).sort();
    const counts = (ns: Netns, dev: string) => [show(ns, dev).num_tx_queues, show(ns, dev).num_rx_queues];
    const one = await host.links.add({ kind: 'veth', name: 'qa', queues: 1, peer: { name: 'qa', netns: pod } });
    expect([one.numTxQueues, one.numRxQueues]).toEqual([1, 1]);
    expect([counts(host, 'qa'), counts(pod, 'qa')]).toEqual([[1, 1], [1, 1]]);
    expect([queues(host, 'qa'), queues(pod, 'qa')]).toEqual([['rx-0', 'tx-0'], ['rx-0', 'tx-0']]);
    // What `ip link add ... type veth` makes: one queue per possible CPU allocated, one active.
    run('ip', ['-n', host.name!, 'link', 'add', 'qd', 'type', 'veth', 'peer', 'name', 'qe']);
    for (const [name, peer, q] of [['qb', 'qc', undefined], ['qh', 'qi', 0]] as const) {
      const kernels = await host.links.add({ kind: 'veth', name, ...(q === undefined ? {} : { queues: q }), peer: { name: peer } });
      expect(counts(host, name)).toEqual(counts(host, 'qd'));
      expect([kernels.numTxQueues, kernels.numRxQueues]).toEqual(counts(host, 'qd'));
      expect(queues(host, name)).toEqual(queues(host, 'qd'));
    }
    await host.links.add({ kind: 'veth', name: 'qf', queues: 3, peer: { name: 'qg' } });
    expect([counts(host, 'qf'), counts(host, 'qg')]).toEqual([[3, 3], [3, 3]]);
    expect(queues(host, 'qg')).toEqual(['rx-0', 'rx-1', 'rx-2', 'tx-0', 'tx-1', 'tx-2']);
  });
});

describe('bridge', () => {
  it('STP, timers, priority and switches', async () => {
    const br = await host.links.add({
      kind: 'bridge', name: 'br1', stp: true, forwardDelay: 400, helloTime: 300, maxAge: 1500, ageingTime: 1000, priority: 100,
      mcastSnooping: false, groupFwdMask: 0x4000,
    });
    expectSameAsIp(host, br);
    expect(infoData(host, 'br1')).toMatchObject({
      stp_state: 1, forward_delay: 400, hello_time: 300, max_age: 1500, ageing_time: 1000, priority: 100, mcast_snooping: 0, group_fwd_mask: '0x4000',
    });
  });

  it('vlan_filtering (skipped where the kernel lacks CONFIG_BRIDGE_VLAN_FILTERING)', async (ctx) => {
    let br: Link;
    try {
      br = await host.links.add({ kind: 'bridge', name: 'br2', vlanFiltering: true, vlanDefaultPvid: 7 });
    } catch (e) {
      if (e instanceof NetlinkError && e.code === 'EOPNOTSUPP') {
        expect(ipJson(['link', 'show'], host.name).map((l: { ifname: string }) => l.ifname)).not.toContain('br2');
        ctx.skip(`this kernel has no bridge VLAN filtering (${e.message}); nothing was created`);
      }
      throw e;
    }
    expectSameAsIp(host, br);
    expect(infoData(host, 'br2')).toMatchObject({ vlan_filtering: 1, vlan_default_pvid: 7 });
  });
});

describe('macvlan', () => {
  beforeAll(async () => {
    await host.links.add({ kind: 'veth', name: 'up0', peer: { name: 'up1' } });
    await host.links.add({ kind: 'veth', name: 'pt0', peer: { name: 'pt1' } });
  });

  for (const mode of ['private', 'vepa', 'bridge', 'source'] as const) {
    it(`mode ${mode} on a parent named by name`, async () => {
      const mv = await host.links.add({ kind: 'macvlan', name: `mv-${mode}`, link: 'up0', mode });
      expectSameAsIp(host, mv);
      expect(show(host, `mv-${mode}`)).toMatchObject({ link: 'up0', linkinfo: { info_kind: 'macvlan', info_data: { mode } } });
    });
  }

  it('mode passthru on a parent named by ifindex', async () => {
    const parent = await host.links.get('pt0');
    const mv = await host.links.add({ kind: 'macvlan', name: 'mv-pt', link: parent.index, mode: 'passthru' });
    expectSameAsIp(host, mv);
    expect(infoData(host, 'mv-pt')).toMatchObject({ mode: 'passthru' });
  });

  it('created straight into the pod on a parent of the host (the CNI macvlan way)', async () => {
    const mv = await host.links.add({ kind: 'macvlan', name: 'mvpod', link: 'up0', mode: 'bridge', netns: pod, mtu: 1400 });
    const p = show(pod, 'mvpod');
    expect(p).toMatchObject({ mtu: 1400, linkinfo: { info_kind: 'macvlan', info_data: { mode: 'bridge' } } });
    expect(p.link_netnsid).toBeTypeOf('number');
    expect(mv.linkNetnsid).toBe(p.link_netnsid);
    expect(ipJson(['link', 'show'], host.name).map((l: { ifname: string }) => l.ifname)).not.toContain('mvpod');
  });
});

describe('vxlan', () => {
  it('unicast IPv4: vni, local, remote, port, dev, ttl, learning off, ageing', async () => {
    const vx = await host.links.add({ kind: 'vxlan', name: 'vx0', vni: 42, local: '10.1.1.1', remote: '10.2.2.2', port: 4789, link: 'up0', ttl: 10, learning: false, ageing: 120 });
    expectSameAsIp(host, vx);
    expect(infoData(host, 'vx0')).toMatchObject({ id: 42, local: '10.1.1.1', remote: '10.2.2.2', port: 4789, link: 'up0', ttl: 10, learning: false, ageing: 120 });
    expect(vx.info?.kind === 'vxlan' && vx.info.data?.ttlInherit).toBe(false);
  });

  it('multicast group, default port', async () => {
    const vx = await host.links.add({ kind: 'vxlan', name: 'vx1', vni: 43, group: '239.1.1.1', link: 'up0' });
    expectSameAsIp(host, vx);
    expect(infoData(host, 'vx1')).toMatchObject({ id: 43, group: '239.1.1.1', port: 8472, link: 'up0' });
  });

  it('IPv6 remote and local, source port range, ttl inherit', async () => {
    const vx = await host.links.add({ kind: 'vxlan', name: 'vx2', vni: 16777215, remote: '2001:db8::2', local: '2001:db8::1', port: 4790, portRange: { low: 5000, high: 6000 }, ttl: 'inherit' });
    expectSameAsIp(host, vx);
    expect(infoData(host, 'vx2')).toMatchObject({ id: 16777215, remote6: '2001:db8::2', local6: '2001:db8::1', port: 4790, port_range: { low: 5000, high: 6000 } });
    // ip prints "ttl inherit" only in its text output.
    expect(run('ip', ['-n', host.name as string, '-d', 'link', 'show', 'dev', 'vx2'])).toContain(' ttl inherit ');
    expect(vx.info?.kind === 'vxlan' && vx.info.data).toMatchObject({ ttlInherit: true, remote: '2001:db8::2', local: '2001:db8::1' });
  });

  it('external (collect metadata)', async () => {
    const vx = await host.links.add({ kind: 'vxlan', name: 'vx3', collectMetadata: true, port: 4791 });
    expectSameAsIp(host, vx);
    expect(infoData(host, 'vx3')).toMatchObject({ external: true, port: 4791 });
  });
});

describe('other kinds', () => {
  it('ifb, up', async () => {
    const l = await host.links.add({ kind: 'ifb', name: 'ifb0', up: true });
    expectSameAsIp(host, l);
    expect(show(host, 'ifb0').linkinfo.info_kind).toBe('ifb');
    expect(show(host, 'ifb0').flags).toContain('UP');
  });

  it('dummy', async (ctx) => {
    const l = await addOrSkip(ctx, host, { kind: 'dummy', name: 'dum0' });
    expectSameAsIp(host, l);
  });

  it('vlan', async (ctx) => {
    const l = await addOrSkip(ctx, host, { kind: 'vlan', name: 'up0.5', link: 'up0', id: 5 });
    expectSameAsIp(host, l);
    expect(infoData(host, 'up0.5')).toMatchObject({ id: 5, protocol: '802.1Q' });
  });

  it('bond', async (ctx) => {
    const l = await addOrSkip(ctx, host, { kind: 'bond', name: 'bond0', mode: 'active-backup', miimon: 100 });
    expectSameAsIp(host, l);
    expect(infoData(host, 'bond0')).toMatchObject({ mode: 'active-backup', miimon: 100 });
  });

  it('ipvlan', async (ctx) => {
    const l = await addOrSkip(ctx, host, { kind: 'ipvlan', name: 'ipv0', link: 'pt1', mode: 'l3' });
    expectSameAsIp(host, l);
    expect(infoData(host, 'ipv0')).toMatchObject({ mode: 'l3' });
  });

  it('vrf', async (ctx) => {
    const l = await addOrSkip(ctx, host, { kind: 'vrf', name: 'vrf0', table: 10 });
    expectSameAsIp(host, l);
    expect(infoData(host, 'vrf0')).toMatchObject({ table: 10 });
  });
});

describe('exclusive create', () => {
  it('an existing name fails with EEXIST and the existing link is untouched', async () => {
    await host.links.add({ kind: 'ifb', name: 'ifb9', mtu: 1400 });
    const err = await host.links.add({ kind: 'bridge', name: 'ifb9', mtu: 1300 }).catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err.code).toBe('EEXIST');
    expect(err.message).toContain(`ip -n ${host.name} link add ifb9 mtu 1300 type bridge`);
    expect(show(host, 'ifb9')).toMatchObject({ mtu: 1400, linkinfo: { info_kind: 'ifb' } });
  });
});

describe('the link list at the end is what ip lists', () => {
  it('host and pod', async () => {
    for (const ns of [host, pod]) {
      const mine = (await ns.links.list()).map((l) => [l.index, l.name, l.kind ?? null]);
      const theirs = ipJson<{ ifindex: number; ifname: string; linkinfo?: { info_kind: string } }[]>(['-d', 'link', 'show'], ns.name)
        .map((l) => [l.ifindex, l.ifname, l.linkinfo?.info_kind ?? null]);
      expect(mine).toEqual(theirs);
    }
  });
});

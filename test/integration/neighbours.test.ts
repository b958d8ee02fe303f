/**
 * `ns.neighbours` against the real kernel, with `ip -j neigh` as the oracle. Everything happens in
 * test namespaces (see addresses_setup.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { NetlinkError, Netns, ValidationError, type Neighbour } from '../../lib/index.js';
import { canonical, ipNeighView } from '../../lib/format/ip_views.js';
import { vethWorld, type VethWorld } from './addresses_setup.js';
import { ipJson, nsName, run } from './helpers.js';

let worlds: VethWorld[] = [];
async function world(tag = 'nb'): Promise<VethWorld> {
  const w = await vethWorld(tag);
  w.ip('address', 'add', '10.1.0.1/24', 'dev', 'v0');
  w.ip('address', 'add', '2001:db8:1::1/64', 'dev', 'v0', 'nodad');
  worlds.push(w);
  return w;
}
afterEach(async () => {
  await Promise.all(worlds.map((w) => w.dispose()));
  worlds = [];
});

const ipNeigh = (w: VethWorld, ...filter: string[]) => w.ipj('neigh', 'show', 'nud', 'all', ...filter) as Record<string, unknown>[];
/** Entries of v0 only: the multicast NOARP entries the kernel adds by itself come and go with MLD. */
const onV0 = (xs: Record<string, unknown>[]) => xs.filter((n) => n.dev === 'v0' && !String(n.dst).startsWith('ff02:'));
const view = (xs: Neighbour[]) => onV0(xs.map(ipNeighView));

describe('entries created by ip read back as ip -j reports them', () => {
  it('permanent, stale, noarp, reachable router, failed, incomplete, none', async () => {
    const w = await world();
    w.ip('neigh', 'add', '10.1.0.2', 'lladdr', '02:00:00:00:00:02', 'dev', 'v0');
    w.ip('neigh', 'add', '10.1.0.3', 'lladdr', '02:00:00:00:00:03', 'dev', 'v0', 'nud', 'stale');
    w.ip('neigh', 'add', '10.1.0.4', 'lladdr', '02:00:00:00:00:04', 'dev', 'v0', 'nud', 'noarp');
    w.ip('neigh', 'add', '10.1.0.6', 'dev', 'v0', 'nud', 'failed');
    w.ip('neigh', 'add', '10.1.0.7', 'dev', 'v0', 'nud', 'incomplete');
    w.ip('neigh', 'add', '10.1.0.8', 'dev', 'v0', 'nud', 'none');
    w.ip('neigh', 'add', '2001:db8:1::2', 'lladdr', '02:00:00:00:00:22', 'dev', 'v0', 'router', 'nud', 'reachable');
    const list = await w.ns.neighbours.list({ dev: 'v0' });
    expect(canonical(view(list))).toEqual(canonical(onV0(ipNeigh(w))));
    const by = new Map(list.map((n) => [n.address, n]));
    expect(by.get('10.1.0.2')).toMatchObject({ family: 4, lladdr: '02:00:00:00:00:02', state: 'permanent', dev: 'v0' });
    expect(by.get('10.1.0.4')?.state).toBe('noarp');
    expect(by.get('10.1.0.6')).toMatchObject({ state: 'failed' });
    expect(by.get('10.1.0.6')?.lladdr).toBeUndefined();
    expect(by.get('10.1.0.8')?.state).toBe('none');
    expect(by.get('2001:db8:1::2')).toMatchObject({ family: 6, router: true, state: 'reachable' });
  });

  it('filters by family and state', async () => {
    const w = await world();
    w.ip('neigh', 'add', '10.1.0.2', 'lladdr', '02:00:00:00:00:02', 'dev', 'v0');
    w.ip('neigh', 'add', '10.1.0.3', 'lladdr', '02:00:00:00:00:03', 'dev', 'v0', 'nud', 'stale');
    w.ip('neigh', 'add', '2001:db8:1::2', 'lladdr', '02:00:00:00:00:22', 'dev', 'v0');
    expect((await w.ns.neighbours.list({ family: 4 })).map((n) => n.address).sort()).toEqual(['10.1.0.2', '10.1.0.3']);
    expect((await w.ns.neighbours.list({ state: 'stale' })).map((n) => n.address)).toEqual(['10.1.0.3']);
    const v6 = view(await w.ns.neighbours.list({ family: 'inet6', state: ['permanent'] }));
    expect(v6).toEqual(onV0(w.ipj('-6', 'neigh', 'show', 'nud', 'permanent')));
  });
});

describe('entries created by the library look right to ip -j', () => {
  it('add, replace (state and lladdr), get, delete', async () => {
    const w = await world();
    await w.ns.neighbours.add('v0', '10.1.0.2', { lladdr: '02:00:00:00:00:02' });
    await w.ns.neighbours.add('v0', '10.1.0.3', { lladdr: '02:00:00:00:00:03', state: 'noarp' });
    await w.ns.neighbours.add('v0', '2001:db8:1::2', { lladdr: '02:00:00:00:00:22', state: 'reachable', router: true });
    expect(onV0(ipNeigh(w))).toEqual(
      expect.arrayContaining([
        { dst: '10.1.0.2', dev: 'v0', lladdr: '02:00:00:00:00:02', state: ['PERMANENT'] },
        { dst: '10.1.0.3', dev: 'v0', lladdr: '02:00:00:00:00:03', state: ['NOARP'] },
        { dst: '2001:db8:1::2', dev: 'v0', lladdr: '02:00:00:00:00:22', router: null, state: ['REACHABLE'] },
      ]),
    );
    await expect(w.ns.neighbours.add('v0', '10.1.0.2', { lladdr: '02:00:00:00:00:09' })).rejects.toMatchObject({ code: 'EEXIST' });
    await w.ns.neighbours.replace('v0', '10.1.0.2', { lladdr: '02:00:00:00:00:0A', state: 'stale' });
    expect(onV0(ipNeigh(w, '10.1.0.2'))).toEqual([{ dst: '10.1.0.2', dev: 'v0', lladdr: '02:00:00:00:00:0a', state: ['STALE'] }]);
    expect(ipNeighView((await w.ns.neighbours.get('v0', '10.1.0.2'))!)).toEqual(onV0(ipNeigh(w, '10.1.0.2'))[0]);
    expect(await w.ns.neighbours.get('v0', '10.1.0.99')).toBeUndefined();

    expect(await w.ns.neighbours.delete('v0', '10.1.0.2')).toBe(true);
    expect(await w.ns.neighbours.delete('v0', '10.1.0.2', { ifExists: true })).toBe(false);
    const err = await w.ns.neighbours.delete('v0', '10.1.0.2').catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err.code).toBe('ENOENT');
    expect(await w.ns.neighbours.delete('gone0', '10.1.0.2', { ifExists: true })).toBe(false);
    expect(onV0(ipNeigh(w, '10.1.0.2'))).toEqual([]);
  });

  it('a new entry in a state that holds an address needs one: refused before anything is created', async () => {
    const w = await world();
    const err = await w.ns.neighbours.add('v0', '10.1.0.5', { state: 'permanent' }).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.field).toBe('lladdr');
    // The kernel itself would leave an entry in state NONE behind after refusing such a request.
    expect(onV0(ipNeigh(w, '10.1.0.5'))).toEqual([]);
    await expect(w.ns.neighbours.add('v0', '10.1.0.5', { lladdr: '02:00:00:00:01' })).rejects.toMatchObject({ field: 'lladdr' });
    expect(onV0(ipNeigh(w, '10.1.0.5'))).toEqual([]);
  });

  it("a kernel refusal carries the kernel's own text, the one ip prints", async () => {
    const w = await world();
    const err = await w.ns.neighbours.replace('v0', '10.1.0.5', { state: 'permanent' }).catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err).toMatchObject({ code: 'EINVAL', kernelMessage: 'No link layer address given' });
    expect(() => w.ip('neigh', 'replace', '10.1.0.6', 'dev', 'v0', 'nud', 'permanent')).toThrow(/No link layer address given/);
  });
});

describe('the gateway MAC learned through real traffic', () => {
  it('ARP resolution shows up as a reachable entry with the peer MAC', async () => {
    const host = nsName('nbhost');
    const peer = nsName('nbpeer');
    const ns = await Netns.create(host);
    run('ip', ['netns', 'add', peer]);
    try {
      run('ip', ['-n', host, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peer]);
      run('ip', ['-n', host, 'address', 'add', '10.1.0.1/24', 'dev', 'v0']);
      run('ip', ['-n', peer, 'address', 'add', '10.1.0.2/24', 'dev', 'eth0']);
      run('ip', ['-n', host, 'link', 'set', 'v0', 'up']);
      run('ip', ['-n', peer, 'link', 'set', 'eth0', 'up']);
      expect(await ns.neighbours.get('v0', '10.1.0.2')).toBeUndefined();
      // One UDP datagram makes the kernel ARP for the destination.
      run('ip', ['netns', 'exec', host, 'python3', '-c',
        "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('10.1.0.2', 9))"]);
      let gw: Neighbour | undefined;
      for (let i = 0; i < 50 && !gw?.lladdr; i++) {
        gw = await ns.neighbours.get('v0', '10.1.0.2');
        if (!gw?.lladdr) await sleep(40);
      }
      const mac = ipJson<{ address: string }[]>(['link', 'show', 'dev', 'eth0'], peer)[0].address;
      expect(gw).toMatchObject({ lladdr: mac, address: '10.1.0.2', dev: 'v0' });
      expect(['reachable', 'delay', 'stale', 'probe']).toContain(gw!.state);
      const ipView = ipJson<Record<string, unknown>[]>(['neigh', 'show', 'dev', 'v0', '10.1.0.2'], host)[0];
      expect(ipView).toMatchObject({ dst: '10.1.0.2', lladdr: mac });
    } finally {
      await ns.delete();
      run('ip', ['netns', 'delete', peer]);
    }
  });
});

describe('bad input: typed error, nothing created', () => {
  const cases: [string, string, Record<string, unknown>][] = [
    ['v0', '010.1.0.2', { lladdr: '02:00:00:00:00:02' }],
    ['v0', '10.1.0.2 ', { lladdr: '02:00:00:00:00:02' }],
    ['v0', '10.1.0.2/32', { lladdr: '02:00:00:00:00:02' }],
    ['v0', '10.1.0.2', { lladdr: '02:00:00:00:00' }],
    ['v0', '10.1.0.2', { lladdr: '02-00-00-00-00-02' }],
    ['v0', '10.1.0.2', { lladdr: '02:00:00:00:00:02', state: 'PERMANENT' }],
    ['v0', '10.1.0.2', { lladdr: '02:00:00:00:00:02', router: 1 }],
    ['v 0', '10.1.0.2', { lladdr: '02:00:00:00:00:02' }],
  ];
  it.each(cases)('add(%j, %j, %j)', async (dev, address, opts) => {
    const w = await world('nbbad');
    const before = onV0(ipNeigh(w));
    const err = await w.ns.neighbours.add(dev, address, opts).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(onV0(ipNeigh(w))).toEqual(before);
  });
});

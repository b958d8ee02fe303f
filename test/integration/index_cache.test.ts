/**
 * The name -> ifindex cache of a handle (Links.withIndexes): names are resolved once, and an index
 * gone stale behind the library's back (the link deleted and re-created by another process) is
 * noticed by the failure it causes, looked up again and the request retried once. `ip` is the
 * outside actor and the oracle.
 */
import { describe, expect, it } from 'vitest';
import { NetlinkError, Netns } from '../../lib/index.js';
import { ipJson, nsName, run } from './helpers.js';

const addrs = (ns: string, dev: string): string[] =>
  ipJson<{ addr_info: { local: string; prefixlen: number }[] }[]>(['-4', 'addr', 'show', 'dev', dev], ns).flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`));

describe('name -> ifindex cache', () => {
  it('an address goes to the link now named so after another process re-created it', async () => {
    const ns = await Netns.create(nsName('cache'));
    try {
      await ns.links.add({ kind: 'bridge', name: 'c0' });
      await ns.addresses.add('c0', '10.31.0.1/24'); // c0's index is now cached
      const before = (await ns.links.get('c0')).index;
      run('ip', ['-n', ns.name!, 'link', 'del', 'c0']);
      run('ip', ['-n', ns.name!, 'link', 'add', 'c0', 'type', 'bridge']);
      const after = (await ns.links.get('c0')).index;
      expect(after).not.toBe(before);
      await ns.addresses.add('c0', '10.31.0.2/24');
      expect(addrs(ns.name!, 'c0')).toEqual(['10.31.0.2/24']);
    } finally {
      await ns.delete();
    }
  });

  it('a master re-created by another process is found again; a vanished one is ENODEV naming it', async () => {
    const ns = await Netns.create(nsName('cachem'));
    try {
      await ns.links.add({ kind: 'bridge', name: 'm0' });
      await ns.links.add({ kind: 'veth', name: 'v0', master: 'm0', peer: { name: 'w0' } });
      run('ip', ['-n', ns.name!, 'link', 'del', 'm0']);
      run('ip', ['-n', ns.name!, 'link', 'add', 'm0', 'type', 'bridge']);
      await ns.links.add({ kind: 'veth', name: 'v1', master: 'm0', peer: { name: 'w1' } });
      expect(ipJson<{ ifname: string }[]>(['link', 'show', 'master', 'm0'], ns.name!).map((l) => l.ifname)).toEqual(['v1']);

      run('ip', ['-n', ns.name!, 'link', 'del', 'm0']);
      const err = await ns.links.add({ kind: 'veth', name: 'v2', master: 'm0', peer: { name: 'w2' } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NetlinkError);
      expect((err as NetlinkError).code).toBe('ENODEV');
      expect((err as NetlinkError).message).toContain('m0');
      expect(ipJson<{ ifname: string }[]>(['link', 'show'], ns.name!).map((l) => l.ifname)).not.toContain('v2');
    } finally {
      await ns.delete();
    }
  });

  it("a veth's peer index is known in the peer's namespace without a lookup, and stays right after the library renames it", async () => {
    const host = await Netns.create(nsName('cacheh'));
    const pod = await Netns.create(nsName('cachep'));
    try {
      const v = await host.links.add({ kind: 'veth', name: 'h0', peer: { name: 'eth0', netns: pod } });
      expect(v.peerIndex).toBe((await pod.links.get('eth0')).index);
      await pod.addresses.add('eth0', '10.32.0.2/24');
      expect(addrs(pod.name!, 'eth0')).toEqual(['10.32.0.2/24']);
      await pod.links.set('eth0', { name: 'eth9' });
      await pod.links.add({ kind: 'bridge', name: 'eth0' });
      await pod.addresses.add('eth0', '10.33.0.1/24');
      expect(addrs(pod.name!, 'eth0')).toEqual(['10.33.0.1/24']);
      expect(addrs(pod.name!, 'eth9')).toEqual(['10.32.0.2/24']);
    } finally {
      await host.delete();
      await pod.delete();
    }
  });

  it('routes, setMaster and addresses.delete use the cache and follow a link re-created behind the library', async () => {
    const ns = await Netns.create(nsName('cacher'));
    try {
      await ns.links.add({ kind: 'bridge', name: 'r0', up: true });
      await ns.links.add({ kind: 'bridge', name: 'b0' });
      await ns.links.add({ kind: 'veth', name: 'p0', peer: { name: 'q0' } });
      await ns.addresses.add('r0', '10.34.0.1/24');
      await ns.routes.add({ destination: '10.35.0.0/16', dev: 'r0' }); // r0 and b0 are cached now
      await ns.links.setMaster('p0', 'b0');
      for (const dev of ['r0', 'b0']) {
        run('ip', ['-n', ns.name!, 'link', 'del', dev]);
        run('ip', ['-n', ns.name!, 'link', 'add', dev, 'type', 'bridge']);
      }
      run('ip', ['-n', ns.name!, 'link', 'set', 'r0', 'up']);
      run('ip', ['-n', ns.name!, 'addr', 'add', '10.34.0.1/24', 'dev', 'r0']);
      await ns.routes.add({ destination: '10.36.0.0/16', dev: 'r0' });
      expect(ipJson<{ dst: string; dev: string }[]>(['route', 'show', '10.36.0.0/16'], ns.name!).map((r) => r.dev)).toEqual(['r0']);
      await ns.links.setMaster('p0', 'b0');
      expect(ipJson<{ ifname: string }[]>(['link', 'show', 'master', 'b0'], ns.name!).map((l) => l.ifname)).toEqual(['p0']);
      expect(await ns.addresses.delete('r0', '10.34.0.1/24')).toBe(true);
      expect(addrs(ns.name!, 'r0')).toEqual([]);
      // A master that vanished for good: the kernel's error stands, naming the master.
      run('ip', ['-n', ns.name!, 'link', 'del', 'b0']);
      const err = await ns.links.setMaster('q0', 'b0').catch((e: unknown) => e);
      expect((err as NetlinkError).code).toBe('ENODEV');
      expect((err as NetlinkError).message).toContain('b0');
    } finally {
      await ns.delete();
    }
  });
});

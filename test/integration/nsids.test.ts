/**
 * `ns.nsids` against the real kernel, with `ip -n NS netns list-id` / `ip -n NS netns set` as the
 * oracle. Ids are only ever assigned inside test namespaces, never in the machine's own.
 */
import { describe, expect, it } from 'vitest';
import { NetlinkError, Netns, ValidationError } from '../../lib/index.js';
import { ipJson, nsName, run } from './helpers.js';

/** `ip -n NS netns list-id` as [{nsid, name?}]. */
function ipListId(ns: string): { nsid: number; name?: string }[] {
  return run('ip', ['-n', ns, 'netns', 'list-id'])
    .split('\n')
    .filter((l) => l.startsWith('nsid '))
    .map((l) => {
      const m = /^nsid (\d+)(?: \(iproute2 netns name: (\S+)\))?/.exec(l)!;
      return m[2] === undefined ? { nsid: Number(m[1]) } : { nsid: Number(m[1]), name: m[2] };
    });
}

async function trio(): Promise<{ host: Netns; a: string; b: string; close(): Promise<void> }> {
  const host = await Netns.create(nsName('idhost'));
  const a = nsName('ida');
  const b = nsName('idb');
  run('ip', ['netns', 'add', a]);
  run('ip', ['netns', 'add', b]);
  return {
    host,
    a,
    b,
    close: async () => {
      await host.delete();
      run('ip', ['netns', 'delete', a]);
      run('ip', ['netns', 'delete', b]);
    },
  };
}

describe('assigning and reading ids', () => {
  it('ids assigned by the library are those ip netns list-id shows, and the other way round', async () => {
    const t = await trio();
    try {
      expect(await t.host.nsids.list()).toEqual([]);
      expect(await t.host.nsids.get(t.a)).toBeUndefined();
      expect(await t.host.nsids.assign(t.a, 5)).toBe(5);
      run('ip', ['-n', t.host.name!, 'netns', 'set', t.b, '9']);
      expect(await t.host.nsids.get(t.b)).toBe(9);
      expect(await t.host.nsids.get(`/run/netns/${t.a}`)).toBe(5);
      expect(await t.host.nsids.list()).toEqual([{ nsid: 5, name: t.a }, { nsid: 9, name: t.b }]);
      expect(await t.host.nsids.list()).toEqual(ipListId(t.host.name!));
      // Ids are per namespace: the peer itself has assigned nothing.
      expect(ipListId(t.a)).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('kernel-chosen ids, ensure() is idempotent, handles work as peers', async () => {
    const t = await trio();
    const peer = await Netns.open(t.a);
    try {
      const first = await t.host.nsids.assign(peer);
      expect(first).toBeGreaterThanOrEqual(0);
      expect(await t.host.nsids.ensure(peer)).toBe(first);
      expect(await t.host.nsids.ensure(t.a)).toBe(first);
      const second = await t.host.nsids.ensure(t.b);
      expect(second).not.toBe(first);
      expect(ipListId(t.host.name!).map((e) => e.nsid).sort()).toEqual([first, second].sort());
    } finally {
      await peer.close();
      await t.close();
    }
  });

  it('the kernel refuses a second id for a peer and an id already in use', async () => {
    const t = await trio();
    try {
      await t.host.nsids.assign(t.a, 3);
      const again = await t.host.nsids.assign(t.a, 4).catch((e) => e);
      expect(again).toBeInstanceOf(NetlinkError);
      expect(again.code).toBe('EEXIST');
      const taken = await t.host.nsids.assign(t.b, 3).catch((e) => e);
      expect(taken).toBeInstanceOf(NetlinkError);
      expect(taken.code).toBe('EEXIST');
      expect(taken.kernelMessage).toMatch(/already used|already has/);
      expect(ipListId(t.host.name!)).toEqual([{ nsid: 3, name: t.a }]);
    } finally {
      await t.close();
    }
  });

  it('a veth whose peer lives in another namespace gets an id the library can name', async () => {
    const t = await trio();
    try {
      run('ip', ['-n', t.host.name!, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', t.a]);
      const [v0] = ipJson<{ link_netnsid: number }[]>(['link', 'show', 'dev', 'v0'], t.host.name!);
      expect(await t.host.nsids.list()).toEqual([{ nsid: v0.link_netnsid, name: t.a }]);
      expect(await t.host.nsids.get(t.a)).toBe(v0.link_netnsid);
    } finally {
      await t.close();
    }
  });
});

describe('bad input', () => {
  it('typed errors before anything is assigned', async () => {
    const t = await trio();
    try {
      const cases: [string, number, string][] = [
        [t.a, -5, 'ERR_INVALID_ARG'],
        [t.a, 1.5, 'ERR_INVALID_ARG'],
        [t.a, 2 ** 31, 'ERR_INVALID_ARG'],
        ['..', 1, 'ERR_INVALID_ARG'],
        ['', 1, 'ERR_INVALID_ARG'],
        ['/nonexistent/ns', 1, 'ENOENT'], // a path: opened, and its absence reported as such
      ];
      for (const [peer, id, code] of cases) {
        const err = await t.host.nsids.assign(peer, id).catch((e) => e);
        expect(err.code, `${peer} ${id}`).toBe(code);
        if (code === 'ERR_INVALID_ARG') expect(err).toBeInstanceOf(ValidationError);
      }
      await expect(t.host.nsids.get('no-such-namespace-here')).rejects.toMatchObject({ code: 'ENOENT' });
      expect(ipListId(t.host.name!)).toEqual([]);
    } finally {
      await t.close();
    }
  });
});

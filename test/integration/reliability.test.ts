/**
 * Issue 9: never wedge, never leak. Concurrent dumps from several processes (item 1), an overrun
 * flood where every promise must settle (item 2), close() racing requests of the same tick (item 3),
 * and errors that are NetnsErrors even for a NUL in a path (item 7). The kernel answers; `ip` and
 * /proc/self/fd are the oracles.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ClosedError, Netns, NetnsError } from '../../lib/index.js';
import { openNetlink } from '../../lib/netlink/connection.js';
import { NLM_F_ECHO } from '../../lib/netlink/constants.js';
import { RTM_GETLINK } from '../../lib/rtnl/constants.js';
import { ipJson, nsName, settledFdCount } from './helpers.js';

const execFileP = promisify(execFile);
const child = fileURLToPath(new URL('./child_dumps.mjs', import.meta.url));

describe('item 1: concurrent dumps on one handle never wedge it', () => {
  it('4 processes x 400 rounds of links+addresses+routes list() in parallel, all settle', async () => {
    const runs = await Promise.all(
      Array.from({ length: 4 }, (_, i) => execFileP(process.execPath, [child, '400', String(i % 2 ? 3 : 0)], { timeout: 120_000 })),
    );
    const results = runs.map((r) => JSON.parse(r.stdout.trim().split('\n').pop()!));
    const races = results.reduce((n, r) => n + (r.stats.dumpRaceErrors ?? 0), 0);
    console.log(`concurrent dumps: ${results.length} processes, ${results.length * 400} rounds, dump-race EINVALs skipped: ${races}`);
    for (const r of results) {
      expect(r).toMatchObject({ rounds: 400, wedged: 0, failed: 0 });
    }
  }, 180_000);
});

describe('item 2: an overrun flood settles every promise, and the connection recovers', () => {
  it('5,000 pipelined link requests on a 1 MiB socket: each resolves or fails with ENOBUFS; the next request succeeds', async () => {
    const ns = await Netns.create(nsName('flood'));
    try {
      for (let i = 0; i < 8; i++) await ns.links.add({ name: `fb${i}`, kind: 'bridge' });
      const conn = await openNetlink({ nsFd: ns.fd, rcvbuf: 1 << 20, maxInFlight: 100_000, timeout: 30_000 });
      // RTM_GETLINK for every link with NLM_F_ECHO-free dumps would be one at a time; single GETs by
      // index pipeline freely, each answered with a ~1.5 KiB message plus the ACK.
      const body = Buffer.alloc(16);
      body.writeInt32LE(1, 4); // lo
      const settled = await Promise.allSettled(Array.from({ length: 5000 }, () => conn.request(RTM_GETLINK, 0, body, 'flood')));
      const ok = settled.filter((s) => s.status === 'fulfilled').length;
      const reasons = new Set(settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => (s.reason as NetnsError).code));
      console.log(`flood: ${ok} answered, ${5000 - ok} failed with ${[...reasons].join(', ') || 'nothing'}`);
      expect([...reasons].every((c) => c === 'ENOBUFS')).toBe(true);
      expect(conn.pending).toBe(0);
      // After the overrun the connection works again (a fresh socket if it had to be replaced).
      const again = await conn.request(RTM_GETLINK, 0, body, 'after flood');
      expect(again.length).toBe(1);
      conn.close();
      void NLM_F_ECHO;
    } finally {
      await ns.delete();
    }
  }, 120_000);
});

describe('item 3: close() racing requests made in the same tick', () => {
  it('nothing the handle owns stays open, and every later call rejects with ClosedError', async () => {
    const name = nsName('close');
    const owner = await Netns.create(name);
    await owner.links.list(); // warm: the addon's threads and the owner's socket exist
    const baseline = await settledFdCount();
    for (let i = 0; i < 20; i++) {
      const ns = await Netns.open(name);
      const before = ns.links.list(); // same tick as close()
      const closing = ns.close();
      const after = ns.links.list();
      const [b, a] = await Promise.allSettled([before, after, closing]);
      expect(b.status === 'fulfilled' || (b as PromiseRejectedResult).reason instanceof ClosedError).toBe(true);
      expect((a as PromiseRejectedResult).reason).toBeInstanceOf(ClosedError);
      await expect(ns.addresses.list()).rejects.toBeInstanceOf(ClosedError);
    }
    expect(await settledFdCount()).toBe(baseline);
    await owner.delete();
  });
});

describe('item 7: every error is a NetnsError', () => {
  it('a NUL in a path given to Netns.open is a ValidationError, not a plain TypeError', async () => {
    await expect(Netns.open('/run/netns/a\0b')).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
    await expect(Netns.open('/run/netns/a\0b')).rejects.toBeInstanceOf(NetnsError);
    await expect(Netns.open('a\0b')).rejects.toBeInstanceOf(NetnsError);
  });
});

describe('item 4: a failed move changes nothing', () => {
  it('moveTo(link, ns, { name }) with the name taken in the target fails EEXIST and the link stays where it was', async () => {
    const a = await Netns.create(nsName('mva'));
    const b = await Netns.create(nsName('mvb'));
    try {
      await a.links.add({ name: 'mv0', kind: 'veth', peer: { name: 'mvp0' } });
      await b.links.add({ name: 'eth0', kind: 'bridge' });
      await expect(a.links.moveTo('mv0', b, { name: 'eth0' })).rejects.toMatchObject({ code: 'EEXIST' });
      expect(ipJson(['link', 'show', 'mv0'], a.name).map((l: { ifname: string }) => l.ifname)).toEqual(['mv0']);
      expect(ipJson(['link', 'show'], b.name).map((l: { ifname: string }) => l.ifname).sort()).toEqual(['eth0', 'lo']);
      // And a free name still moves it, renamed.
      await a.links.moveTo('mv0', b, { name: 'eth1' });
      expect(ipJson(['link', 'show', 'eth1'], b.name)).toHaveLength(1);
    } finally {
      await a.delete();
      await b.delete();
    }
  });
});

describe('item 5: names are free once Netns.delete() resolves', () => {
  it('20 rounds: a pod with a veth whose host end is in another namespace is deleted and the same veth is re-added at once', async () => {
    const host = await Netns.create(nsName('host'));
    try {
      for (let i = 0; i < 20; i++) {
        const pod = await Netns.create(nsName('pod'));
        await host.links.add({ name: 'vh0', kind: 'veth', peer: { name: 'eth0', netns: pod } });
        await pod.delete();
        // Without deleting the veth first this failed EEXIST: the kernel frees the pair 4-39 ms later.
        expect(ipJson(['link', 'show'], host.name).map((l: { ifname: string }) => l.ifname)).toEqual(['lo']);
        await host.links.add({ name: 'vh0', kind: 'veth', peer: { name: 'vp0' } });
        await host.links.delete('vh0');
      }
    } finally {
      await host.delete();
    }
  });
});

describe('item 6: options objects reject unknown keys', () => {
  it('typos are ValidationErrors and nothing is done', async () => {
    const ns = await Netns.create(nsName('keys'));
    try {
      await ns.links.add({ name: 'k0', kind: 'bridge' });
      await expect(ns.links.delete('k0', { ifExist: true } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
      await expect(ns.links.list({ knd: 'bridge' } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
      await expect(ns.links.moveTo('k0', ns, { nmae: 'x' } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
      await expect(Netns.delete(ns.name!, { ifexists: true } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
      expect(ipJson(['link', 'show', 'k0'], ns.name)).toHaveLength(1);
    } finally {
      await ns.delete();
    }
  });
});

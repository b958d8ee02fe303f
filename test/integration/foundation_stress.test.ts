/**
 * The foundation's promises under load: threads stay in their namespace, fds and pins do not leak,
 * one connection answers thousands of concurrent requests correctly, and the event loop stays free.
 */
import { spawnSync } from 'node:child_process';
import { readlinkSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Netns, NetlinkError, openNetlink } from '../../lib/index.js';
import { native } from '../../lib/native.js';
import { NLM_F_CREATE, NLM_F_EXCL } from '../../lib/netlink/constants.js';
import { RTM_GETLINK, RTM_NEWLINK } from '../../lib/rtnl/constants.js';
import { IFLA_INFO_KIND, IFLA_LINKINFO, decodeLinkMessage, encodeLinkBody } from '../../lib/rtnl/link/index.js';
import { nsName, settledFdCount, ownNamespace, pinnedNames, threadNamespaces } from './helpers.js';

function expectAllThreadsHome(): void {
  const home = ownNamespace();
  const wrong = [...threadNamespaces()].filter(([, ns]) => ns !== home);
  expect(wrong).toEqual([]);
}

describe('threads', () => {
  it('1,000 concurrent namespace operations leave every thread in its namespace and the pool bounded', async () => {
    const addon = native();
    // No link is deleted here, so no sender thread starts: the fixed workers and the I/O thread only.
    const fixedThreads = addon.maxThreads() - addon.sweepStats().sendersMax;
    const names = Array.from({ length: 100 }, (_, i) => nsName(`thr${i}-`));
    const ops: Promise<unknown>[] = [];
    const created: Netns[] = [];
    let failures = 0;
    const track = (p: Promise<unknown>) => ops.push(p.catch(() => { failures++; }));
    for (let i = 0; i < 1000; i++) {
      switch (i % 10) {
        case 0: track(Netns.create(names[i / 10]).then((ns) => created.push(ns))); break;
        case 1: track(Netns.anonymous().then((ns) => created.push(ns))); break;
        case 2: track(Netns.anonymous().then(async (ns) => { const c = await openNetlink({ nsFd: ns.fd }); c.close(); await ns.close(); })); break;
        case 3: track(Netns.open('/run/netns/does-not-exist-' + i)); break; // fails: ENOENT
        case 4: track(Netns.open('/etc/hostname')); break; // fails: not a namespace
        case 5: track(Netns.fromPid(process.pid).then((ns) => ns.close())); break;
        case 6: track(Netns.current().then((ns) => ns.close())); break;
        case 7: track(Netns.fromPid(2 ** 22 + 7)); break; // fails: no such process
        case 8: track(openNetlink({}).then((c) => c.close())); break;
        default: track(Netns.anonymous().then(async (ns) => { await ns.links.list(); await ns.close(); })); break;
      }
      expect(addon.threadCount()).toBeLessThanOrEqual(fixedThreads);
    }
    await Promise.all(ops);
    expect(failures).toBe(300);
    expect(created).toHaveLength(200);
    expectAllThreadsHome();
    expect(addon.threadCount()).toBeLessThanOrEqual(fixedThreads);
    for (const ns of created) {
      if (ns.name) await ns.delete();
      else await ns.close();
    }
    expectAllThreadsHome();
  });
});

describe('leaks and hygiene', () => {
  it('1,000 create/use/delete cycles return the fd count to its baseline and leave no pins', async () => {
    // Warm up lazily opened resources (the addon, its threads, the shared connection).
    const warm = await Netns.create(nsName('warm'));
    await warm.links.list();
    await warm.delete();
    const baseline = await settledFdCount();
    const prefix = nsName('cyc');
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const ns = await Netns.create(`${prefix}-${batch}-${i}`);
          const links = await ns.links.list();
          if (links.length !== 1) throw new Error('expected only lo');
          await ns.delete();
        }),
      );
    }
    expect(await settledFdCount()).toBe(baseline);
    expect(pinnedNames().filter((n) => n.startsWith(prefix))).toEqual([]);
  });

  it('a child process spawned while 100 handles are open sees none of their fds', async () => {
    const handles = await Promise.all(Array.from({ length: 100 }, () => Netns.anonymous()));
    try {
      await Promise.all(handles.slice(0, 20).map((h) => h.links.list())); // open netlink sockets too
      const ours = new Set(handles.map((h) => `net:[${h.identity.ino}]`));
      const parentTargets = readdirSync('/proc/self/fd').map((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`); } catch { return ''; } });
      expect(parentTargets.filter((t) => ours.has(t))).toHaveLength(100);
      const r = spawnSync('sh', ['-c', 'for f in /proc/self/fd/*; do readlink "$f"; done'], { encoding: 'utf8' });
      const childTargets = r.stdout.split('\n').filter(Boolean);
      expect(childTargets.filter((t) => ours.has(t) || t.startsWith('net:['))).toEqual([]);
      // Only stdio (and the fd the shell uses to list) are open in the child.
      expect(childTargets.length).toBeLessThanOrEqual(5);
    } finally {
      await Promise.all(handles.map((h) => h.close()));
    }
  });
});

describe('one connection, many requests', () => {
  it('2,000 concurrent requests mixing successes and errors each get their own answer', async () => {
    await using ns = await Netns.anonymous();
    const conn = await ns.rtnl();
    const bridge = (name: string) =>
      encodeLinkBody({}, { ifname: name }, (a) => a.nested(IFLA_LINKINFO, (n) => n.string(IFLA_INFO_KIND, 'bridge')));
    const get = (name: string) => encodeLinkBody({}, { ifname: name });
    const N = 500;
    const jobs: Promise<string>[] = [];
    for (let i = 0; i < N; i++) {
      const name = `br${i}`;
      jobs.push(conn.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, bridge(name), `add ${name}`).then(() => `created ${name}`));
      jobs.push(conn.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, bridge(name), `add again ${name}`).then(() => 'unexpected', (e: NetlinkError) => `${e.code} ${e.operation}`));
      jobs.push(conn.request(RTM_GETLINK, 0, get(name), `get ${name}`).then((m) => `got ${decodeLinkMessage(m[0].payload).attrs.ifname}`));
      jobs.push(conn.request(RTM_GETLINK, 0, get(`nx${i}`), `get nx${i}`).then(() => 'unexpected', (e: NetlinkError) => `${e.code} ${e.operation}`));
    }
    const results = await Promise.all(jobs);
    for (let i = 0; i < N; i++) {
      expect(results.slice(4 * i, 4 * i + 4)).toEqual([`created br${i}`, `EEXIST add again br${i}`, `got br${i}`, `ENODEV get nx${i}`]);
    }
    expect((await ns.links.list()).length).toBe(N + 1);
  });

  it('surfaces the kernel extended-ack text', async () => {
    await using ns = await Netns.anonymous();
    const conn = await ns.rtnl();
    const body = encodeLinkBody({}, { ifname: 'x0' }, (a) => a.nested(IFLA_LINKINFO, (n) => n.string(IFLA_INFO_KIND, 'nosuchkind')));
    const err = await conn.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body, 'ip link add x0 type nosuchkind').catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err.kernelMessage).toBe('Unknown device type');
    expect(err.message).toContain('ip link add x0 type nosuchkind: Unknown device type');
  });
});

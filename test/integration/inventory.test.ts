/**
 * inventory() and cleanupOrphans() against the machine's real namespaces, with `lsns -t net -J`,
 * `ip netns list-id` and /run/netns as oracles. Every namespace and file made here uses the run's
 * prefix and is removed even when a test fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readlinkSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Netns, ValidationError } from '../../lib/index.js';
import { cleanupOrphans, inventory, parseNsfsMounts } from '../../lib/observe/inventory.js';
import { nsName, run } from './helpers.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** A namespace that only a sleeping process holds (no pin, no fd of ours). */
async function sleeper(): Promise<{ pid: number; inode: number }> {
  const c = spawn('unshare', ['-n', 'sleep', '120'], { stdio: 'ignore' });
  children.push(c);
  // unshare execs sleep in the same process once the namespace exists.
  for (let i = 0; i < 100; i++) {
    try {
      const link = readlinkSync(`/proc/${c.pid}/ns/net`);
      if (link !== readlinkSync('/proc/self/ns/net') && readlinkSync(`/proc/${c.pid}/exe`).endsWith('/sleep')) {
        return { pid: c.pid!, inode: Number(/\d+/.exec(link)![0]) };
      }
    } catch {
      // not started yet
    }
    await sleep(20);
  }
  throw new Error('unshare -n sleep did not start');
}

describe('inventory', () => {
  it('finds a namespace held only by a sleeping process, a pinned orphan and a stale pin, and agrees with lsns', async () => {
    const s = await sleeper();
    const orphan = nsName('orph');
    run('ip', ['netns', 'add', orphan]);
    run('ip', ['netns', 'set', orphan, '77']);
    const stale = nsName('stale');
    closeSync(openSync(`/run/netns/${stale}`, 'w')); // a placeholder no namespace was ever mounted on
    const orphanInode = statSync(`/run/netns/${orphan}`).ino;

    const inv = await inventory();
    const bySleeper = inv.namespaces.find((n) => n.inode === s.inode);
    expect(bySleeper).toMatchObject({ state: 'in-use', names: [], mounts: [], current: false });
    expect(bySleeper!.processes).toEqual([{ pid: s.pid, command: 'sleep' }]);

    const byOrphan = inv.namespaces.find((n) => n.inode === orphanInode);
    expect(byOrphan).toMatchObject({ state: 'pinned-no-process', names: [orphan], mounts: [`/run/netns/${orphan}`], processes: [], nsid: 77 });
    expect(Date.now() - byOrphan!.since!).toBeLessThan(60_000);

    expect(inv.stalePins.map((p) => p.name)).toContain(stale);
    expect(inv.namespaces.some((n) => n.names.includes(stale))).toBe(false);

    const own = inv.namespaces.find((n) => n.current)!;
    expect(own.inode).toBe(statSync('/proc/self/ns/net').ino);
    expect(own.processes.some((p) => p.pid === process.pid)).toBe(true);

    // lsns lists namespaces that processes run in; compare those it shares with us.
    const lsns = JSON.parse(run('lsns', ['-t', 'net', '-J'])).namespaces as Array<{ ns: number; nprocs: number; pid: number; netnsid: string | number | null; command: string }>;
    const l = lsns.find((x) => Number(x.ns) === s.inode)!;
    expect(l).toBeDefined();
    expect(bySleeper!.processes.length).toBe(Number(l.nprocs));
    expect(bySleeper!.processes[0].pid).toBe(Number(l.pid));
    expect(String(l.command).split(' ')[0]).toBe(bySleeper!.processes[0].command);
    expect(bySleeper!.nsid === undefined ? 'unassigned' : String(bySleeper!.nsid)).toBe(String(l.netnsid ?? 'unassigned'));
    // Every namespace lsns sees, we see too.
    const ours = new Set(inv.namespaces.map((n) => n.inode));
    for (const x of lsns) expect(ours.has(Number(x.ns))).toBe(true);
  });

  it('reports a namespace held only by an fd', async () => {
    const ns = await Netns.anonymous();
    try {
      const inv = await inventory();
      const e = inv.namespaces.find((n) => n.inode === ns.identity.ino)!;
      expect(e.state).toBe('held-by-fd');
      expect(e.fdHolders).toContainEqual(expect.objectContaining({ pid: process.pid, fd: ns.fd }));
    } finally {
      await ns.close();
    }
  });

  it('parses nsfs mounts with escaped mount points', () => {
    const text = [
      '1021 29 0:4 net:[4026532302] /run/netns/a\\040b rw shared:5 - nsfs nsfs rw',
      '30 29 0:27 / /sys rw,nosuid - sysfs sysfs rw',
      '1022 29 0:4 mnt:[4026532303] /run/x rw - nsfs nsfs rw',
    ].join('\n');
    expect(parseNsfsMounts(text)).toEqual([{ inode: 4026532302, mountPoint: '/run/netns/a b' }]);
  });
});

describe('cleanupOrphans', () => {
  it('refuses to run without a selector and rejects unknown keys', async () => {
    await expect(cleanupOrphans({})).rejects.toBeInstanceOf(ValidationError);
    await expect(cleanupOrphans({ dryRun: true })).rejects.toBeInstanceOf(ValidationError);
    await expect(cleanupOrphans({ prefix: '' })).rejects.toBeInstanceOf(ValidationError);
    await expect(cleanupOrphans({ prefix: 'x', everything: true } as never)).rejects.toBeInstanceOf(ValidationError);
  });

  it('dry run lists pinned orphans and stale pins by prefix; the real run removes only those, never a namespace in use', async () => {
    const prefix = nsName('cl');
    const orphan = `${prefix}-orphan`;
    const stale = `${prefix}-stale`;
    const busy = `${prefix}-busy`;
    for (const n of [orphan, busy]) run('ip', ['netns', 'add', n]);
    closeSync(openSync(`/run/netns/${stale}`, 'w'));
    const c = spawn('ip', ['netns', 'exec', busy, 'sleep', '120'], { stdio: 'ignore' });
    children.push(c);
    const busyIno = statSync(`/run/netns/${busy}`).ino;
    for (let i = 0; i < 100; i++) {
      try {
        if (statSync(`/proc/${c.pid}/ns/net`).ino === busyIno) break;
      } catch {
        // starting
      }
      await sleep(20);
    }
    try {
      const plan = await cleanupOrphans({ prefix, dryRun: true });
      expect(plan.map((r) => [r.name, r.reason, r.removed]).sort()).toEqual([
        [orphan, 'pinned-no-process', false],
        [stale, 'stale-pin', false],
      ]);
      expect(existsSync(`/run/netns/${orphan}`)).toBe(true);

      // Age selects nothing this young.
      expect(await cleanupOrphans({ prefix, olderThanMs: 3600_000 })).toEqual([]);

      const done = await cleanupOrphans({ prefix });
      expect(done.every((r) => r.removed)).toBe(true);
      expect(existsSync(`/run/netns/${orphan}`)).toBe(false);
      expect(existsSync(`/run/netns/${stale}`)).toBe(false);
      expect(existsSync(`/run/netns/${busy}`)).toBe(true);
      expect(run('ip', ['netns', 'list'])).not.toContain(orphan);
    } finally {
      for (const n of [orphan, busy, stale]) {
        try {
          run('ip', ['netns', 'delete', n]);
        } catch {
          // removed by the test
        }
      }
    }
  });

  it('by exact names', async () => {
    const a = nsName('na');
    const b = nsName('nb');
    run('ip', ['netns', 'add', a]);
    run('ip', ['netns', 'add', b]);
    const done = await cleanupOrphans({ names: [a] });
    expect(done.map((r) => r.name)).toEqual([a]);
    expect(existsSync(`/run/netns/${a}`)).toBe(false);
    expect(existsSync(`/run/netns/${b}`)).toBe(true);
  });
});

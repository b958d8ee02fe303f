/**
 * attach / identify / pids against the real kernel, with `ip netns attach|identify|pids` as the
 * oracle and a process started by `ip netns exec NAME sleep 30` as the fixture.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Netns, SystemError, ValidationError } from '../../lib/index.js';
import { RUN_PREFIX, nsName, ownNamespace, pinnedNames, run, threadNamespaces } from './helpers.js';

const children: ChildProcess[] = [];

/** `ip netns exec NAME ...args`, once the command has replaced ip (same PID, inside the namespace). */
async function startIn(name: string, args: string[], comm: string): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', name, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  for (let i = 0; i < 500; i++) {
    try {
      if (readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim() === comm) return child;
    } catch {
      // not started yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${args.join(' ')} did not start in ${name}`);
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited; // Node has reaped it
}

afterAll(async () => {
  await Promise.all(children.map(kill));
  const home = ownNamespace();
  expect([...threadNamespaces()].filter(([, n]) => n !== home)).toEqual([]);
});

describe('a process started inside a namespace', () => {
  it('is found by pids(), its namespace opened by PID is the same, identify names it, attach pins it', async () => {
    const name = nsName('att');
    const alias = nsName('alias');
    const ns = await Netns.create(name);
    try {
      const child = await startIn(name, ['sleep', '30'], 'sleep');
      const pid = child.pid!;

      const pids = await ns.pids();
      expect(pids).toContain(pid);
      expect(pids).not.toContain(process.pid);
      expect(run('ip', ['netns', 'pids', name]).split('\n').filter(Boolean).map(Number).sort((a, b) => a - b)).toEqual(pids);

      const fromPid = await Netns.fromPid(pid);
      expect(fromPid.equals(ns)).toBe(true);
      expect(fromPid.identity).toEqual(ns.identity);
      await fromPid.close();

      expect(await Netns.identify(pid)).toEqual([name]);
      expect(run('ip', ['netns', 'identify', String(pid)]).trim()).toBe(name);

      const attached = await Netns.attach(alias, pid);
      try {
        expect(attached.equals(ns)).toBe(true);
        expect(attached.name).toBe(alias);
        // iproute2 prints one name (the last it reads) when several pin the namespace; we list all.
        expect([alias, name]).toContain(run('ip', ['netns', 'identify', String(pid)]).trim());
        expect(await Netns.identify(pid)).toEqual([alias, name].sort());
        expect(await Netns.identify(ns)).toEqual([alias, name].sort());
        // Attaching the same name again: EEXIST, the existing pin untouched.
        await expect(Netns.attach(alias, pid)).rejects.toMatchObject({ code: 'EEXIST' });
        expect((await Netns.open(alias)).equals(ns)).toBe(true);
      } finally {
        await attached.delete();
      }
      expect(pinnedNames()).not.toContain(alias);
      expect(await Netns.identify(pid)).toEqual([name]);

      await kill(child);
      // Exited and reaped: every way in by PID is a typed ESRCH, and attach pins nothing.
      for (const p of [Netns.fromPid(pid), Netns.identify(pid), Netns.attach(alias, pid)]) {
        const err = await p.then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(SystemError);
        expect(err).toMatchObject({ code: 'ESRCH' });
      }
      expect(pinnedNames()).not.toContain(alias);
      expect(await ns.pids()).not.toContain(pid);
    } finally {
      await ns.delete();
    }
  });

  it('a zombie is in no namespace: pids() leaves it out, fromPid(zombie) is ESRCH', async () => {
    const name = nsName('zom');
    const ns = await Netns.create(name);
    try {
      // sh starts a short sleep in the background, prints its PID, then becomes `sleep 30`, which
      // never reaps it: when the short one exits (after the exec), it stays a zombie.
      const parent = spawn('ip', ['netns', 'exec', name, 'sh', '-c', 'sleep 0.3 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(parent);
      const [line] = (await once(parent.stdout!, 'data')) as [Buffer];
      const zombie = Number(line.toString().trim());
      const state = (): string => readFileSync(`/proc/${zombie}/stat`, 'utf8').split(') ')[1] ?? '';
      for (let i = 0; i < 500 && !state().startsWith('Z'); i++) await new Promise((r) => setTimeout(r, 10));
      expect(state()).toMatch(/^Z/);
      const pids = await ns.pids();
      expect(pids).toContain(parent.pid);
      expect(pids).not.toContain(zombie);
      await expect(Netns.fromPid(zombie)).rejects.toMatchObject({ code: 'ESRCH' });
      await kill(parent);
    } finally {
      await ns.delete();
    }
  });

  it('a namespace with no process has no PIDs; an unpinned namespace has no name', async () => {
    const ns = await Netns.anonymous();
    try {
      expect(await ns.pids()).toEqual([]);
      expect(await Netns.identify(ns)).toEqual([]);
    } finally {
      await ns.close();
    }
    // Only read: this process is among the PIDs of its own namespace.
    const self = await Netns.current();
    try {
      expect(await self.pids()).toContain(process.pid);
    } finally {
      await self.close();
    }
  });

  it('bad names and PIDs are ValidationErrors and create nothing', async () => {
    const mine = (): string[] => pinnedNames().filter((n) => n.startsWith(RUN_PREFIX));
    const before = mine();
    for (const name of ['', '.', '..', 'a/b', 'a\0b']) await expect(Netns.attach(name, process.pid)).rejects.toBeInstanceOf(ValidationError);
    for (const pid of [0, -1, 1.5, NaN, 2 ** 31, '1' as unknown as number]) {
      await expect(Netns.attach(nsName('bad'), pid)).rejects.toBeInstanceOf(ValidationError);
      await expect(Netns.identify(pid)).rejects.toBeInstanceOf(ValidationError);
    }
    expect(mine()).toEqual(before);
  });
});

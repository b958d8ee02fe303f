/**
 * Namespace lifecycle against the real kernel, with iproute2 as the oracle.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Netns, NotANamespaceError, SystemError, ValidationError } from '../../lib/index.js';
import { ipJson, nsName, pinnedNames, run, runAsync, runNetnsMounts } from './helpers.js';

const CHILD = new URL('./child_create.mjs', import.meta.url).pathname;
const CHILD_SPARES = new URL('./child_spares.mjs', import.meta.url).pathname;

describe('interop with ip netns', () => {
  it('a namespace created by the library is seen and usable by ip', async () => {
    const name = nsName('lib');
    const ns = await Netns.create(name);
    try {
      expect(run('ip', ['netns', 'list'])).toMatch(new RegExp(`^${name}( |$)`, 'm'));
      const links = JSON.parse(run('ip', ['netns', 'exec', name, 'ip', '-j', 'link'])) as { ifname: string }[];
      expect(links.map((l) => l.ifname)).toEqual(['lo']);
      const listed = await Netns.list();
      const entry = listed.find((e) => e.name === name);
      expect(entry?.identity).toEqual(ns.identity);
      expect((await ns.links.list()).map((l) => l.name)).toEqual(['lo']);
    } finally {
      await ns.delete();
    }
    expect(run('ip', ['netns', 'list'])).not.toContain(name);
    expect(pinnedNames()).not.toContain(name);
  });

  it('a namespace created by ip opens, lists and deletes through the library', async () => {
    const name = nsName('ip');
    run('ip', ['netns', 'add', name]);
    const ns = await Netns.open(name);
    expect(ns.name).toBe(name);
    const again = await Netns.open(`/run/netns/${name}`);
    expect(again.equals(ns)).toBe(true);
    await again.close();
    // No id is assigned from the machine's own namespace (the tests never change it), so none is listed;
    // NSID assignment itself is tested inside test namespaces (nsids.test.ts).
    const entry = (await Netns.list()).find((e) => e.name === name);
    expect(entry).toBeDefined();
    expect(entry?.identity).toEqual(ns.identity);
    expect(entry?.nsid).toBeUndefined();
    const links = await ns.links.list();
    expect(links).toHaveLength(1);
    expect(links[0]).toMatchObject({ name: 'lo', index: 1, up: false });
    await ns.links.setUp('lo');
    expect(ipJson<{ flags: string[] }[]>(['link', 'show', 'lo'], name)[0].flags).toContain('UP');
    expect(await Netns.delete(name)).toBe(true);
    await ns.close();
    expect(run('ip', ['netns', 'list'])).not.toContain(name);
    expect(await Netns.delete(name, { ifExists: true })).toBe(false);
    await expect(Netns.delete(name)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('50 creations in parallel mixed with ip netns add leave one /run/netns mount and all namespaces', async () => {
    const names = Array.from({ length: 50 }, (_, i) => nsName(`par${i}-`));
    const viaIp = names.filter((_, i) => i % 5 === 0);
    const viaLib = names.filter((_, i) => i % 5 !== 0);
    const handles = await Promise.all([
      ...viaLib.map((n) => Netns.create(n)),
      ...viaIp.map((n) => runAsync('ip', ['netns', 'add', n]).then(() => undefined)),
    ]);
    try {
      const listed = run('ip', ['netns', 'list']);
      for (const n of names) expect(listed).toMatch(new RegExp(`^${n}( |$)`, 'm'));
      // One bind mount of the directory itself, plus one nsfs mount per namespace pinned in it.
      const dirMounts = execFileSync('cat', ['/proc/self/mountinfo'], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.split(' ')[4] === '/run/netns');
      expect(dirMounts).toHaveLength(1);
      expect(runNetnsMounts()).toBeGreaterThanOrEqual(51);
    } finally {
      for (const h of handles) await h?.close();
      await Promise.all(names.map((n) => Netns.delete(n)));
    }
    const left = pinnedNames();
    for (const n of names) expect(left).not.toContain(n);
  });
});

describe('errors', () => {
  it('creating an existing name fails with EEXIST and leaves the namespace untouched', async () => {
    const name = nsName('dup');
    const ns = await Netns.create(name);
    try {
      await ns.links.setUp('lo');
      const err = await Netns.create(name).catch((e) => e);
      expect(err).toBeInstanceOf(SystemError);
      expect(err.code).toBe('EEXIST');
      expect(err.path).toBe(`/run/netns/${name}`);
      const reopened = await Netns.open(name);
      expect(reopened.equals(ns)).toBe(true);
      await reopened.close();
      expect(ipJson<{ flags: string[] }[]>(['link', 'show', 'lo'], name)[0].flags).toContain('UP');
    } finally {
      await ns.delete();
    }
  });

  it('invalid names are rejected before any syscall', async () => {
    const bad = ['', '.', '..', 'a/b', 'x\0y', 'n'.repeat(256)];
    for (const name of bad) {
      await expect(Netns.create(name)).rejects.toBeInstanceOf(ValidationError);
    }
    // Other test files create namespaces concurrently, so look only for what these names would make.
    expect(existsSync('/run/netns/a')).toBe(false);
    expect(pinnedNames().filter((n) => bad.includes(n) || n.startsWith('x'))).toEqual([]);
  });

  it('a regular file is not a namespace', async () => {
    const file = join(tmpdir(), `nns-notns-${process.pid}`);
    writeFileSync(file, 'x');
    try {
      const err = await Netns.open(file).catch((e) => e);
      expect(err).toBeInstanceOf(NotANamespaceError);
      expect(err.code).toBe('ENOTNETNS');
      expect(err.path).toBe(file);
    } finally {
      rmSync(file);
    }
    await expect(Netns.open('/proc/self/ns/mnt')).rejects.toBeInstanceOf(NotANamespaceError);
  });

  it('without CAP_SYS_ADMIN the caller gets EPERM and nothing is created', () => {
    const name = nsName('noperm');
    const out = run('setpriv', ['--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', process.execPath, CHILD, name]);
    const r = JSON.parse(out);
    expect(r).toMatchObject({ ok: false, code: 'EPERM', name: 'SystemError' });
    expect(r.placeholderLeft).toBe(false);
    expect(existsSync(`/run/netns/${name}`)).toBe(false);
  });

  it('a failure after the placeholder was made rolls everything back', () => {
    // In a private mount namespace the child hides /proc, so the bind mount of
    // /proc/thread-self/ns/net fails after the placeholder file exists.
    const name = nsName('midfail');
    const out = run('unshare', ['-m', '--propagation', 'private', process.execPath, CHILD, name, 'hide-proc']);
    const r = JSON.parse(out);
    expect(r.ok).toBe(false);
    expect(r.syscall).toBe('mount');
    expect(r.placeholderLeft).toBe(false);
    expect(existsSync(`/run/netns/${name}`)).toBe(false);
  });
});

describe('spare placeholders', () => {
  /** fds of this process on an unnamed inode of /run/netns: the spare placeholders. */
  const spares = () =>
    readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return /^\/run\/netns\/#\d+ \(deleted\)$/.test(readlinkSync(`/proc/self/fd/${fd}`));
      } catch {
        return false; // the readdir's own fd
      }
    }).length;
  const settledSpares = async () => {
    for (let i = 0; i < 100 && spares() !== 2; i++) await new Promise((r) => setTimeout(r, 10));
    return spares();
  };

  it('creates name an inode made beforehand: two spares at most, kept through EEXIST, never a name under /run/netns', async () => {
    const names = Array.from({ length: 4 }, () => nsName('spare'));
    const handles: Netns[] = [];
    try {
      for (const name of names) handles.push(await Netns.create(name));
      expect(await settledSpares()).toBe(2);
      for (let i = 0; i < 5; i++) {
        const err = await Netns.create(names[0]).catch((e) => e);
        expect(err).toBeInstanceOf(SystemError);
        expect(err.code).toBe('EEXIST');
        expect(err.syscall).toBe('open');
      }
      expect(await settledSpares()).toBe(2);
      for (const [i, name] of names.entries()) {
        const pin = await Netns.open(name);
        expect(pin.equals(handles[i])).toBe(true);
        await pin.close();
        expect(run('ip', ['netns', 'list'])).toMatch(new RegExp(`^${name}( |$)`, 'm'));
      }
      // Only the names asked for appeared (other test files create theirs concurrently).
      expect(pinnedNames().filter((n) => !/^[\w.-]+$/.test(n) || n.startsWith('#'))).toEqual([]);
    } finally {
      for (const h of handles) await h.delete();
    }
    expect(pinnedNames().filter((n) => names.includes(n))).toEqual([]);
  });

  it('a spare made before /run/netns was mounted anew is not used: the create makes its own file', () => {
    const prefix = nsName('remount');
    const out = run('unshare', ['-m', '--propagation', 'private', process.execPath, CHILD_SPARES, prefix]);
    const r = JSON.parse(out);
    expect(r.error).toBeUndefined();
    expect(r).toMatchObject({ ok: true, samePinAfterRemount: [true, true, true], left: [] });
  });
});

describe('handles', () => {
  it('anonymous namespaces vanish with their handle; await using closes', async () => {
    let ino = 0;
    {
      await using ns = await Netns.anonymous();
      ino = ns.identity.ino;
      expect((await ns.links.list()).map((l) => l.name)).toEqual(['lo']);
      expect(ns.closed).toBe(false);
    }
    expect(ino).toBeGreaterThan(0);
    const cur = await Netns.current();
    expect(cur.identity.ino).not.toBe(ino);
    await cur.close();
  });

  it('current() and fromPid(self) are the same namespace', async () => {
    const cur = await Netns.current();
    const self = await Netns.fromPid(process.pid);
    expect(self.equals(cur)).toBe(true);
    await cur.close();
    await self.close();
    await expect(Netns.fromPid(0)).rejects.toBeInstanceOf(ValidationError);
  });

  it('a closed handle rejects use with ERR_CLOSED', async () => {
    const ns = await Netns.anonymous();
    await ns.close();
    await ns.close();
    expect(() => ns.fd).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
  });
});

/**
 * ns.dns: /etc/netns/NAME/resolv.conf written, read and removed by the library, honoured by both
 * ns.spawn and `ip netns exec` (iproute2 is the oracle for what a process in the namespace sees).
 */
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Netns, NetnsError, ValidationError } from '../../lib/index.js';
import { nsName, ownNamespace, run, threadNamespaces } from './helpers.js';

const ETC = '/etc/netns';
const etcBefore = existsSync(ETC);
const used: string[] = [];

/** A named namespace whose /etc/netns entry is removed after the file, even when a test fails. */
async function named(tag: string): Promise<Netns> {
  const name = nsName(tag);
  used.push(name);
  return Netns.create(name);
}

afterAll(() => {
  for (const name of used) rmSync(`${ETC}/${name}`, { recursive: true, force: true });
  // /etc/netns itself only if the run made it and nothing else is in it (other files may use it).
  if (!etcBefore && existsSync(ETC) && readdirSync(ETC).length === 0) rmSync(ETC, { recursive: true, force: true });
});

const hostResolv = readFileSync('/etc/resolv.conf', 'utf8');

describe('ns.dns', () => {
  it('set writes /etc/netns/NAME/resolv.conf (0644), get reads it back, clear removes it and the dir', async () => {
    await using ns = await named('dns');
    const name = ns.name as string;
    expect(await ns.dns.get()).toBeUndefined();
    await ns.dns.set({ nameservers: ['10.0.0.53', '2001:db8::53'], search: ['corp.example', 'example.org.'], options: ['ndots:2', 'rotate'] });
    const path = `${ETC}/${name}/resolv.conf`;
    expect(ns.dns.path).toBe(path);
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(statSync(`${ETC}/${name}`).mode & 0o777).toBe(0o755);
    const text = readFileSync(path, 'utf8');
    expect(text.split('\n').filter((l) => !l.startsWith('#'))).toEqual([
      'nameserver 10.0.0.53',
      'nameserver 2001:db8::53',
      'search corp.example example.org.',
      'options ndots:2 rotate',
      '',
    ]);
    expect(await ns.dns.get()).toEqual({ nameservers: ['10.0.0.53', '2001:db8::53'], search: ['corp.example', 'example.org.'], options: ['ndots:2', 'rotate'] });
    // Replaced, not appended; no temporary file left beside it.
    await ns.dns.set({ nameservers: ['192.0.2.1'] });
    expect(await ns.dns.get()).toEqual({ nameservers: ['192.0.2.1'], search: [], options: [] });
    expect(readdirSync(ETC).filter((f) => f.startsWith('.resolv.conf.'))).toEqual([]);
    expect(await ns.dns.clear()).toBe(true);
    expect(existsSync(`${ETC}/${name}`)).toBe(false);
    expect(await ns.dns.clear()).toBe(false); // idempotent
    expect(await ns.dns.get()).toBeUndefined();
    expect(readFileSync('/etc/resolv.conf', 'utf8')).toBe(hostResolv);
    await ns.delete();
  });

  it("a child sees the namespace's resolv.conf, through ns.exec and through ip netns exec alike", async () => {
    await using ns = await named('dnsx');
    const name = ns.name as string;
    await ns.dns.set({ nameservers: ['10.9.9.9'], search: ['pods.example'], options: ['ndots:5'] });
    const expected = readFileSync(ns.dns.path, 'utf8');
    expect((await ns.exec('cat', ['/etc/resolv.conf'])).stdout).toBe(expected);
    expect(run('ip', ['netns', 'exec', name, 'cat', '/etc/resolv.conf'])).toBe(expected);
    // The host's own file is untouched, and so is what a process outside the namespace sees.
    expect(readFileSync('/etc/resolv.conf', 'utf8')).toBe(hostResolv);
    expect(run('cat', ['/etc/resolv.conf'])).toBe(hostResolv);
    // getaddrinfo's view: the resolver inside the child reads the namespace's file.
    const r = await ns.exec('getent', ['ahosts', 'localhost']);
    expect(r.code).toBe(0);
    await ns.dns.clear();
    expect((await ns.exec('cat', ['/etc/resolv.conf'])).stdout).toBe(hostResolv);
    await ns.delete();
  });

  it('every file of /etc/netns/NAME is bound, and a failed bind warns on stderr exactly as ip netns exec does', async () => {
    await using ns = await named('dnsf');
    const name = ns.name as string;
    await ns.dns.set({ nameservers: ['10.1.1.1'] });
    writeFileSync(`${ETC}/${name}/hosts`, '10.1.1.2 db.internal\n');
    writeFileSync(`${ETC}/${name}/no-such-etc-file-xyz`, 'x\n');
    const ours = await ns.exec('sh', ['-c', 'cat /etc/hosts; cat /etc/resolv.conf']);
    const theirs = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      import('node:child_process').then(({ execFile }) =>
        execFile('ip', ['netns', 'exec', name, 'sh', '-c', 'cat /etc/hosts; cat /etc/resolv.conf'], (err, stdout, stderr) => (err ? reject(err) : resolve({ stdout, stderr }))),
      );
    });
    expect(ours.code).toBe(0);
    expect(ours.stdout).toBe(theirs.stdout);
    expect(ours.stdout).toContain('10.1.1.2 db.internal');
    expect(ours.stderr).toBe(theirs.stderr);
    expect(ours.stderr).toBe(`Bind ${ETC}/${name}/no-such-etc-file-xyz -> /etc/no-such-etc-file-xyz failed: No such file or directory\n`);
    // clear() removes only what set() wrote: the directory stays while other files are in it.
    expect(await ns.dns.clear()).toBe(true);
    expect(readdirSync(`${ETC}/${name}`).sort()).toEqual(['hosts', 'no-such-etc-file-xyz']);
    rmSync(`${ETC}/${name}`, { recursive: true });
    await ns.delete();
  });

  it('deleting the namespace leaves /etc/netns/NAME, as ip netns delete does', async () => {
    const ns = await named('dnsd');
    const name = ns.name as string;
    await ns.dns.set({ nameservers: ['10.2.2.2'] });
    await ns.delete();
    expect(existsSync(`${ETC}/${name}/resolv.conf`)).toBe(true);
    // Same with iproute2 itself.
    run('ip', ['netns', 'add', name]);
    run('ip', ['netns', 'delete', name]);
    expect(existsSync(`${ETC}/${name}/resolv.conf`)).toBe(true);
    rmSync(`${ETC}/${name}`, { recursive: true });
  });

  it('a file written by hand (comments, domain) parses as the resolver reads it', async () => {
    await using ns = await named('dnsp');
    const name = ns.name as string;
    await ns.dns.set({ nameservers: ['10.3.3.3'] }); // creates the directory
    writeFileSync(`${ETC}/${name}/resolv.conf`, '# comment\n; other comment\nsearch a.example\ndomain b.example\nnameserver 10.3.3.3\n  nameserver   10.3.3.4  \noptions ndots:1\noptions edns0\n');
    expect(await ns.dns.get()).toEqual({ nameservers: ['10.3.3.3', '10.3.3.4'], search: ['b.example'], options: ['ndots:1', 'edns0'] });
    await ns.dns.clear();
    await ns.delete();
  });

  it('concurrent set() calls: the file is always one whole version', async () => {
    await using ns = await named('dnsc');
    const versions = Array.from({ length: 20 }, (_, i) => ({ nameservers: [`10.4.0.${i + 1}`], search: [`v${i}.example`] }));
    await Promise.all(versions.map((v) => ns.dns.set(v)));
    const got = await ns.dns.get();
    const i = versions.findIndex((v) => v.nameservers[0] === got?.nameservers[0]);
    expect(i).toBeGreaterThanOrEqual(0);
    expect(got).toEqual({ ...versions[i], options: [] });
    expect(readdirSync(ETC).filter((f) => f.startsWith('.resolv.conf.'))).toEqual([]);
    await ns.dns.clear();
    await ns.delete();
  });

  it('bad input is rejected before anything is written', async () => {
    await using ns = await named('dnsv');
    const dir = `${ETC}/${ns.name as string}`;
    const bad: unknown[] = [
      { nameservers: [] },
      { nameservers: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'] },
      { nameservers: ['010.0.0.1'] },
      { nameservers: ['1.2.3'] },
      { nameservers: ['fe80::1%eth0'] },
      { nameservers: [' 10.0.0.1'] },
      { nameservers: '10.0.0.1' },
      { nameservers: ['10.0.0.1'], search: ['a b'] },
      { nameservers: ['10.0.0.1'], search: ['bad..example'] },
      { nameservers: ['10.0.0.1'], search: ['x\nnameserver 6.6.6.6'] },
      { nameservers: ['10.0.0.1'], options: ['ndots: 2'] },
      { nameservers: ['10.0.0.1'], options: ['rotate\nnameserver 6.6.6.6'] },
      { nameservers: ['10.0.0.1'], searches: ['typo.example'] },
      null,
    ];
    for (const config of bad) {
      await expect(ns.dns.set(config as never)).rejects.toBeInstanceOf(ValidationError);
    }
    expect(existsSync(dir)).toBe(false);
    await ns.delete();
  });

  it('unnamed namespaces have no /etc/netns: a typed error', async () => {
    await using anon = await Netns.anonymous();
    await expect(anon.dns.set({ nameservers: ['10.0.0.1'] })).rejects.toMatchObject({ code: 'ERR_NOT_NAMED' });
    await expect(anon.dns.get()).rejects.toBeInstanceOf(NetnsError);
    await expect(anon.dns.clear()).rejects.toMatchObject({ code: 'ERR_NOT_NAMED' });
  });

  it('every thread of this process is still in its original namespace', () => {
    const own = ownNamespace();
    for (const [, link] of threadNamespaces()) expect(link).toBe(own);
  });
});

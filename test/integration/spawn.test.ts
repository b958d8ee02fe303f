/**
 * ns.spawn / ns.exec: `ip netns exec` semantics without a helper program, checked from inside the
 * child (what it sees of the network, /sys, its fds, signals, priority) and from outside (exit
 * status, zombies, fds and mounts of this process).
 */
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, NetnsProcess, SystemError, ValidationError } from '../../lib/index.js';
import { ipJson, nsName, ownNamespace, settledFdCount, threadNamespaces } from './helpers.js';

/** PIDs of this process's children that are zombies. */
function zombieChildren(): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (state === 'Z' && Number(ppid) === process.pid) out.push(Number(entry));
  }
  return out;
}

/** This mount namespace's mounts, without the /run/netns pins other test files add and remove meanwhile. */
function hostMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l && !/ \/run\/netns(\/\S*)? /.test(l.split(' - ')[0]));
}

describe('spawn inside a named namespace', () => {
  let ns: Netns;
  let name: string;
  const mountsBefore = hostMounts();

  beforeAll(async () => {
    name = nsName('spawn');
    ns = await Netns.create(name);
    await ns.links.setUp('lo');
    await ns.links.add({ kind: 'veth', name: 'd0', up: true, peer: { name: 'd1' } });
    await ns.addresses.add('d0', '10.77.0.1/24');
  });

  afterAll(async () => {
    await ns?.delete({ ifExists: true });
  });

  it("ns.exec('ip', ['-j', 'addr']) shows the namespace's addresses, not the host's", async () => {
    const r = await ns.exec('ip', ['-j', 'addr']);
    expect(r).toMatchObject({ code: 0, signal: null, stderr: '', timedOut: false });
    const links = JSON.parse(r.stdout) as { ifname: string; addr_info: { local: string }[] }[];
    expect(links.map((l) => l.ifname).sort()).toEqual(['d0', 'd1', 'lo']);
    const locals = links.flatMap((l) => l.addr_info.map((a) => a.local));
    expect(locals).toContain('10.77.0.1');
    // Same view as iproute2 from outside, and none of the host's own addresses.
    const outside = ipJson<{ ifname: string; addr_info: { local: string }[] }[]>(['addr'], name);
    expect(outside.flatMap((l) => l.addr_info.map((a) => a.local)).sort()).toEqual([...locals].sort());
    const hostLocals = ipJson<{ addr_info: { local: string }[] }[]>(['addr']).flatMap((l) => l.addr_info.map((a) => a.local));
    for (const a of hostLocals.filter((x) => x !== '127.0.0.1' && x !== '::1')) expect(locals).not.toContain(a);
  });

  it("/sys is the namespace's own sysfs: /sys/class/net lists its links", async () => {
    const r = await ns.exec('ls', ['/sys/class/net']);
    expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual(['d0', 'd1', 'lo']);
    const host = readdirSync('/sys/class/net');
    expect(host).not.toContain('d0');
  });

  it('exit codes and signals propagate', async () => {
    expect(await ns.exec('sh', ['-c', 'exit 7'])).toMatchObject({ code: 7, signal: null });
    expect(await ns.exec('true')).toMatchObject({ code: 0, signal: null });
    expect(await ns.exec('sh', ['-c', 'kill -TERM $$'])).toMatchObject({ code: null, signal: 'SIGTERM' });
    expect(await ns.exec('sh', ['-c', 'kill -KILL $$'])).toMatchObject({ code: null, signal: 'SIGKILL' });
  });

  it("the child's /proc/self/fd holds only its stdio (and ls's own directory fd)", async () => {
    // Other fds of ours exist meanwhile: this handle's and its netlink socket, another handle.
    await using other = await Netns.open(name);
    expect(other.fd).toBeGreaterThan(2);
    const r = await ns.exec('ls', ['/proc/self/fd']);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(['0', '1', '2', '3']);
    const links = await ns.exec('sh', ['-c', 'for f in /proc/self/fd/*; do readlink $f; done']);
    // sh's own fds may come and go; 0..2 are the socket pairs made for this child.
    const targets = links.stdout.split('\n').filter(Boolean);
    expect(targets.slice(0, 3).every((t) => t.startsWith('socket:['))).toBe(true);
  });

  it('the child has default signal handling, an empty mask and our own priority', async () => {
    const r = await ns.exec('sh', ['-c', 'grep -E "^Sig(Blk|Ign)" /proc/self/status; cut -d" " -f19 /proc/self/stat']);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContain('SigBlk:\t0000000000000000');
    // sh itself ignores nothing at start; Node ignores SIGPIPE, which must not leak into the child.
    expect(lines).toContain('SigIgn:\t0000000000000000');
    const ourNice = readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1].split(' ')[16];
    expect(lines[lines.length - 1]).toBe(ourNice); // not the workers' +10
  });

  it('streams: stdin in, stdout and stderr out, EOF on end()', async () => {
    const child = await ns.spawn('sh', ['-c', 'cat; echo done >&2']);
    expect(child).toBeInstanceOf(NetnsProcess);
    expect(child.pid).toBeGreaterThan(0);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => err.push(d));
    const closed = Promise.all([child.stdout, child.stderr].map((s) => new Promise((r) => s?.on('close', r))));
    child.stdin?.write('hello ');
    child.stdin?.end('world\n');
    expect(await child.exited).toEqual({ code: 0, signal: null });
    await closed;
    expect(Buffer.concat(out).toString()).toBe('hello world\n');
    expect(Buffer.concat(err).toString()).toBe('done\n');
    expect(child.exitStatus).toEqual({ code: 0, signal: null });
    expect(child.kill()).toBe(false);
  });

  it('exec input, env (over process.env or alone), cwd and argv0', async () => {
    expect((await ns.exec('cat', [], { input: 'abc' })).stdout).toBe('abc');
    const r = await ns.exec('sh', ['-c', 'echo "$FOO|$HOME_X|$NNS_TEST_PREFIX"; pwd'], { env: { FOO: 'bar', HOME_X: undefined }, cwd: '/tmp' });
    expect(r.stdout).toBe(`bar||${process.env.NNS_TEST_PREFIX ?? ''}\n/tmp\n`);
    const alone = await ns.exec('env', [], { inheritEnv: false, env: { A: '1' } });
    expect(alone.stdout).toBe('A=1\n'); // found through the default PATH
    const named = await ns.exec('sh', ['-c', 'echo $0'], { argv0: 'custom-name' });
    expect(named.stdout).toBe('custom-name\n');
  });

  it('kill goes through the pidfd; timeout kills with killSignal', async () => {
    const child = await ns.spawn('sleep', ['30'], { stdio: 'ignore' });
    expect(child.stdin).toBeNull();
    expect(child.kill('SIGKILL')).toBe(true);
    expect(await child.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(child.kill()).toBe(false);
    const t0 = Date.now();
    const r = await ns.exec('sleep', ['30'], { timeout: 200, killSignal: 'SIGINT' });
    expect(r).toMatchObject({ timedOut: true, code: null, signal: 'SIGINT' });
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('maxBuffer: the child is killed and exec rejects with a typed error', async () => {
    await expect(ns.exec('sh', ['-c', 'yes | head -c 100000'], { maxBuffer: 1000 })).rejects.toMatchObject({ code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER' });
  });

  it('a missing command is a typed ENOENT, and nothing is left running', async () => {
    const err = await ns.spawn('no-such-command-xyz', ['a']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SystemError);
    expect(err).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'execve', path: 'no-such-command-xyz', operation: `ip netns exec ${name} no-such-command-xyz` });
    await expect(ns.exec('/nonexistent/bin/tool')).rejects.toMatchObject({ code: 'ENOENT', syscall: 'execve', path: '/nonexistent/bin/tool' });
    const dir = mkdtempSync(join(tmpdir(), 'nns-spawn-'));
    try {
      writeFileSync(join(dir, 'plain'), 'not a program\n', { mode: 0o644 });
      writeFileSync(join(dir, 'garbage'), '\x01\x02 not a program\n', { mode: 0o755 });
      await expect(ns.exec(join(dir, 'plain'))).rejects.toMatchObject({ code: 'EACCES', syscall: 'execve', path: join(dir, 'plain') });
      // No #! and not ELF: execve's ENOEXEC (no fallback to /bin/sh).
      await expect(ns.exec(join(dir, 'garbage'))).rejects.toMatchObject({ code: 'ENOEXEC', syscall: 'execve' });
      // PATH search: a non-executable match is skipped when a later directory has the command.
      writeFileSync(join(dir, 'true'), '', { mode: 0o644 });
      expect(await ns.exec('true', [], { env: { PATH: `${dir}:/usr/bin:/bin` } })).toMatchObject({ code: 0 });
      await expect(ns.exec('plain', [], { env: { PATH: `${dir}:/usr/bin` } })).rejects.toMatchObject({ code: 'EACCES', path: 'plain' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await expect(ns.exec('true', [], { cwd: '/nonexistent-dir' })).rejects.toMatchObject({ code: 'ENOENT', syscall: 'chdir', path: '/nonexistent-dir' });
    expect(zombieChildren()).toEqual([]);
  });

  it('bad arguments are rejected before anything starts', async () => {
    await expect(ns.spawn('')).rejects.toBeInstanceOf(ValidationError);
    await expect(ns.spawn('a\0b')).rejects.toBeInstanceOf(ValidationError);
    await expect(ns.exec('true', ['x\0'])).rejects.toBeInstanceOf(ValidationError);
    await expect(ns.spawn('true', [], { stdio: 'tty' as 'pipe' })).rejects.toBeInstanceOf(ValidationError);
    await expect(ns.spawn('true', [], { env: { 'A=B': 'x' } })).rejects.toBeInstanceOf(ValidationError);
    await expect(ns.exec('true', [], { bogus: 1 } as object)).rejects.toBeInstanceOf(ValidationError);
    await expect(ns.exec('true', [], { killSignal: 'SIGNOPE' as NodeJS.Signals })).rejects.toBeInstanceOf(ValidationError);
  });

  it('200 spawns leave no zombies, no extra fds, and the host mounts untouched', async () => {
    await ns.exec('true'); // warm-up: the handle's netlink socket and lazily opened fds exist now
    const fdsBefore = await settledFdCount();
    const started = Date.now();
    for (let batch = 0; batch < 10; batch++) {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => ns.exec('sh', ['-c', `exit ${(batch * 20 + i) % 256}`])));
      results.forEach((r, i) => expect(r.code).toBe((batch * 20 + i) % 256));
    }
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(30_000);
    expect(zombieChildren()).toEqual([]);
    expect(await settledFdCount()).toBe(fdsBefore);
    expect(hostMounts()).toEqual(mountsBefore);
    // The host's /sys is still the machine's sysfs, with no d0 in it.
    expect(readdirSync('/sys/class/net')).not.toContain('d0');
  });
});

describe('spawn inside unnamed namespaces', () => {
  it('an anonymous namespace: its own links, no /etc/netns binds', async () => {
    await using anon = await Netns.anonymous();
    const r = await anon.exec('ip', ['-j', 'link']);
    expect((JSON.parse(r.stdout) as { ifname: string }[]).map((l) => l.ifname)).toEqual(['lo']);
    expect((await anon.exec('cat', ['/etc/resolv.conf'])).stdout).toBe(readFileSync('/etc/resolv.conf', 'utf8'));
    const err = await anon.spawn('no-such-command-xyz').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ENOENT', operation: `spawn no-such-command-xyz in net:[${anon.identity.ino}]` });
  });

  it("the host's own namespace (Netns.current) works too", async () => {
    await using host = await Netns.current();
    const r = await host.exec('readlink', ['/proc/self/ns/net']);
    expect(r.stdout.trim()).toBe(ownNamespace());
  });

  it('a closed handle is a typed error', async () => {
    const anon = await Netns.anonymous();
    await anon.close();
    await expect(anon.spawn('true')).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });
});

describe('after all of it', () => {
  it('every thread of this process is still in its original namespace', () => {
    const own = ownNamespace();
    for (const [, link] of threadNamespaces()) expect(link).toBe(own);
    expect(readlinkSync('/proc/self/ns/net')).toBe(own);
    expect(zombieChildren()).toEqual([]);
  });
});

/**
 * Reads without privileges (issue 11): a process running as `nobody` with no capabilities reads its
 * own namespace through the library and gets what `ip -j` and `sysctl` show the same user; each kind
 * of write fails with the kernel's code and a message naming the capability. The process's own
 * namespace is a test namespace (`ip netns exec`), never the machine's.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privilegeHint } from '../../lib/errors.js';
import { ipJson, nsName, pinnedNames, run } from './helpers.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * What the child needs, copied where `nobody` may read it (a clone under /root is not): the built
 * library, the addon, the runtime dependencies and the child script, in the repository's layout.
 */
const copy = mkdtempSync(join(tmpdir(), 'nns-unpriv-'));
const child = join(copy, 'test', 'integration', 'child_unprivileged.mjs');
afterAll(() => rmSync(copy, { recursive: true, force: true }));
const name = nsName('unpriv');
const forbidden = nsName('unpriv-new');
let out: { uid: number; reads: Record<string, [unknown, unknown]>; writes: Record<string, { ok?: true; name?: string; code?: string; message?: string }> };

beforeAll(() => {
  chmodSync(copy, 0o755);
  const deps = Object.keys(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).dependencies ?? {});
  for (const rel of ['package.json', 'dist/lib', 'build/Release/netns_native.node', 'prebuilds', 'test/integration/child_unprivileged.mjs', ...deps.map((d) => `node_modules/${d}`)]) {
    if (existsSync(join(root, rel))) cpSync(join(root, rel), join(copy, rel), { recursive: true });
  }
  const ip = (...args: string[]) => run('ip', ['-n', name, ...args]);
  run('ip', ['netns', 'add', name]);
  // No IPv6 autoconfiguration: counters and neighbour entries must not move between the two reads.
  run('ip', ['netns', 'exec', name, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv4.ip_forward=1']);
  ip('link', 'set', 'lo', 'up');
  ip('link', 'add', 'v0', 'mtu', '1400', 'type', 'veth', 'peer', 'name', 'v1');
  ip('link', 'set', 'v0', 'up');
  ip('link', 'set', 'v1', 'up');
  ip('address', 'add', '10.1.0.1/24', 'dev', 'v0');
  ip('address', 'add', '10.2.0.1/24', 'dev', 'v1');
  ip('route', 'add', '10.9.0.0/16', 'via', '10.1.0.2', 'metric', '7');
  ip('neigh', 'add', '10.1.0.2', 'lladdr', '02:00:00:00:00:02', 'dev', 'v0');
  const stdout = execFileSync('ip', ['netns', 'exec', name, 'setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--inh-caps=-all', process.execPath, child, forbidden], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  out = JSON.parse(stdout);
});

describe('as nobody, in its own namespace', () => {
  it('runs unprivileged', () => {
    expect(out.uid).toBe(Number(run('id', ['-u', 'nobody']).trim()));
  });

  it.each(['links', 'addresses', 'routes', 'neighbours', 'sysctl'])('%s read the same as ip -j / sysctl', (what) => {
    const [ours, theirs] = out.reads[what]!;
    expect(ours).toEqual(theirs);
    // Not vacuous: the test namespace's own objects are there (and the sysctl is the namespace's 1).
    const mark = { links: 'v1', addresses: '10.2.0.1', routes: '10.9.0.0/16', neighbours: '02:00:00:00:00:02', sysctl: '1' }[what]!;
    expect(JSON.stringify(ours)).toContain(mark);
  });

  it('writes fail with the kernel code and say root / CAP_NET_ADMIN (or CAP_SYS_ADMIN) is needed; nothing changed', () => {
    expect(out.writes.link).toMatchObject({ name: 'NetlinkError', code: 'EPERM' });
    expect(out.writes.link!.message).toMatch(/^ip link add br-nobody type bridge: .*\(EPERM\); needs root or CAP_NET_ADMIN$/);
    expect(out.writes.address).toMatchObject({ code: 'EPERM', message: expect.stringContaining('needs root or CAP_NET_ADMIN') });
    expect(out.writes.route).toMatchObject({ code: 'EPERM', message: expect.stringContaining('needs root or CAP_NET_ADMIN') });
    // The /proc/sys file is root's: the open fails with EACCES, as `sysctl -w` reports "permission denied".
    expect(out.writes.sysctl).toMatchObject({ code: 'EACCES', message: expect.stringContaining('needs root or CAP_NET_ADMIN') });
    expect(out.writes.netns).toMatchObject({ code: 'EPERM', message: expect.stringContaining('needs root or CAP_SYS_ADMIN') });
    expect(ipJson<{ ifname: string }[]>(['link', 'show'], name).map((l) => l.ifname).sort()).toEqual(['lo', 'v0', 'v1']);
    expect(JSON.stringify(ipJson(['address', 'show'], name))).not.toContain('10.1.0.99');
    expect(JSON.stringify(ipJson(['route', 'show'], name))).not.toContain('10.77.0.0');
    expect(run('ip', ['netns', 'exec', name, 'sysctl', '-n', 'net.ipv4.ip_forward']).trim()).toBe('1');
    expect(pinnedNames()).not.toContain(forbidden);
  });

  it('a process that holds the capabilities gets no hint (its EPERM has another cause, such as a table owned by another socket)', () => {
    expect(process.getuid?.()).toBe(0);
    expect(privilegeHint('EPERM')).toBe('');
    expect(privilegeHint('EPERM', 'setns')).toBe('');
    expect(privilegeHint('EEXIST')).toBe('');
  });
});

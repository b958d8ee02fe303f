/**
 * ns.sysctl against the real kernel: values are read and written in the namespace the handle
 * refers to, with `ip netns exec NAME sysctl -n` as the oracle, and never in the machine's own
 * namespace (read from this process, which stays at home, before and after).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ClosedError, Netns, SystemError, ValidationError } from '../../lib/index.js';
import { native } from '../../lib/native.js';
import { nsName, ownNamespace, run, threadNamespaces } from './helpers.js';

/** A sysctl as the machine's own namespace has it (this process's threads are all at home). */
function rootValue(path: string): string {
  return readFileSync(path, 'utf8').trim();
}

/** The oracle: sysctl(8) run inside the namespace by ip netns exec. */
function oracle(ns: string, key: string): string {
  return run('ip', ['netns', 'exec', ns, 'sysctl', '-n', key]).trim();
}

const ROOT_KEYS = ['/proc/sys/net/ipv4/ip_forward', '/proc/sys/net/ipv4/ip_default_ttl', '/proc/sys/net/ipv6/conf/all/forwarding'];
let rootBefore: string[];
let ns: Netns;
let name: string;

beforeAll(async () => {
  rootBefore = ROOT_KEYS.map(rootValue);
  name = nsName('sysctl');
  ns = await Netns.create(name);
});

afterAll(async () => {
  await ns?.delete({ ifExists: true });
  // The machine's own namespace was never touched, and every thread is back home.
  expect(ROOT_KEYS.map(rootValue)).toEqual(rootBefore);
  const home = ownNamespace();
  expect([...threadNamespaces()].filter(([, n]) => n !== home)).toEqual([]);
});

describe('get and set inside one namespace', () => {
  it('net.ipv4.ip_forward: 0 -> 1 -> 0, as sysctl in the namespace sees it', async () => {
    // A new namespace's IPv4 settings may be inherited from the machine's (devconf_inherit_init_net).
    expect(await ns.sysctl.get('net.ipv4.ip_forward')).toBe(oracle(name, 'net.ipv4.ip_forward'));
    await ns.sysctl.set('net.ipv4.ip_forward', 0);
    expect(oracle(name, 'net.ipv4.ip_forward')).toBe('0');
    await ns.sysctl.set('net.ipv4.ip_forward', 1);
    expect(oracle(name, 'net.ipv4.ip_forward')).toBe('1');
    expect(await ns.sysctl.get('net.ipv4.ip_forward')).toBe('1');
    expect(await ns.sysctl.getNumber('net.ipv4.ip_forward')).toBe(1);
    expect(rootValue('/proc/sys/net/ipv4/ip_forward')).toBe(rootBefore[0]);
    await ns.sysctl.set('net.ipv4.ip_forward', '0');
    expect(oracle(name, 'net.ipv4.ip_forward')).toBe('0');
  });

  it('net.ipv6.conf.all.forwarding, and a value written by sysctl(8) reads back', async () => {
    await ns.sysctl.set('net.ipv6.conf.all.forwarding', 1);
    expect(oracle(name, 'net.ipv6.conf.all.forwarding')).toBe('1');
    run('ip', ['netns', 'exec', name, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.forwarding=0']);
    expect(await ns.sysctl.get('net.ipv6.conf.all.forwarding')).toBe('0');
  });

  it('per-interface keys, including an interface name with a dot (both sysctl(8) forms)', async () => {
    await ns.links.add({ kind: 'veth', name: 'd0.100', peer: { name: 'd1' } });
    await ns.sysctl.set('net/ipv4/conf/d0.100/rp_filter', 2);
    expect(run('ip', ['netns', 'exec', name, 'cat', '/proc/sys/net/ipv4/conf/d0.100/rp_filter']).trim()).toBe('2');
    expect(await ns.sysctl.get('net.ipv4.conf.d0/100.rp_filter')).toBe('2');
    await ns.sysctl.set('net.ipv4.conf.d0/100.rp_filter', 1);
    expect(oracle(name, 'net/ipv4/conf/d0.100/rp_filter')).toBe('1');
  });

  it('multi-value sysctls: an array is written as one value, read back tab-separated', async () => {
    await ns.sysctl.set('net.ipv4.ip_local_port_range', [20000, 30000]);
    expect(oracle(name, 'net.ipv4.ip_local_port_range').split(/\s+/)).toEqual(['20000', '30000']);
    expect(await ns.sysctl.get('net.ipv4.ip_local_port_range')).toBe('20000\t30000');
    await expect(ns.sysctl.getNumber('net.ipv4.ip_local_port_range')).rejects.toMatchObject({ code: 'ERR_NOT_A_NUMBER' });
  });
});

describe('many namespaces at once', () => {
  it('20 namespaces set different values concurrently; each holds its own, the root keeps its own', async () => {
    const names = Array.from({ length: 20 }, () => nsName('sysm'));
    const handles = await Promise.all(names.map((n) => Netns.create(n)));
    try {
      await Promise.all(handles.map((h, i) => h.sysctl.set('net.ipv4.ip_default_ttl', 100 + i)));
      const read = await Promise.all(handles.map((h) => h.sysctl.getNumber('net.ipv4.ip_default_ttl')));
      expect(read).toEqual(names.map((_, i) => 100 + i));
      for (const [i, n] of names.entries()) expect(oracle(n, 'net.ipv4.ip_default_ttl')).toBe(String(100 + i));
      expect(rootValue('/proc/sys/net/ipv4/ip_default_ttl')).toBe(rootBefore[1]);
    } finally {
      await Promise.all(handles.map((h) => h.delete()));
    }
  });
});

describe('errors', () => {
  it('a missing key is a SystemError ENOENT that names the key', async () => {
    const err = await ns.sysctl.get('net.ipv4.no_such_key').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SystemError);
    expect(err).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'open', path: '/proc/sys/net/ipv4/no_such_key' });
    expect((err as Error).message).toContain('net.ipv4.no_such_key');
    await expect(ns.sysctl.set('net.ipv4.conf.nodev.rp_filter', 1)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it("a key only the machine's own namespace has is missing inside (it cannot be reached from here)", async () => {
    expect(rootValue('/proc/sys/net/core/netdev_max_backlog')).toMatch(/^\d+$/);
    await expect(ns.sysctl.get('net.core.netdev_max_backlog')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a directory is EISDIR; a value the kernel refuses is its EINVAL, and the old value stays', async () => {
    await expect(ns.sysctl.get('net.ipv4.conf')).rejects.toMatchObject({ code: 'EISDIR' });
    await expect(ns.sysctl.set('net.ipv4.conf.all', 1)).rejects.toMatchObject({ code: 'EISDIR' });
    await ns.sysctl.set('net.ipv4.ip_default_ttl', 77);
    await expect(ns.sysctl.set('net.ipv4.ip_default_ttl', 'abc')).rejects.toMatchObject({ code: 'EINVAL', syscall: 'write' });
    await expect(ns.sysctl.set('net.ipv4.ip_default_ttl', 0)).rejects.toMatchObject({ code: 'EINVAL' });
    expect(oracle(name, 'net.ipv4.ip_default_ttl')).toBe('77');
  });

  it('invalid keys and values are ValidationErrors and reach no system call', async () => {
    const addon = native();
    const read = vi.spyOn(addon, 'sysctlRead');
    const write = vi.spyOn(addon, 'sysctlWrite');
    try {
      for (const key of ['kernel.hostname', 'net/../kernel/hostname', 'net.ipv4..ip_forward', 'net/ipv4/./ip_forward', 'net.ipv4.conf.//.rp_filter', 'net', '', 'net.ipv4.ip_forward=1', '/proc/sys/net/ipv4/ip_forward']) {
        await expect(ns.sysctl.get(key), key).rejects.toBeInstanceOf(ValidationError);
        await expect(ns.sysctl.set(key, 1), key).rejects.toBeInstanceOf(ValidationError);
      }
      for (const value of [1.5, NaN, 'a\nb', 'x\0', true, {}, []] as unknown[]) {
        await expect(ns.sysctl.set('net.ipv4.ip_forward', value as number)).rejects.toBeInstanceOf(ValidationError);
      }
      expect(read).not.toHaveBeenCalled();
      expect(write).not.toHaveBeenCalled();
    } finally {
      read.mockRestore();
      write.mockRestore();
    }
    expect(rootValue('/proc/sys/net/ipv4/ip_forward')).toBe(rootBefore[0]);
    expect(oracle(name, 'net.ipv4.ip_forward')).toBe('0');
  });

  it('the addon itself refuses paths outside /proc/sys/net', () => {
    const addon = native();
    const cb = () => undefined;
    for (const path of ['/proc/sys/kernel/hostname', '/proc/sys/net/../kernel/hostname', '/proc/sys/net//x', '/proc/sys/net/', '/etc/passwd']) {
      expect(() => addon.sysctlRead(ns.fd, path, cb), path).toThrow(TypeError);
      expect(() => addon.sysctlWrite(ns.fd, path, '1', cb), path).toThrow(TypeError);
    }
  });

  it('a closed handle is a ClosedError', async () => {
    const h = await Netns.anonymous();
    await h.close();
    await expect(h.sysctl.get('net.ipv4.ip_forward')).rejects.toBeInstanceOf(ClosedError);
  });
});

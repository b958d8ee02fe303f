/**
 * Link input checks that run before any system call (no root, no kernel).
 */
import { describe, expect, it } from 'vitest';
import { validateChanges, validateSpec, type LinkSpec } from '../../lib/api/link/spec.js';
import { ValidationError } from '../../lib/errors.js';
import { validateAlias, validateMac, validateMtu } from '../../lib/validate/link.js';
import type { Link } from '../../lib/api/link/view.js';

function rejects(fn: () => unknown, field: string): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ValidationError);
  expect((err as ValidationError).field).toBe(field);
  expect((err as ValidationError).code).toBe('ERR_INVALID_ARG');
}

describe('MTU', () => {
  it('accepts integers from 68 and leaves the device maximum to the kernel', () => {
    expect(validateMtu(68)).toBe(68);
    expect(validateMtu(1500)).toBe(1500);
    expect(validateMtu(65536)).toBe(65536); // lo's default
    expect(validateMtu(70000)).toBe(70000); // the kernel refuses it for a veth, with its own text
  });
  it.each([67, 0, -1, 1500.5, NaN, Infinity, '1500', 2 ** 31, null])('rejects %s', (v) => rejects(() => validateMtu(v), 'mtu'));
});

describe('MAC', () => {
  it('accepts unicast addresses and lower-cases them', () => {
    expect(validateMac('02:00:00:00:00:01')).toBe('02:00:00:00:00:01');
    expect(validateMac('AA:BB:CC:DD:EE:F0')).toBe('aa:bb:cc:dd:ee:f0');
  });
  it.each([
    ['01:00:5e:00:00:01', 'multicast'],
    ['ff:ff:ff:ff:ff:ff', 'broadcast'],
    ['00:00:00:00:00:00', 'all zeros'],
    ['02:00:00:00:00', 'five octets'],
    ['02:00:00:00:00:00:01', 'seven octets'],
    ['02-00-00-00-00-01', 'dashes'],
    ['2:0:0:0:0:1', 'single digits'],
    [' 02:00:00:00:00:01', 'leading space'],
    ['0g:00:00:00:00:01', 'not hex'],
  ])('rejects %s (%s)', (v) => rejects(() => validateMac(v), 'mac'));
});

describe('alias', () => {
  it('accepts up to 255 bytes, and empty (removal)', () => {
    expect(validateAlias('')).toBe('');
    expect(validateAlias('x'.repeat(255))).toHaveLength(255);
  });
  it('rejects NUL and 256 bytes', () => {
    rejects(() => validateAlias('a\0b'), 'alias');
    rejects(() => validateAlias('é'.repeat(128)), 'alias');
  });
});

describe('links.add specs', () => {
  const ok: LinkSpec[] = [
    { kind: 'veth', name: 'v0', peer: { name: 'v1' } },
    { kind: 'veth', name: 'v0', queues: 0, peer: { name: 'v1' } },
    { kind: 'veth', name: 'v0', queues: 4096, peer: { name: 'v1' } },
    { kind: 'veth', name: 'v0', mtu: 9000, mac: '02:00:00:00:00:01', up: true, master: 'br0', peer: { name: 'v1', mtu: 9000, up: true } },
    { kind: 'bridge', name: 'br0', stp: true, forwardDelay: 400, ageingTime: 30000, priority: 0, vlanFiltering: false, vlanProtocol: '802.1ad' },
    { kind: 'macvlan', name: 'mv0', link: 'eth0', mode: 'passthru' },
    { kind: 'vxlan', name: 'vx0', vni: 16777215, remote: '2001:db8::2', local: '2001:db8::1', port: 4789, link: 3 },
    { kind: 'vxlan', name: 'vx0', vni: 0, group: '239.1.1.1', link: 'eth0', ttl: 'inherit' },
    { kind: 'vxlan', name: 'vx0', collectMetadata: true },
    { kind: 'ifb', name: 'ifb0' },
    { kind: 'vlan', name: 'eth0.5', link: 'eth0', id: 5 },
    { kind: 'bond', name: 'bond0', mode: '802.3ad', miimon: 100 },
    { kind: 'ipvlan', name: 'ipv0', link: 'eth0', mode: 'l3s' },
    { kind: 'vrf', name: 'vrf0', table: 10 },
    { kind: 'dummy', name: 'd0' },
  ];
  it.each(ok.map((s) => [s.kind, s] as const))('accepts a %s', (_k, spec) => {
    expect(() => validateSpec(spec)).not.toThrow();
  });

  const bad: Array<[string, unknown]> = [
    ['kind', { kind: 'nosuchkind', name: 'x0' }],
    ['kind', { name: 'x0' }],
    ['name', { kind: 'ifb', name: 'a-name-of-16byte' }],
    ['name', { kind: 'ifb', name: 'has space' }],
    ['name', { kind: 'ifb', name: 'a/b' }],
    ['name', { kind: 'ifb', name: 'x%d' }],
    ['name', { kind: 'ifb', name: '' }],
    ['mtu', { kind: 'ifb', name: 'x0', mtu: 10 }],
    ['mac', { kind: 'ifb', name: 'x0', mac: '01:00:00:00:00:01' }],
    ['txqueuelen', { kind: 'ifb', name: 'x0', txqueuelen: -1 }],
    ['up', { kind: 'ifb', name: 'x0', up: 'true' }],
    ['master', { kind: 'ifb', name: 'x0', master: 'bad name' }],
    ['netns', { kind: 'ifb', name: 'x0', netns: {} }],
    ['mtuu', { kind: 'ifb', name: 'x0', mtuu: 1400 }],
    ['peer', { kind: 'veth', name: 'v0' }],
    ['peer.name', { kind: 'veth', name: 'v0', peer: { name: 'way-too-long-name' } }],
    ['peer.name', { kind: 'veth', name: 'v0', peer: { name: 'v0' } }],
    ['peer.mtu', { kind: 'veth', name: 'v0', peer: { name: 'v1', mtu: 20 } }],
    ['peer.mac', { kind: 'veth', name: 'v0', peer: { name: 'v1', mac: 'zz' } }],
    ['peer.netns', { kind: 'veth', name: 'v0', peer: { name: 'v1', netns: { fd: -1 } } }],
    ['peer.nmae', { kind: 'veth', name: 'v0', peer: { nmae: 'v1' } }],
    ['queues', { kind: 'veth', name: 'v0', queues: 4097, peer: { name: 'v1' } }],
    ['queues', { kind: 'veth', name: 'v0', queues: 1.5, peer: { name: 'v1' } }],
    ['queues', { kind: 'veth', name: 'v0', queues: -1, peer: { name: 'v1' } }],
    ['peer.queues', { kind: 'veth', name: 'v0', peer: { name: 'v1', queues: 1 } }],
    ['priority', { kind: 'bridge', name: 'br0', priority: 65536 }],
    ['stp', { kind: 'bridge', name: 'br0', stp: 1 }],
    ['vlanDefaultPvid', { kind: 'bridge', name: 'br0', vlanDefaultPvid: 4095 }],
    ['vlanProtocol', { kind: 'bridge', name: 'br0', vlanProtocol: '802.1x' }],
    ['vlan_filtering', { kind: 'bridge', name: 'br0', vlan_filtering: true }],
    ['link', { kind: 'macvlan', name: 'mv0' }],
    ['mode', { kind: 'macvlan', name: 'mv0', link: 'eth0', mode: 'bridged' }],
    ['vni', { kind: 'vxlan', name: 'vx0', vni: 16777216 }],
    ['vni', { kind: 'vxlan', name: 'vx0', vni: -1 }],
    ['vni', { kind: 'vxlan', name: 'vx0' }],
    ['port', { kind: 'vxlan', name: 'vx0', vni: 1, port: 0 }],
    ['port', { kind: 'vxlan', name: 'vx0', vni: 1, port: 65536 }],
    ['remote', { kind: 'vxlan', name: 'vx0', vni: 1, remote: '239.1.1.1' }],
    ['remote', { kind: 'vxlan', name: 'vx0', vni: 1, remote: '010.0.0.1' }],
    ['group', { kind: 'vxlan', name: 'vx0', vni: 1, group: '10.0.0.1' }],
    ['remote', { kind: 'vxlan', name: 'vx0', vni: 1, remote: '10.0.0.1', group: '239.1.1.1' }],
    ['local', { kind: 'vxlan', name: 'vx0', vni: 1, remote: '10.0.0.1', local: '2001:db8::1' }],
    ['ttl', { kind: 'vxlan', name: 'vx0', vni: 1, ttl: 256 }],
    ['label', { kind: 'vxlan', name: 'vx0', vni: 1, label: 0x100000 }],
    ['id', { kind: 'vlan', name: 'v5', link: 'eth0', id: 4095 }],
    ['mode', { kind: 'bond', name: 'b0', mode: 'lacp' }],
    ['table', { kind: 'vrf', name: 'vrf0', table: 0 }],
  ];
  it.each(bad)('rejects a bad %s', (field, spec) => rejects(() => validateSpec(spec as LinkSpec), field));
});

describe('links.set changes', () => {
  it('accepts each change', () => {
    for (const c of [{ up: true }, { mtu: 1400 }, { mac: '02:00:00:00:00:09' }, { name: 'eth1' }, { alias: '' }, { txqueuelen: 0 }, { master: 'br0' }, { master: null }]) {
      expect(() => validateChanges(c)).not.toThrow();
    }
  });
  it.each([
    ['changes', {}],
    ['mtu', { mtu: 1 }],
    ['name', { name: 'a:b' }],
    ['alias', { alias: 'x\0' }],
    ['master', { master: 0 }],
    ['up', { up: 1 }],
    ['mtu ', { 'mtu ': 1400 }],
  ])('rejects %s', (field, c) => rejects(() => validateChanges(c as never), field));
});

describe('typed read-back', () => {
  it('narrows kind data by kind', () => {
    // Compile-time check that `info.kind === 'bridge'` gives typed data; runtime is trivial.
    const l = { info: { kind: 'bridge', data: { stp: true } } } as unknown as Link;
    const stp = l.info?.kind === 'bridge' ? l.info.data?.stp : undefined;
    const vni = l.info?.kind === 'vxlan' ? l.info.data?.vni : undefined;
    expect([stp, vni]).toEqual([true, undefined]);
  });
});

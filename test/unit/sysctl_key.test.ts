/**
 * sysctl key and value validation (no root, no kernel): sysctl(8)'s two key forms, and everything
 * that could reach outside /proc/sys/net rejected before any system call.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib/index.js';
import { formatSysctlValue, parseSysctlKey } from '../../lib/validate/sysctl.js';

describe('parseSysctlKey', () => {
  it.each([
    ['net.ipv4.ip_forward', '/proc/sys/net/ipv4/ip_forward'],
    ['net.ipv6.conf.all.forwarding', '/proc/sys/net/ipv6/conf/all/forwarding'],
    ['net.ipv4.conf.eth0.rp_filter', '/proc/sys/net/ipv4/conf/eth0/rp_filter'],
    // An interface name with a dot: slash form (dots literal) or dot form with '/' for the dot.
    ['net/ipv4/conf/eth0.100/rp_filter', '/proc/sys/net/ipv4/conf/eth0.100/rp_filter'],
    ['net.ipv4.conf.eth0/100.rp_filter', '/proc/sys/net/ipv4/conf/eth0.100/rp_filter'],
    ['net.ipv4.neigh.veth-a_b.gc_stale_time', '/proc/sys/net/ipv4/neigh/veth-a_b/gc_stale_time'],
  ])('%s -> %s', (key, path) => {
    expect(parseSysctlKey(key).path).toBe(path);
  });

  it.each([
    ['', 'empty'],
    ['kernel.hostname', 'outside net.'],
    ['vm.swappiness', 'outside net.'],
    ['net', 'a directory'],
    ['net.', 'empty component'],
    ['.net.ipv4.ip_forward', 'empty first component'],
    ['net..ipv4', 'empty component'],
    ['net/ipv4//ip_forward', 'empty component'],
    ['net/../kernel/hostname', '..'],
    ['net/./ipv4/ip_forward', '.'],
    ['net.ipv4.conf.//.rp_filter', '".." through the "/" stand-in'],
    ['net.ipv4.conf./.rp_filter', '"." through the "/" stand-in'],
    ['/proc/sys/net/ipv4/ip_forward', 'absolute path'],
    ['net.ipv4.ip_forward=1', '='],
    ['net.ipv4.ip forward', 'space'],
    ['net.ipv4.ip_forward\n', 'newline'],
    ['net.ipv4\0.ip_forward', 'NUL'],
  ])('rejects %j (%s)', (key) => {
    expect(() => parseSysctlKey(key)).toThrow(ValidationError);
  });

  it('rejects non-strings', () => {
    for (const k of [undefined, null, 1, ['net', 'ipv4'], { toString: () => 'net.ipv4.ip_forward' }]) {
      expect(() => parseSysctlKey(k)).toThrow(ValidationError);
    }
  });
});

describe('formatSysctlValue', () => {
  it('formats strings, integers, bigints and arrays', () => {
    expect(formatSysctlValue(1)).toBe('1');
    expect(formatSysctlValue(-1)).toBe('-1');
    expect(formatSysctlValue(18446744073709551615n)).toBe('18446744073709551615');
    expect(formatSysctlValue('cubic')).toBe('cubic');
    expect(formatSysctlValue([4096, 131072, 6291456])).toBe('4096\t131072\t6291456');
    expect(formatSysctlValue('32768\t60999')).toBe('32768\t60999');
  });

  it.each([[1.5], [NaN], [Infinity], [2 ** 53], ['1\n2'], ['a\0'], [true], [null], [undefined], [{}], [[]], [[1, {}]]])('rejects %j', (v) => {
    expect(() => formatSysctlValue(v)).toThrow(ValidationError);
  });
});

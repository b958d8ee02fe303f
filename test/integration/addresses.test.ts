/**
 * `ns.addresses` against the real kernel, with `ip -j address` as the oracle. Everything happens in
 * test namespaces (see addresses_setup.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NetlinkError, ValidationError, type Address } from '../../lib/index.js';
import { canonical, ipAddrInfos, ipAddrView } from '../../lib/format/ip_views.js';
import { vethWorld, type VethWorld } from './addresses_setup.js';
import { run } from './helpers.js';

let worlds: VethWorld[] = [];
async function world(tag = 'addr'): Promise<VethWorld> {
  const w = await vethWorld(tag);
  worlds.push(w);
  return w;
}
afterEach(async () => {
  await Promise.all(worlds.map((w) => w.dispose()));
  worlds = [];
});

/** ip's addr_info entries of one link, finite lifetimes left out (they tick while we compare). */
function ipInfos(w: VethWorld, dev: string): Record<string, unknown>[] {
  return ipAddrInfos(w.ipj('address', 'show', 'dev', dev)).map(stripLifetimes);
}
function stripLifetimes(v: Record<string, unknown>): Record<string, unknown> {
  const { valid_life_time: valid, preferred_life_time: pref, ...rest } = v;
  return valid === 4294967295 && pref === 4294967295 ? v : rest;
}
const ours = (list: Address[]) => list.map((a) => stripLifetimes(ipAddrView(a)));

describe('addresses created by ip read back as ip -j reports them', () => {
  it('IPv4 with broadcast, label, peer, secondary, lifetimes, metric; IPv6 with flags', async () => {
    const w = await world();
    w.ip('address', 'add', '10.1.0.1/24', 'brd', '+', 'dev', 'v0', 'label', 'v0:x');
    w.ip('address', 'add', '10.1.0.5/24', 'dev', 'v0', 'valid_lft', '1000', 'preferred_lft', '500');
    w.ip('address', 'add', '10.2.0.1', 'peer', '10.2.0.2/32', 'dev', 'v0');
    w.ip('address', 'add', '10.3.0.1/16', 'dev', 'v0', 'metric', '77', 'scope', 'link');
    w.ip('address', 'add', '2001:db8:1::1/64', 'dev', 'v0', 'nodad', 'noprefixroute');
    w.ip('address', 'add', '2001:db8:2::1/64', 'dev', 'v0', 'nodad', 'valid_lft', '3000', 'preferred_lft', '0');
    const list = await w.ns.addresses.list({ dev: 'v0' });
    expect(canonical(ours(list))).toEqual(canonical(ipInfos(w, 'v0')));
    const byCidr = new Map(list.map((a) => [a.cidr, a]));
    expect(byCidr.get('10.1.0.1/24')).toMatchObject({ broadcast: '10.1.0.255', label: 'v0:x', dev: 'v0', scope: 'global' });
    expect(byCidr.get('10.1.0.5/24')?.flags).toContain('secondary');
    expect(byCidr.get('10.1.0.5/24')?.validLifetime).toBeGreaterThan(990);
    expect(byCidr.get('10.1.0.5/24')?.preferredLifetime).toBeLessThanOrEqual(500);
    expect(byCidr.get('10.2.0.1/32')?.peer).toBe('10.2.0.2');
    expect(byCidr.get('10.3.0.1/16')).toMatchObject({ metric: 77, scope: 'link' });
    expect(byCidr.get('2001:db8:1::1/64')?.flags).toEqual(expect.arrayContaining(['nodad', 'noprefixroute']));
    expect(byCidr.get('2001:db8:2::1/64')?.flags).toContain('deprecated');
  });

  it('filters by link, family and scope like ip address show', async () => {
    const w = await world();
    w.ip('address', 'add', '10.1.0.1/24', 'dev', 'v0');
    w.ip('address', 'add', '10.9.0.1/24', 'dev', 'v1');
    const v4 = await w.ns.addresses.list({ family: 4 });
    expect(canonical(v4.map(ipAddrView))).toEqual(canonical(ipAddrInfos(w.ipj('-4', 'address', 'show'))));
    expect((await w.ns.addresses.list({ dev: 'v1', family: 'inet' })).map((a) => a.cidr)).toEqual(['10.9.0.1/24']);
    expect((await w.ns.addresses.list({ scope: 'host' })).map((a) => a.cidr).sort()).toEqual(['127.0.0.1/8', '::1/128']);
    expect(canonical((await w.ns.addresses.list({ family: 6, dev: 'v0' })).map(ipAddrView))).toEqual(
      canonical(ipAddrInfos(w.ipj('-6', 'address', 'show', 'dev', 'v0'))),
    );
  });
});

describe('addresses created by the library look right to ip -j', () => {
  it('the same addresses as ip would make', async () => {
    const w = await world();
    await w.ns.addresses.add('v0', '10.1.0.1/24', { broadcast: '+', label: 'v0:x' });
    await w.ns.addresses.add('v0', '10.2.0.1', { peer: '10.2.0.2/32' });
    await w.ns.addresses.add('v0', '10.3.0.1/16', { metric: 77, scope: 'link' });
    await w.ns.addresses.add('v0', '10.4.0.1/24', { broadcast: '-' });
    await w.ns.addresses.add('v0', '127.0.0.2/8');
    await w.ns.addresses.add('v0', '2001:db8:1::1/64', { flags: ['nodad', 'noprefixroute'] });
    await w.ns.addresses.add('v0', '2001:db8:2::1/64', { flags: ['nodad'], validLifetime: 3000, preferredLifetime: 1000 });
    const ip = ipInfos(w, 'v0');
    const find = (local: string) => ip.find((a) => a.local === local);
    expect(find('10.1.0.1')).toMatchObject({ prefixlen: 24, broadcast: '10.1.0.255', label: 'v0:x', scope: 'global' });
    expect(find('10.2.0.1')).toMatchObject({ address: '10.2.0.2', prefixlen: 32 });
    expect(find('10.3.0.1')).toMatchObject({ metric: 77, scope: 'link' });
    expect(find('10.4.0.1')).toMatchObject({ broadcast: '10.4.0.0' });
    expect(find('127.0.0.2')).toMatchObject({ scope: 'host' });
    expect(find('2001:db8:1::1')).toMatchObject({ nodad: true, noprefixroute: true });
    expect(find('2001:db8:2::1')).toMatchObject({ nodad: true, dynamic: true });
    const lft = ipAddrInfos(w.ipj('address', 'show', 'dev', 'v0')).find((a) => a.local === '2001:db8:2::1');
    expect(lft?.valid_life_time).toBeGreaterThan(2990);
    expect(lft?.preferred_life_time).toBeLessThanOrEqual(1000);
    // And the library reads back exactly what ip shows.
    expect(canonical(ours(await w.ns.addresses.list({ dev: 'v0' })))).toEqual(canonical(ip));
  });

  it('add is exclusive; replace updates lifetimes and is idempotent', async () => {
    const w = await world();
    await w.ns.addresses.add('v0', '10.1.0.1/24');
    const err = await w.ns.addresses.add('v0', '10.1.0.1/24').catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err).toMatchObject({ code: 'EEXIST', errno: -17 });
    await w.ns.addresses.replace('v0', '10.1.0.1/24', { validLifetime: 600, preferredLifetime: 300 });
    await w.ns.addresses.replace('v0', '10.1.0.1/24', { validLifetime: 600, preferredLifetime: 300 });
    const [a] = ipAddrInfos(w.ipj('-4', 'address', 'show', 'dev', 'v0'));
    expect(a).toMatchObject({ local: '10.1.0.1', dynamic: true });
    expect(a.valid_life_time).toBeGreaterThan(590);
    expect(ipAddrInfos(w.ipj('-4', 'address', 'show', 'dev', 'v0'))).toHaveLength(1);
  });
});

describe('delete and flush', () => {
  it('delete removes exactly one address; idempotent with ifExists, ENODEV/EADDRNOTAVAIL otherwise', async () => {
    const w = await world();
    w.ip('address', 'add', '10.1.0.1/24', 'dev', 'v0');
    w.ip('address', 'add', '10.1.0.2/24', 'dev', 'v0');
    w.ip('address', 'add', '2001:db8::1/64', 'dev', 'v0', 'nodad');
    expect(await w.ns.addresses.delete('v0', '10.1.0.2/24')).toBe(true);
    // A bare address matches whatever its prefix length.
    expect(await w.ns.addresses.delete('v0', '2001:db8::1')).toBe(true);
    expect(ipAddrInfos(w.ipj('address', 'show', 'dev', 'v0')).filter((a) => a.scope === 'global').map((a) => a.local)).toEqual(['10.1.0.1']);
    // The wrong prefix length does not match.
    await expect(w.ns.addresses.delete('v0', '10.1.0.1/16')).rejects.toMatchObject({ code: 'EADDRNOTAVAIL' });
    expect(await w.ns.addresses.delete('v0', '10.1.0.2/24', { ifExists: true })).toBe(false);
    expect(await w.ns.addresses.delete('v0', '10.1.0.2', { ifExists: true })).toBe(false);
    await expect(w.ns.addresses.delete('v0', '10.1.0.2/24')).rejects.toMatchObject({ code: 'EADDRNOTAVAIL' });
    expect(await w.ns.addresses.delete('gone0', '10.1.0.1/24', { ifExists: true })).toBe(false);
    await expect(w.ns.addresses.delete('gone0', '10.1.0.1/24')).rejects.toMatchObject({ code: 'ENODEV' });
    expect(ipAddrInfos(w.ipj('-4', 'address', 'show', 'dev', 'v0')).map((a) => a.local)).toEqual(['10.1.0.1']);
  });

  it('flush by link and family removes primaries and secondaries, leaves the rest', async () => {
    const w = await world();
    for (const a of ['10.1.0.1/24', '10.1.0.2/24', '10.1.0.3/24', '10.2.0.1/16']) w.ip('address', 'add', a, 'dev', 'v0');
    w.ip('address', 'add', '2001:db8::1/64', 'dev', 'v0', 'nodad');
    w.ip('address', 'add', '10.9.0.1/24', 'dev', 'v1');
    const removed = await w.ns.addresses.flush({ dev: 'v0', family: 4 });
    expect(removed).toBeGreaterThanOrEqual(2); // secondaries may go along with their primary
    expect(ipAddrInfos(w.ipj('-4', 'address', 'show', 'dev', 'v0'))).toEqual([]);
    expect(ipAddrInfos(w.ipj('-6', 'address', 'show', 'dev', 'v0')).map((a) => a.local)).toContain('2001:db8::1');
    expect(ipAddrInfos(w.ipj('-4', 'address', 'show', 'dev', 'v1')).map((a) => a.local)).toEqual(['10.9.0.1']);
    expect(await w.ns.addresses.flush({ dev: 'v0', family: 4 })).toBe(0);
  });
});

describe('bad input: typed error, nothing created', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['010.0.0.1/8', {}],
    ['0x7f.1/8', {}],
    ['1.2.3/24', {}],
    ['10.0.0.1/33', {}],
    ['/24', {}],
    [' 10.0.0.1/24', {}],
    ['10.0.0.1/24 ', {}],
    ['10.0.0.1/24', { label: 'v1:x' }],
    ['10.0.0.1/24', { broadcast: '10.0.0.255/24' }],
    ['10.0.0.1/24', { flags: ['secondary'] }],
    ['10.0.0.1/24', { validLifetime: 10, preferredLifetime: 20 }],
    ['2001:db8::1/64', { broadcast: '+' }],
  ];
  it.each(cases)('add(v0, %j, %j)', async (address, opts) => {
    const w = await world('addrbad');
    const before = w.ipj('address', 'show');
    const err = await w.ns.addresses.add('v0', address, opts).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.code).toBe('ERR_INVALID_ARG');
    expect(w.ipj('address', 'show')).toEqual(before);
  });

  it('a kernel rejection carries the errno and the operation', async () => {
    const w = await world('addrbad');
    const err = await w.ns.addresses.add('nosuch0', '10.0.0.1/24').catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err.code).toBe('ENODEV');
    // IPv6 disabled on the link: the kernel says why, in its own words.
    w.ip('link', 'add', 'd6', 'type', 'veth', 'peer', 'name', 'd6p');
    run('ip', ['netns', 'exec', w.name, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv6/conf/d6/disable_ipv6']);
    const e6 = await w.ns.addresses.add('d6', '2001:db8::1/64').catch((e) => e);
    expect(e6).toBeInstanceOf(NetlinkError);
    expect(e6.message).toContain(`ip -n ${w.name} address add 2001:db8::1/64 dev d6`);
    expect(e6).toMatchObject({ code: 'EACCES', kernelMessage: 'ipv6: IPv6 is disabled on this device' });
  });
});

/**
 * Strict parsing of addresses and prefixes, and every rejection of the address, route and neighbour
 * verbs. The verbs run against a tripwire namespace whose every kernel-facing call fails the test,
 * so a passing case proves the input was refused before any system call.
 */
import { describe, expect, it } from 'vitest';
import { Addresses } from '../../lib/api/address/index.js';
import type { Netns } from '../../lib/api/netns/index.js';
import { Neighbours } from '../../lib/api/neighbour/index.js';
import { Nsids } from '../../lib/api/nsid/index.js';
import { Routes } from '../../lib/api/route/index.js';
import { ValidationError } from '../../lib/errors.js';
import { parseCidr, parseIp, parseRoutePrefix } from '../../lib/validate/ip.js';

const tripwire = (): never => {
  throw new Error('reached the kernel: validation should have rejected the input first');
};
const ns = { rtnl: tripwire, links: { get: tripwire, list: tripwire }, get fd(): number { return tripwire(); } } as unknown as Netns;
const addresses = new Addresses(ns);
const routes = new Routes(ns);
const neighbours = new Neighbours(ns);
const nsids = new Nsids(ns);

async function rejects(p: () => Promise<unknown>, field?: string): Promise<void> {
  let err: unknown;
  try {
    await p();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ValidationError);
  expect((err as ValidationError).code).toBe('ERR_INVALID_ARG');
  if (field !== undefined) expect((err as ValidationError).field).toBe(field);
}

describe('strict address and prefix parsing', () => {
  const badCidrs = [
    '010.0.0.1/8', // octal to inet_aton
    '0x7f.1/8', // hex and short form
    '1.2.3/24', // three-part form
    '10.0.0.1/33',
    '2001:db8::1/129',
    ' 10.0.0.1/24',
    '10.0.0.1/24 ',
    '10.0.0.1 /24',
    '10.0.0.1/ 24',
    '10.0.0.1/024',
    '10.0.0.1/-1',
    '10.0.0.1/24/1',
    '10.0.0.01/24',
    '256.0.0.1/8',
    '1.2.3.4.5/8',
    '1e1.0.0.1/8',
    '2001:db8::1%eth0/64',
    '::ffff:010.0.0.1/128',
    '2001:db8:::1/64',
    '/24',
    '',
  ];
  it.each(badCidrs)('rejects %j', (s) => {
    expect(() => parseCidr(s, 'address', true)).toThrow(ValidationError);
  });

  it.each([42, undefined, null, {}, ['10.0.0.1/8']])('rejects the non-string %j', (v) => {
    expect(() => parseCidr(v as string)).toThrow(ValidationError);
    expect(() => parseIp(v as string)).toThrow(ValidationError);
  });

  it('accepts strict forms', () => {
    expect(parseCidr('10.0.0.1/24')).toMatchObject({ family: 4, prefixLength: 24 });
    expect(parseCidr('0.0.0.0/0').prefixLength).toBe(0);
    expect(parseCidr('2001:db8::1/64')).toMatchObject({ family: 6, prefixLength: 64 });
    expect(parseCidr('::ffff:10.0.0.1/128').bytes.toString('hex')).toBe('00000000000000000000ffff0a000001');
    expect(parseCidr('10.0.0.1', 'address', true).prefixLength).toBe(32);
    expect(() => parseCidr('10.0.0.1')).toThrow(/prefix length/);
  });

  it('route prefixes: host bits must be zero, families must agree', () => {
    expect(() => parseRoutePrefix('10.0.0.1/24')).toThrow(/host bits/);
    expect(() => parseRoutePrefix('2001:db8::1/64')).toThrow(/host bits/);
    expect(() => parseRoutePrefix('10.0.0.0/8', 'destination', 6)).toThrow(/IPv6/);
    expect(parseRoutePrefix('default', 'destination', 6)).toMatchObject({ family: 6, prefixLength: 0 });
    expect(parseRoutePrefix('10.0.0.1').prefixLength).toBe(32);
  });
});

describe('addresses reject bad input before any system call', () => {
  it.each([
    ['010.0.0.1/8', {}, 'address'],
    ['0x7f.1/8', {}, 'address'],
    ['1.2.3/24', {}, 'address'],
    ['10.0.0.1/33', {}, 'address'],
    [' 10.0.0.1/24', {}, 'address'],
    ['10.0.0.1/24', { peer: '2001:db8::2' }, 'peer'],
    ['2001:db8::1/64', { broadcast: '+' }, 'broadcast'],
    ['10.0.0.1/24', { broadcast: '10.0.0.255/24' }, 'broadcast'],
    ['2001:db8::1/64', { label: 'eth0:x' }, 'label'],
    ['10.0.0.1/24', { label: 'eth0:much-too-long' }, 'label'],
    ['10.0.0.1/24', { label: 'other:1' }, 'label'],
    ['10.0.0.1/24', { flags: ['secondary'] }, 'flags'],
    ['10.0.0.1/24', { validLifetime: 10, preferredLifetime: 20 }, 'preferredLifetime'],
    ['10.0.0.1/24', { validLifetime: 0 }, 'validLifetime'],
    ['10.0.0.1/24', { validLifetime: -1 }, 'validLifetime'],
    ['10.0.0.1/24', { validLifetime: 1.5 }, 'validLifetime'],
    ['10.0.0.1/24', { validLifetime: 'never' }, 'validLifetime'],
    ['10.0.0.1/24', { metric: -1 }, 'metric'],
    ['10.0.0.1/24', { scope: 'galaxy' }, 'scope'],
    ['10.0.0.1/24', { brodcast: '+' }, 'brodcast'],
  ] as const)('add(eth0, %j, %j)', async (addr, opts, field) => {
    await rejects(() => addresses.add('eth0', addr, opts as never), field);
  });

  it('bad devices and filters', async () => {
    await rejects(() => addresses.add('eth/0', '10.0.0.1/24'), 'dev');
    await rejects(() => addresses.add('a-name-of-16-bytes', '10.0.0.1/24'), 'dev');
    await rejects(() => addresses.add(0, '10.0.0.1/24'), 'dev');
    await rejects(() => addresses.delete('eth0', '10.0.0.1/33'), 'address');
    await rejects(() => addresses.list({ family: 5 as never }), 'family');
    await rejects(() => addresses.flush({ dev: 'has space' }), 'dev');
  });
});

describe('routes reject bad input before any system call', () => {
  it.each([
    [{ destination: '10.0.0.1/24', dev: 'eth0' }, 'destination'],
    [{ destination: '010.0.0.0/8', dev: 'eth0' }, 'destination'],
    [{ destination: 'Default', gateway: '10.0.0.1' }, 'destination'],
    [{ destination: '10.0.0.0/8', gateway: '2001:db8::1' }, 'gateway'],
    [{ destination: 'default', family: 6, gateway: '10.0.0.1' }, 'family'],
    [{ destination: '10.0.0.0/8', gateway: '10.0.0.1', nexthops: [{ gateway: '10.0.0.2' }] }, 'nexthops'],
    [{ destination: '10.0.0.0/8', nexthops: [] }, 'nexthops'],
    [{ destination: '10.0.0.0/8', nexthops: [{ weight: 2 }] }, 'nexthops[0]'],
    [{ destination: '10.0.0.0/8', nexthops: [{ gateway: '10.0.0.2', weight: 0 }] }, 'nexthops[0].weight'],
    [{ destination: '10.0.0.0/8', nexthops: [{ gateway: '10.0.0.2', weight: 257 }] }, 'nexthops[0].weight'],
    [{ destination: '10.0.0.0/8', type: 'blackhole', gateway: '10.0.0.1' }, 'type'],
    [{ destination: '10.0.0.0/8', type: 'bogus' }, 'type'],
    [{ destination: '10.0.0.0/8', dev: 'eth0', table: 0 }, 'table'],
    [{ destination: '10.0.0.0/8', dev: 'eth0', table: 'nosuch' }, 'table'],
    [{ destination: '10.0.0.0/8', dev: 'eth0', protocol: 256 }, 'protocol'],
    [{ destination: '10.0.0.0/8', dev: 'eth0', metric: 2 ** 32 }, 'metric'],
    [{ destination: '10.0.0.0/8', dev: 'eth0', tos: 300 }, 'tos'],
    [{ destination: '10.0.0.0/8', dev: 'eth0', metrics: { mtuu: 1400 } }, 'metrics.mtuu'],
    [{ destination: '10.0.0.0/8', dev: 'eth0', metrics: { mtu: 1400, lock: ['nosuch'] } }, 'metrics.lock'],
    [{ destination: '10.0.0.0/8', dev: 'eth0', metrics: { congctl: 'cubic; rm' } }, 'metrics.congctl'],
    [{ destination: '10.0.0.0/8', dev: 'eth0', pref: 'high' }, 'pref'],
    [{ destination: '10.0.0.0/8', dev: 'eth/0' }, 'dev'],
    [{ destination: '10.0.0.0/8', dev: 'eth0', onlink: 'yes' }, 'onlink'],
    [{ destination: '10.0.0.0/8', device: 'eth0' }, 'device'],
  ] as const)('add(%j)', async (spec, field) => {
    await rejects(() => routes.add(spec as never), field);
  });

  it('delete, list and get', async () => {
    await rejects(() => routes.delete('10.0.0.1/24'), 'destination');
    await rejects(() => routes.delete({ destination: '10.0.0.0/8' }, { ifExist: true } as never), 'ifExist');
    await rejects(() => routes.list({ table: -1 }), 'table');
    await rejects(() => routes.list({ family: 'ipx' as never }), 'family');
    await rejects(() => routes.get('10.0.0.0/8'), 'destination');
    await rejects(() => routes.get('10.0.0.1', { from: '2001:db8::1' }), 'from');
    await rejects(() => routes.get('10.0.0.1', { iif: 'bad name' }), 'iif');
  });
});

describe('neighbours and nsids reject bad input before any system call', () => {
  it.each([
    ['eth0', '10.0.0.300', {}, 'address'],
    ['eth0', '10.0.0.2', { lladdr: '02:00:00:00:00' + ':0g' }, 'lladdr'],
    ['eth0', '10.0.0.2', { lladdr: '2:0:0:0:0:2' }, 'lladdr'],
    ['eth0', '10.0.0.2', { lladdr: '02:00:00:00:00:02', state: 'learned' }, 'state'],
    ['eth0', '10.0.0.2', { router: 'yes' }, 'router'],
    ['eth:0', '10.0.0.2', {}, 'dev'],
  ] as const)('add(%j, %j, %j)', async (dev, addr, opts, field) => {
    await rejects(() => neighbours.add(dev, addr, opts as never), field);
  });

  it('delete, get and list', async () => {
    await rejects(() => neighbours.delete('eth0', '010.0.0.2'), 'address');
    await rejects(() => neighbours.get('eth0', 'fe80::1%eth0'), 'address');
    await rejects(() => neighbours.list({ state: 'learned' as never }), 'state');
  });

  it('nsids: ids and peer names', async () => {
    await rejects(() => nsids.assign('red', -2), 'id');
    await rejects(() => nsids.assign('red', 2 ** 31), 'id');
    await rejects(() => nsids.get('..'), 'peer');
    await rejects(() => nsids.get(42 as never), 'peer');
  });
});

/**
 * CNI pieces that need no root: version negotiation and the dispatcher's checks (codes and texts of
 * the reference's skel), result conversion between versions, host-local configuration (the
 * reference's LoadIPAMConfig rules and texts), its allocation order and store layout in a temp dir,
 * and address formatting as Go prints it.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatAddr, parseAddr } from '../../lib/cni/ip.js';
import { hostLocalAdd, hostLocalDel, hostLocalGc, hostLocalStatus, loadHostLocalConfig, parseCniArgs } from '../../lib/cni/ipam/host_local.js';
import { CniError } from '../../lib/cni/types.js';
import { checkContainerId, checkIfName, checkNetworkName, checkVersion, resultForVersion, versionInfo } from '../../lib/cni/version.js';

const dir = mkdtempSync(join(tmpdir(), 'cni-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cniErr = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CniError);
    return e as CniError;
  }
  throw new Error('did not throw');
};

describe('protocol checks', () => {
  it('negotiates versions and reports incompatibility with code 1', () => {
    expect(checkVersion({ cniVersion: '1.0.0' })).toBe('1.0.0');
    expect(checkVersion({ cniVersion: '1.1.0' })).toBe('1.1.0');
    const e = cniErr(() => checkVersion({ cniVersion: '9.9.9' }));
    expect([e.cniCode, e.msg]).toEqual([1, 'incompatible CNI versions']);
    expect(e.details).toBe('config is "9.9.9", plugin supports ["0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"]');
    expect(cniErr(() => checkVersion({})).cniCode).toBe(1); // absent means 0.1.0, whose result shape is not written
    expect(versionInfo()).toEqual({ cniVersion: '1.1.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });
  it('checks names, container ids and interface names with the reference texts and codes', () => {
    expect(cniErr(() => checkNetworkName({})).cniCode).toBe(7);
    expect(cniErr(() => checkNetworkName({ name: 'a b' })).msg).toBe('invalid characters found in network name');
    expect(cniErr(() => checkContainerId('')).cniCode).toBe(3);
    expect(cniErr(() => checkContainerId('x/y')).cniCode).toBe(4);
    expect(cniErr(() => checkIfName('a'.repeat(16))).msg).toBe('interface name is too long');
    expect(cniErr(() => checkIfName('e:0')).cniCode).toBe(4);
    expect(checkIfName('eth0')).toBe('eth0');
  });
  it('writes results in the requested version', () => {
    const r = { cniVersion: '1.1.0', interfaces: [{ name: 'eth0', mtu: 1500 }], ips: [{ interface: 0, address: 'fd00::2/64' }], routes: [{ dst: '::/0', mtu: 1400 }] };
    expect(resultForVersion(r, '0.4.0')).toEqual({ cniVersion: '0.4.0', interfaces: [{ name: 'eth0' }], ips: [{ version: '6', interface: 0, address: 'fd00::2/64' }], routes: [{ dst: '::/0' }] });
    expect(resultForVersion(r, '1.1.0')).toEqual(r);
  });
  it('splits CNI_ARGS', () => {
    expect(parseCniArgs('IgnoreUnknown=1;IP=10.0.0.5')).toEqual({ IgnoreUnknown: '1', IP: '10.0.0.5' });
    expect(cniErr(() => parseCniArgs('a=b=c')).msg).toBe('ARGS: invalid pair "a=b=c"');
  });
});

describe('addresses as Go prints them', () => {
  it('compresses IPv6 the RFC 5952 way', () => {
    for (const [i, o] of [['fd00:0:0:0:0:0:0:1', 'fd00::1'], ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'], ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], ['2001:db8:1:1:1:1:0:1', '2001:db8:1:1:1:1:0:1'], ['::', '::'], ['10.0.0.1', '10.0.0.1']]) {
      expect(formatAddr(parseAddr(i)!)).toBe(o);
    }
  });
});

describe('host-local configuration', () => {
  const conf = (ipam: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ cniVersion: '1.0.0', name: 'n', ipam: { type: 'host-local', dataDir: dir, ...ipam }, ...extra });
  it('fills in range bounds and gateways as the reference does', () => {
    const c = loadHostLocalConfig(conf({ subnet: '10.1.0.0/24', ranges: [[{ subnet: 'fd00::/120', rangeStart: 'fd00::10' }]] }));
    expect(c.ranges.map((s) => s.map((r) => [formatAddr(r.rangeStart), formatAddr(r.rangeEnd), formatAddr(r.gateway)]))).toEqual([
      [['10.1.0.1', '10.1.0.254', '10.1.0.1']],
      [['fd00::10', 'fd00::ff', 'fd00::1']],
    ]);
  });
  it('rejects what the reference rejects, with its texts', () => {
    const msg = (ipam: Record<string, unknown>) => cniErr(() => loadHostLocalConfig(conf(ipam))).msg;
    expect(msg({})).toBe('no IP ranges specified');
    expect(msg({ ranges: [[{ subnet: '10.0.0.0/24' }], [{ subnet: '10.0.0.128/25' }]] })).toBe('range set 0 overlaps with 1');
    expect(msg({ ranges: [[{ subnet: '10.0.0.0/24' }, { subnet: 'fd00::/64' }]] })).toBe('invalid range set 0: mixed address families');
    expect(msg({ subnet: '10.0.0.0/31' })).toBe('invalid range set 0: Network 10.0.0.0/31 too small to allocate from');
    expect(msg({ subnet: '10.0.0.1/24' })).toBe('invalid range set 0: Network has host bits set. For a subnet mask of length 24 the network address is 10.0.0.0');
    expect(msg({ subnet: '10.0.0.0/24', rangeStart: '10.0.1.1' })).toBe('invalid range set 0: RangeStart 10.0.1.1 not in network 10.0.0.0/24');
    expect(cniErr(() => loadHostLocalConfig({ name: 'n' })).msg).toBe("IPAM config missing 'ipam' key");
  });
});

describe('host-local allocation and store', () => {
  const conf = { cniVersion: '1.0.0', name: 'seq', ipam: { type: 'host-local', dataDir: dir, subnet: '10.2.0.0/29', routes: [{ dst: '0.0.0.0/0' }] } };
  it('allocates round robin from the last reservation, skipping the gateway, in the reference layout', async () => {
    const got: string[] = [];
    for (const id of ['a', 'b', 'c']) got.push((await hostLocalAdd(conf, id, 'eth0')).ips![0].address);
    expect(got).toEqual(['10.2.0.2/29', '10.2.0.3/29', '10.2.0.4/29']);
    expect(readFileSync(join(dir, 'seq', '10.2.0.3'), 'utf8')).toBe('b\r\neth0');
    expect(readFileSync(join(dir, 'seq', 'last_reserved_ip.0'), 'utf8')).toBe('10.2.0.4');
    await hostLocalDel(conf, 'b', 'eth0');
    // Round robin: after .4 come .5 and .6, then the wrap-around finds .3 free again.
    for (const id of ['d', 'e', 'f']) got.push((await hostLocalAdd(conf, id, 'eth0')).ips![0].address);
    expect(got.slice(3)).toEqual(['10.2.0.5/29', '10.2.0.6/29', '10.2.0.3/29']);
    const e = await hostLocalAdd(conf, 'g', 'eth0').catch((x) => x);
    expect(e.msg).toBe('failed to allocate for range 0: no IP addresses available in range set: 10.2.0.1-10.2.0.6');
    expect((await hostLocalStatus({ ...conf, cniVersion: '1.1.0' }).catch((x) => x)).cniCode).toBe(50);
    const dup = await hostLocalAdd(conf, 'a', 'eth0').catch((x) => x);
    expect(dup.msg).toContain('duplicate allocation is not allowed');
    await hostLocalGc(conf, [{ containerID: 'a', ifname: 'eth0' }]);
    expect(readdirSync(join(dir, 'seq')).sort()).toEqual(['10.2.0.2', 'last_reserved_ip.0', 'lock']);
  });
  it('honours a requested address (CNI_ARGS IP=) and releases the old id-only format', async () => {
    const c2 = { ...conf, name: 'req' };
    expect((await hostLocalAdd(c2, 'x', 'eth0', { IP: '10.2.0.5' })).ips![0].address).toBe('10.2.0.5/29');
    expect((await hostLocalAdd(c2, 'y', 'eth0', { IP: '10.2.0.1' }).catch((x) => x)).msg).toBe("failed to allocate for range 0: requested ip 10.2.0.1 is subnet's gateway");
    writeFileSync(join(dir, 'req', '10.2.0.6'), 'old');
    await hostLocalDel(c2, 'old', 'eth0');
    expect(readdirSync(join(dir, 'req')).sort()).toEqual(['10.2.0.5', 'last_reserved_ip.0', 'lock']);
  });
  it('serializes concurrent in-process allocations (flock plus the in-process queue)', async () => {
    const c3 = { cniVersion: '1.0.0', name: 'par', ipam: { type: 'host-local', dataDir: dir, subnet: '10.3.0.0/24' } };
    const all = await Promise.all(Array.from({ length: 40 }, (_, i) => hostLocalAdd(c3, `p${i}`, 'eth0')));
    expect(new Set(all.map((r) => r.ips![0].address)).size).toBe(40);
  });
});

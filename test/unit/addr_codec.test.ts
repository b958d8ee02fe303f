/**
 * Address codec against bytes recorded from the kernel and from `ip` by
 * test/fixtures/addr_route_neigh_capture.py (see test/fixtures/addr_fixture.json's _produced_by).
 */
import { describe, expect, it } from 'vitest';
import { buildRequest } from '../../lib/api/address/spec.js';
import { toAddress } from '../../lib/api/address/view.js';
import { NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST } from '../../lib/netlink/constants.js';
import { encodeMessage } from '../../lib/netlink/message.js';
import { decodeAddrMessage, encodeAddrBody } from '../../lib/rtnl/addr/index.js';
import { RTM_DELADDR, RTM_NEWADDR } from '../../lib/rtnl/constants.js';
import { canonical, ipAddrInfos, ipAddrView } from '../../lib/format/ip_views.js';
import { ipFixture } from './ip_fixtures.js';

const F = ipFixture('addr');
const fx = F.raw;
const V0 = F.v0;
const names = F.names;

function decodedDump() {
  return F.messages('addr_dump', RTM_NEWADDR).map((m) => toAddress(decodeAddrMessage(m.payload), names));
}

const ipRequest = F.ipRequest;

describe('decoding RTM_NEWADDR recorded from the kernel', () => {
  it('reads every address with the values ip -j reported', () => {
    const ours = decodedDump().map(ipAddrView);
    expect(canonical(ours)).toEqual(canonical(ipAddrInfos(fx.ip_json.addr_dump)));
  });

  it('reads broadcast, label, peer, flags and lifetimes', () => {
    const byCidr = new Map(decodedDump().map((a) => [a.cidr, a]));
    expect(byCidr.get('10.1.0.1/24')).toEqual({
      family: 4, address: '10.1.0.1', prefixLength: 24, cidr: '10.1.0.1/24', broadcast: '10.1.0.255', scope: 'global',
      label: 'v0:x', ifindex: V0, dev: 'v0', flags: ['permanent'], rawFlags: 0x80, validLifetime: 'forever', preferredLifetime: 'forever',
    });
    expect(byCidr.get('10.2.0.1/32')).toMatchObject({ peer: '10.2.0.2', label: 'v0' });
    expect(byCidr.get('10.1.0.5/24')).toMatchObject({ flags: ['secondary'], validLifetime: 100, preferredLifetime: 50 });
    expect(byCidr.get('2001:db8:2::1/64')).toMatchObject({ family: 6, flags: ['nodad', 'permanent', 'noprefixroute'], rawFlags: 0x282 });
    expect(byCidr.get('127.0.0.1/8')).toMatchObject({ scope: 'host', dev: 'lo' });
  });
});

describe('encoding matches the requests ip sent', () => {
  it('ip address add 10.3.0.1/24 brd + dev v0 label v0:y', () => {
    const cmd = 'address add 10.3.0.1/24 brd + dev v0 label v0:y';
    const ip = ipRequest(cmd);
    const req = buildRequest('10.3.0.1/24', { broadcast: '+', label: 'v0:y' }, 'v0');
    const body = encodeAddrBody({ ...req.header, index: V0 }, req.attrs);
    expect(ip.type).toBe(RTM_NEWADDR);
    expect(ip.flags).toBe(NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    expect(body.toString('hex')).toBe(ip.body.toString('hex'));
  });

  it('IPv6 with nodad, noprefixroute (IFA_FLAGS) and lifetimes (IFA_CACHEINFO)', () => {
    const ip = ipRequest('-6 address add 2001:db8:3::1/64 dev v0 nodad noprefixroute valid_lft 100 preferred_lft 50');
    const req = buildRequest('2001:db8:3::1/64', { flags: ['nodad', 'noprefixroute'], validLifetime: 100, preferredLifetime: 50 }, 'v0');
    expect(encodeAddrBody({ ...req.header, index: V0 }, req.attrs).toString('hex')).toBe(ip.body.toString('hex'));
  });

  it('ip address del 10.3.0.1/24 dev v0: IFA_LOCAL and IFA_ADDRESS', () => {
    const ip = ipRequest('address del 10.3.0.1/24 dev v0');
    expect(ip.type).toBe(RTM_DELADDR);
    const body = encodeAddrBody({ family: 2, prefixlen: 24, index: V0 }, { local: '10.3.0.1', address: '10.3.0.1' });
    expect(encodeMessage(RTM_DELADDR, ip.flags, ip.seq, body).subarray(16).toString('hex')).toBe(ip.body.toString('hex'));
  });
});

describe('request building', () => {
  it('defaults: /32 for a bare address, host scope for loopback, peer sets the prefix', () => {
    expect(buildRequest('10.0.0.1', {}).header).toEqual({ family: 2, prefixlen: 32, flags: 0, scope: 0 });
    expect(buildRequest('127.0.0.2/8', {}).header.scope).toBe(254);
    const p = buildRequest('10.2.0.1', { peer: '10.2.0.2/30' });
    expect(p.header.prefixlen).toBe(30);
    expect(p.attrs).toMatchObject({ local: '10.2.0.1', address: '10.2.0.2' });
  });

  it("brd '-' clears the host bits; an explicit broadcast is kept", () => {
    expect(buildRequest('10.1.2.3/16', { broadcast: '-' }).attrs.broadcast).toBe('10.1.0.0');
    expect(buildRequest('10.1.2.3/16', { broadcast: '10.1.255.254' }).attrs.broadcast).toBe('10.1.255.254');
  });

  it('preferred lifetime defaults to the valid one; flags within 8 bits stay in the header', () => {
    const r = buildRequest('10.0.0.1/24', { validLifetime: 60, flags: ['nodad'] });
    expect(r.attrs.cacheinfo).toEqual({ valid: 60, preferred: 60, created: 0, updated: 0 });
    expect(r.header.flags).toBe(0x02);
    expect(r.attrs.flags).toBeUndefined();
  });
});

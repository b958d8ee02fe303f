/**
 * Route codec against bytes recorded from the kernel and from `ip` by
 * test/fixtures/addr_route_neigh_capture.py (see test/fixtures/route_fixture.json's _produced_by).
 */
import { describe, expect, it } from 'vitest';
import { checkRoute, encodeRoute, type RouteSpec } from '../../lib/api/route/spec.js';
import { toRoute } from '../../lib/api/route/view.js';
import { NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST } from '../../lib/netlink/constants.js';
import { RTM_DELROUTE, RTM_GETROUTE, RTM_NEWROUTE } from '../../lib/rtnl/constants.js';
import { RTM_F_LOOKUP_TABLE, decodeRouteMessage, encodeRouteBody } from '../../lib/rtnl/route/index.js';
import { ipRouteView, stripIpRoute } from '../../lib/format/ip_views.js';
import { ipFixture } from './ip_fixtures.js';

const F = ipFixture('route');
const fx = F.raw;
const V0 = F.v0;
const names = F.names;

function decoded(key: string) {
  return F.messages(key, RTM_NEWROUTE).map((m) => toRoute(decodeRouteMessage(m.payload), names));
}

const ipRequest = F.ipRequest;

describe('decoding RTM_NEWROUTE recorded from the kernel', () => {
  it('an IPv4 dump reads back as ip -j route show table all printed it', () => {
    const ip = stripIpRoute(fx.ip_json.route4_dump).filter((r) => !String(r.dst).includes(':'));
    expect(decoded('route4_dump').map((r) => ipRouteView(r, true))).toEqual(ip);
  });

  it('an IPv6 dump reads back as ip -j -6 route show table all printed it', () => {
    expect(decoded('route6_dump').map((r) => ipRouteView(r, true))).toEqual(stripIpRoute(fx.ip_json.route6_dump));
  });

  it('types, tables, metrics with locks, multipath weights', () => {
    const v4 = new Map(decoded('route4_dump').filter((r) => r.table !== 255).map((r) => [r.destination, r]));
    expect(v4.get('default')).toMatchObject({ gateway: '10.1.0.254', dev: 'v0', ifindex: V0, metric: 50, protocol: 'boot', scope: 'global', table: 254 });
    expect(v4.get('10.9.0.0/16')).toMatchObject({ table: 1000, protocol: 'static', metrics: { mtu: 1400, advmss: 1300, lock: ['mtu'] } });
    expect(v4.get('10.8.0.0/16')?.type).toBe('blackhole');
    expect(v4.get('10.7.0.0/16')).toMatchObject({ type: 'unreachable', metric: 7 });
    expect(v4.get('10.4.0.0/16')).toMatchObject({ scope: 'link', source: '10.1.0.1' });
    expect(v4.get('10.5.0.0/16')?.nexthops).toEqual([
      { gateway: '10.1.0.2', ifindex: V0, dev: 'v0', weight: 2, flags: [] },
      { gateway: '10.1.0.3', ifindex: V0, dev: 'v0', weight: 1, flags: [] },
    ]);
    const v6 = new Map(decoded('route6_dump').map((r) => [r.destination, r]));
    expect(v6.get('2001:db9::/64')).toMatchObject({ family: 6, gateway: '2001:db8:1::2', metric: 5, pref: 'high' });
    expect(v6.get('2001:dba::/64')?.nexthops?.map((n) => n.weight)).toEqual([1, 3]);
  });

  it('the answer to a route lookup (RTM_F_LOOKUP_TABLE) reads as ip route get printed it', () => {
    const [r] = decoded('route_get');
    expect(ipRouteView(r, true)).toEqual(stripIpRoute(fx.ip_json.route_get)[0]);
    expect(r).toMatchObject({ destination: '10.5.0.1', gateway: '10.1.0.2', source: '10.1.0.1', table: 254, type: 'unicast' });
  });
});

describe('encoding matches the requests ip sent', () => {
  const same = (cmd: string, spec: RouteSpec, mode: 'modify' | 'delete', type: number, flags: number) => {
    const ip = ipRequest(cmd);
    expect(ip.type).toBe(type);
    expect(ip.flags).toBe(flags);
    expect(encodeRoute(checkRoute(spec, mode), () => V0).toString('hex')).toBe(ip.body.toString('hex'));
  };
  const ADD = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;

  it('gateway, metric, a table above 255 (RTA_TABLE), device', () => {
    same('route add 10.30.0.0/16 via 10.1.0.254 dev v0 metric 7 table 1000',
      { destination: '10.30.0.0/16', gateway: '10.1.0.254', dev: 'v0', metric: 7, table: 1000 }, 'modify', RTM_NEWROUTE, ADD);
  });

  it('multipath (RTA_MULTIPATH with rtnexthop, hops = weight - 1)', () => {
    same('route add 10.31.0.0/16 nexthop via 10.1.0.2 dev v0 weight 2 nexthop via 10.1.0.3 dev v0',
      { destination: '10.31.0.0/16', nexthops: [{ gateway: '10.1.0.2', dev: 'v0', weight: 2 }, { gateway: '10.1.0.3', dev: 'v0' }] },
      'modify', RTM_NEWROUTE, ADD);
  });

  it('metrics with a lock (RTA_METRICS, no NLA_F_NESTED)', () => {
    same('route add 10.32.0.0/16 via 10.1.0.2 mtu lock 1400 advmss 1300',
      { destination: '10.32.0.0/16', gateway: '10.1.0.2', metrics: { mtu: 1400, advmss: 1300, lock: ['mtu'] } }, 'modify', RTM_NEWROUTE, ADD);
  });

  it('delete: scope nowhere, protocol and type unspecified', () => {
    same('route del 10.30.0.0/16 table 1000', { destination: '10.30.0.0/16', table: 1000 }, 'delete', RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK);
  });

  it('lookup: RTM_GETROUTE with RTM_F_LOOKUP_TABLE and a full-length RTA_DST', () => {
    const ip = ipRequest('route get 10.5.0.1');
    expect(ip.type).toBe(RTM_GETROUTE);
    expect(encodeRouteBody({ family: 2, dstLen: 32, flags: RTM_F_LOOKUP_TABLE }, { dst: '10.5.0.1' }).toString('hex')).toBe(ip.body.toString('hex'));
  });
});

describe('defaults ip route add applies', () => {
  it('link scope without a gateway, universe with one; host for local; IPv6 always universe', () => {
    expect(checkRoute({ destination: '10.0.0.0/8', dev: 'x' }, 'modify').header).toMatchObject({ scope: 253, protocol: 3, type: 1, table: 254 });
    expect(checkRoute({ destination: 'default', gateway: '10.0.0.1' }, 'modify').header.scope).toBe(0);
    expect(checkRoute({ destination: '10.0.0.1', type: 'local', dev: 'lo' }, 'modify').header.scope).toBe(254);
    expect(checkRoute({ destination: '2001:db8::/64', dev: 'x' }, 'modify').header.scope).toBe(0);
  });

  it("'default' takes its family from the gateway or the family option, IPv4 otherwise", () => {
    expect(checkRoute({ destination: 'default', gateway: 'fe80::1', dev: 'x' }, 'modify').family).toBe(6);
    expect(checkRoute({ destination: 'default', family: 'inet6', type: 'unreachable' }, 'modify').family).toBe(6);
    expect(checkRoute('default', 'delete').family).toBe(4);
  });

  it('a default route has no RTA_DST and dst_len 0', () => {
    const body = encodeRoute(checkRoute({ destination: 'default', gateway: '10.0.0.1' }, 'modify'), () => 0);
    expect(body.subarray(0, 12).toString('hex')).toBe('02000000fe03000100000000') // inet, dst_len 0, table main, boot, universe, unicast;
    expect(body.subarray(12).toString('hex')).toBe('080005000a000001');
  });
});

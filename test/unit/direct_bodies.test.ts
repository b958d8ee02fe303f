/**
 * The pod path's verbs write three message bodies directly instead of through the attribute-table
 * encoder (docs/performance.md, "Pod steps (pod2)"): `ip link set dev NAME up|down`, an address
 * without options, a route with at most destination, gateway and device. Each must stay the same
 * bytes as the encoder makes of the same request, which the golden tests pin to iproute2.
 */
import { describe, expect, it } from 'vitest';
import { buildRequest, encodePlainAddrBody, type AddressOptions } from '../../lib/api/address/spec.js';
import { encodeSetBody } from '../../lib/api/link/spec.js';
import { checkRoute, encodeRoute, type RouteSpec } from '../../lib/api/route/spec.js';
import { encodeAddrBody } from '../../lib/rtnl/addr/index.js';
import { AF_INET, AF_INET6, AF_UNSPEC } from '../../lib/rtnl/constants.js';
import { IFF_UP, encodeLinkBody } from '../../lib/rtnl/link/index.js';
import { encodeRouteBody, type RouteAttrs } from '../../lib/rtnl/route/index.js';

describe('bodies written directly equal the encoder\'s', () => {
  it('addresses without options (v4 and v6, every prefix length, loopback scope); options take the encoder', () => {
    const cases: Array<[string, AddressOptions]> = [];
    for (let len = 0; len <= 32; len++) cases.push([`10.${len}.7.${len + 1}/${len}`, {}]);
    for (let len = 0; len <= 128; len += 7) cases.push([`fd00:${len.toString(16)}::${len + 1}/${len}`, {}]);
    cases.push(['127.0.0.2/8', {}], ['::1/128', {}], ['192.0.2.9/24', { scope: 'link' }], ['2001:db8::1/64', { scope: 'site' }]);
    for (const [address, opts] of cases) {
      const req = buildRequest(address, opts);
      expect(req.plain, address).toBeDefined();
      const direct = encodePlainAddrBody(req.header, 7, req.plain!);
      expect(direct.toString('hex'), address).toBe(encodeAddrBody({ ...req.header, index: 7 }, req.attrs).toString('hex'));
    }
    for (const opts of [{ label: 'eth0:a' }, { broadcast: '+' }, { peer: '10.0.0.2' }, { validLifetime: 60 }] as AddressOptions[]) {
      expect(buildRequest('10.0.0.1/24', opts, 'eth0').plain, JSON.stringify(opts)).toBeUndefined();
    }
  });

  it('routes with at most destination, gateway and device', () => {
    const specs: RouteSpec[] = [
      { destination: 'default', gateway: '10.77.0.1' },
      { destination: 'default', gateway: 'fd00::1', dev: 'eth0' },
      { destination: '10.8.0.0/16', dev: 'eth0' },
      { destination: '198.51.100.7/32', gateway: '10.0.0.1', dev: 'eth0' },
      { destination: '2001:db8:1::/48', gateway: 'fe80::1', dev: 'eth0' },
    ];
    for (const spec of specs) {
      const r = checkRoute(spec, 'modify');
      const attrs: RouteAttrs = {};
      if (r.dst.prefixLength > 0) attrs.dst = spec.destination!.split('/')[0];
      if (r.gateway !== undefined) attrs.gateway = r.gateway;
      if (r.dev !== undefined) attrs.oif = 9;
      const general = encodeRouteBody({ family: r.family === 4 ? AF_INET : AF_INET6, dstLen: r.dst.prefixLength, srcLen: 0, ...r.header }, attrs);
      expect(encodeRoute(r, () => 9).toString('hex'), JSON.stringify(spec)).toBe(general.toString('hex'));
    }
  });

  it('link set up/down by name and by index', () => {
    for (const up of [true, false]) {
      const flags = up ? IFF_UP : 0;
      expect(encodeSetBody(0, { up }, undefined, 'eth0').toString('hex')).toBe(encodeLinkBody({ family: AF_UNSPEC, index: 0, flags, change: IFF_UP }, { ifname: 'eth0' }).toString('hex'));
      expect(encodeSetBody(12, { up }).toString('hex')).toBe(encodeLinkBody({ family: AF_UNSPEC, index: 12, flags, change: IFF_UP }, {}).toString('hex'));
    }
  });
});

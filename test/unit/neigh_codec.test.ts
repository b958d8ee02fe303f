/**
 * Neighbour codec against bytes recorded from the kernel and from `ip` by
 * test/fixtures/addr_route_neigh_capture.py (see test/fixtures/neigh_fixture.json's _produced_by).
 */
import { describe, expect, it } from 'vitest';
import { toNeighbour } from '../../lib/api/neighbour/index.js';
import { RTM_DELNEIGH, RTM_NEWNEIGH } from '../../lib/rtnl/constants.js';
import { NUD_PERMANENT, NUD_STALE, decodeNeighMessage, encodeNeighBody } from '../../lib/rtnl/neigh/index.js';
import { ipNeighView } from '../../lib/format/ip_views.js';
import { ipFixture } from './ip_fixtures.js';

const F = ipFixture('neigh');
const fx = F.raw;
const V0 = F.v0;
const names = F.names;

function decodedDump() {
  return F.messages('neigh_dump', RTM_NEWNEIGH).map((m) => toNeighbour(decodeNeighMessage(m.payload), names));
}

const ipRequest = F.ipRequest;

describe('decoding RTM_NEWNEIGH recorded from the kernel', () => {
  it('reads back as ip -j neigh show nud all printed it', () => {
    expect(decodedDump().map(ipNeighView)).toEqual(fx.ip_json.neigh_dump);
  });

  it('states, link-layer addresses and the router flag', () => {
    const by = new Map(decodedDump().map((n) => [n.address, n]));
    expect(by.get('10.1.0.2')).toMatchObject({ family: 4, dev: 'v0', ifindex: V0, lladdr: '02:00:00:00:00:02', state: 'permanent', rawState: 0x80, router: false });
    expect(by.get('10.1.0.3')).toMatchObject({ state: 'stale' });
    expect(by.get('2001:db8:1::2')).toMatchObject({ family: 6, state: 'reachable', router: true, flags: ['router'] });
  });
});

describe('encoding matches the requests ip sent', () => {
  it('ip neigh add 10.1.0.9 lladdr 02:00:00:00:00:09 dev v0 (nud permanent)', () => {
    const ip = ipRequest('neigh add 10.1.0.9 lladdr 02:00:00:00:00:09 dev v0');
    expect(ip.type).toBe(RTM_NEWNEIGH);
    const body = encodeNeighBody({ family: 2, ifindex: V0, state: NUD_PERMANENT }, { dst: '10.1.0.9', lladdr: '02:00:00:00:00:09' });
    expect(body.toString('hex')).toBe(ip.body.toString('hex'));
  });

  it('ip neigh replace ... nud stale', () => {
    const ip = ipRequest('neigh replace 10.1.0.9 lladdr 02:00:00:00:00:0a dev v0 nud stale');
    const body = encodeNeighBody({ family: 2, ifindex: V0, state: NUD_STALE }, { dst: '10.1.0.9', lladdr: '02:00:00:00:00:0a' });
    expect(body.toString('hex')).toBe(ip.body.toString('hex'));
  });

  it('ip neigh del 10.1.0.9 dev v0', () => {
    const ip = ipRequest('neigh del 10.1.0.9 dev v0');
    expect(ip.type).toBe(RTM_DELNEIGH);
    expect(encodeNeighBody({ family: 2, ifindex: V0, state: NUD_PERMANENT }, { dst: '10.1.0.9' }).toString('hex')).toBe(ip.body.toString('hex'));
  });
});

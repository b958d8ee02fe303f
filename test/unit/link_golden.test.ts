/**
 * Golden bytes for links, recorded by test/fixtures/capture_links.py: requests must equal what
 * iproute2 sent for the same command, and the kernel's answers must decode to what `ip -j` printed
 * for the same device at the same moment.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Netns } from '../../lib/api/netns/index.js';
import { encodeAddBody, encodeDeleteBody, encodeMoveBody, encodeSetBody, type LinkSpec } from '../../lib/api/link/spec.js';
import { toLink } from '../../lib/api/link/view.js';
import { AttrMap } from '../../lib/netlink/attributes.js';
import { NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST } from '../../lib/netlink/constants.js';
import { encodeMessage, parseDatagram } from '../../lib/netlink/message.js';
import { RTM_DELLINK, RTM_NEWLINK } from '../../lib/rtnl/constants.js';
import { IFLA_IFNAME, IFLA_INFO_DATA, IFLA_INFO_KIND, IFLA_LINKINFO, IFLA_NUM_RX_QUEUES, IFLA_NUM_TX_QUEUES, decodeLinkMessage, ifinfomsg } from '../../lib/rtnl/link/index.js';
import { VETH_INFO_PEER } from '../../lib/rtnl/link/kinds/veth.js';
import { ipView, libView } from '../../lib/format/link_views.js';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/links.json', import.meta.url), 'utf8'));

interface Req {
  what: string;
  message: Buffer;
  context: Record<string, number>;
}

function req(name: string): Req {
  const r = fixture.requests[name];
  return { what: r.what, message: Buffer.from(r.message, 'hex'), context: r.context ?? {} };
}

/** Our message with iproute2's type, flags and sequence number, so only the encoding can differ. */
function rebuild(r: Req, body: Buffer): Buffer {
  const m = r.message;
  return encodeMessage(m.readUInt16LE(4), m.readUInt16LE(6), m.readUInt32LE(8), body);
}

/** A stand-in namespace handle: the encoder only reads `fd`. */
const nsWithFd = (fd: number) => ({ fd, name: 'target' }) as unknown as Netns;

const CREATE = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
const noRefs = { index: (): number => { throw new Error('no refs expected'); } };

describe('requests are byte-identical to iproute2 6.1', () => {
  it('veth with its peer created in another namespace, host end with master and up in the same request', () => {
    const r = req('veth_add');
    const spec: LinkSpec = {
      // By default the queue counts are left to the kernel, as the captured `ip link add` did.
      kind: 'veth', name: 'h0', mtu: 1400, mac: '02:00:00:00:00:01', txqueuelen: 500, master: 'br0', up: true,
      peer: { name: 'p0', mtu: 1300, mac: '02:00:00:00:00:02', netns: nsWithFd(r.context.peerNetnsFd) },
    };
    expect(r.message.readUInt16LE(6)).toBe(CREATE);
    expect(r.message.readUInt16LE(4)).toBe(RTM_NEWLINK);
    expect(rebuild(r, encodeAddBody(spec, { master: r.context.masterIndex, ...noRefs })).toString('hex')).toBe(r.message.toString('hex'));
  });

  it('a veth with queues 1: numtxqueues 1 numrxqueues 1 on both ends, nothing else changed; 0 is the default', () => {
    const r = req('veth_add');
    const base = {
      kind: 'veth', name: 'h0', mtu: 1400, mac: '02:00:00:00:00:01', txqueuelen: 500, master: 'br0', up: true,
      peer: { name: 'p0', mtu: 1300, mac: '02:00:00:00:00:02', netns: nsWithFd(r.context.peerNetnsFd) },
    } as const;
    const refs = { master: r.context.masterIndex, ...noRefs };
    const ours = encodeAddBody({ ...base, queues: 1 }, refs);
    const kernels = encodeAddBody(base, refs);
    expect(encodeAddBody({ ...base, queues: 0 }, refs).equals(kernels)).toBe(true);
    // Four u32 attributes (8 bytes each) more: two on this end, two in VETH_INFO_PEER.
    expect(ours.length).toBe(kernels.length + 32);
    const top = new AttrMap(ours, ifinfomsg.size);
    expect([top.u32(IFLA_NUM_TX_QUEUES), top.u32(IFLA_NUM_RX_QUEUES)]).toEqual([1, 1]);
    const peer = top.nested(IFLA_LINKINFO)?.nested(IFLA_INFO_DATA)?.get(VETH_INFO_PEER) as Buffer;
    const peerAttrs = new AttrMap(peer, ifinfomsg.size);
    expect([peerAttrs.u32(IFLA_NUM_TX_QUEUES), peerAttrs.u32(IFLA_NUM_RX_QUEUES), peerAttrs.string(IFLA_IFNAME)]).toEqual([1, 1, 'p0']);
    const four = encodeAddBody({ ...base, queues: 4 }, refs);
    expect(new AttrMap(four, ifinfomsg.size).u32(IFLA_NUM_RX_QUEUES)).toBe(4);
    expect(new AttrMap(kernels, ifinfomsg.size).get(IFLA_NUM_TX_QUEUES)).toBeUndefined();
  });

  it('bridge with STP and timers', () => {
    const r = req('bridge_add');
    const spec: LinkSpec = { kind: 'bridge', name: 'br1', forwardDelay: 400, helloTime: 300, maxAge: 1500, ageingTime: 1000, stp: true, priority: 100 };
    expect(rebuild(r, encodeAddBody(spec, noRefs)).toString('hex')).toBe(r.message.toString('hex'));
  });

  it('macvlan on a parent (IFLA_LINK)', () => {
    const r = req('macvlan_add');
    const spec: LinkSpec = { kind: 'macvlan', name: 'mv0', link: 'd0', mtu: 1400, mode: 'private' };
    const body = encodeAddBody(spec, { index: (ref) => (ref === 'd0' ? r.context.linkIndex : -1) });
    expect(rebuild(r, body).toString('hex')).toBe(r.message.toString('hex'));
  });

  it('ifb', () => {
    const r = req('ifb_add');
    expect(rebuild(r, encodeAddBody({ kind: 'ifb', name: 'i0' }, noRefs)).toString('hex')).toBe(r.message.toString('hex'));
  });

  it('vxlan: the same attributes with the same bytes (ip writes some of them in argv order)', () => {
    const r = req('vxlan_add');
    const spec: LinkSpec = { kind: 'vxlan', name: 'vx0', vni: 42, local: '10.1.1.1', remote: '10.2.2.2', port: 4789, link: 'd0', ttl: 10, learning: false };
    const ours = rebuild(r, encodeAddBody(spec, { index: (ref) => (ref === 'd0' ? r.context.linkIndex : -1) }));
    expect(ours.length).toBe(r.message.length);
    expect(infoData(ours)).toEqual(infoData(r.message));
    // Everything before IFLA_LINKINFO is in the same order.
    const cut = (m: Buffer) => m.subarray(0, m.indexOf(Buffer.from([0x12, 0x00]), 32) - 2);
    expect(cut(ours).toString('hex')).toBe(cut(r.message).toString('hex'));
  });

  it('set several things at once, by ifindex, renaming', () => {
    const r = req('set_many');
    const body = encodeSetBody(r.context.index, { mtu: 1300, mac: '02:00:00:00:00:05', alias: 'hello', txqueuelen: 10, name: 'd5', up: true });
    expect(r.message.readUInt16LE(6)).toBe(NLM_F_REQUEST | NLM_F_ACK);
    expect(rebuild(r, body).toString('hex')).toBe(r.message.toString('hex'));
  });

  it('nomaster is IFLA_MASTER 0', () => {
    const r = req('nomaster');
    expect(rebuild(r, encodeSetBody(r.context.index, { master: null }, 0)).toString('hex')).toBe(r.message.toString('hex'));
  });

  it('move to another namespace and rename on the way', () => {
    const r = req('move_rename');
    expect(rebuild(r, encodeMoveBody(r.context.index, r.context.netnsFd, 'e0')).toString('hex')).toBe(r.message.toString('hex'));
  });

  it('delete by ifindex', () => {
    const r = req('delete');
    expect(r.message.readUInt16LE(4)).toBe(RTM_DELLINK);
    expect(rebuild(r, encodeDeleteBody(r.context.index)).toString('hex')).toBe(r.message.toString('hex'));
  });
});

/** IFLA_INFO_DATA of a request as {type: hex}, order aside. */
function infoData(msg: Buffer): Record<number, string> {
  const top = new AttrMap(msg, 16 + ifinfomsg.size);
  const li = top.nested(IFLA_LINKINFO);
  expect(li?.string(IFLA_INFO_KIND)).toBe('vxlan');
  const data = li?.nested(IFLA_INFO_DATA);
  const out: Record<number, string> = {};
  for (const [t, v] of data?.entries() ?? []) out[t] = v[0].toString('hex');
  return out;
}

function decoded(name: string) {
  const f = fixture.links[name];
  const { messages } = parseDatagram(Buffer.from(f.datagram, 'hex'));
  expect(messages).toHaveLength(1);
  expect(messages[0].type).toBe(RTM_NEWLINK);
  return { link: toLink(decodeLinkMessage(messages[0].payload)), ip: f.ip };
}

// ifindexes of the capture's namespace A (see the request contexts).
const NAMES_A = new Map([[req('veth_add').context.masterIndex, 'br0'], [req('macvlan_add').context.linkIndex, 'd0']]);

describe('kernel answers decode to what ip -d -s -j printed', () => {
  for (const name of ['veth_port', 'veth_peer', 'bridge', 'macvlan', 'vxlan', 'ifb', 'tun']) {
    it(name, () => {
      const { link, ip } = decoded(name);
      const want = ipView(ip, NAMES_A);
      expect(libView(link, want, NAMES_A)).toEqual(want);
    });
  }

  it('a veth end in another namespace: peer index and link-netnsid, bridge port data kept raw', () => {
    const { link } = decoded('veth_port');
    expect(link).toMatchObject({ name: 'h0', kind: 'veth', mtu: 1400, up: true, master: 2, peerIndex: 2, linkIndex: 2, linkNetnsid: 0, txqueuelen: 500 });
    expect(link.info?.slaveKind).toBe('bridge');
    expect(link.info?.slaveData?.length).toBeGreaterThan(0);
    expect(link.stats?.rxBytes).toBe(0n);
  });

  it('bridge data is typed', () => {
    const { link } = decoded('bridge');
    if (link.info?.kind !== 'bridge') throw new Error('not a bridge');
    expect(link.info.data).toMatchObject({ stp: true, forwardDelay: 400, helloTime: 300, maxAge: 1500, ageingTime: 1000, priority: 100, vlanFiltering: false });
    expect(link.info.rawData?.length).toBeGreaterThan(0);
  });

  it('vxlan data names the unicast peer remote', () => {
    const { link } = decoded('vxlan');
    if (link.info?.kind !== 'vxlan') throw new Error('not a vxlan');
    expect(link.info.data).toMatchObject({ vni: 42, remote: '10.2.2.2', local: '10.1.1.1', port: 4789, ttl: 10, learning: false, link: 6 });
    expect(link.info.data?.group).toBeUndefined();
  });

  it('an unmodelled kind (tun) reads back with its raw IFLA_INFO_DATA', () => {
    const { link } = decoded('tun');
    expect(link.kind).toBe('tun');
    expect(link.info?.data).toBeUndefined();
    expect(link.info?.rawData?.length).toBeGreaterThan(0);
  });
});

import { describe, expect, it } from 'vitest';
import { AttrMap, AttrWriter, ByteWriter, iterAttrs } from '../../lib/netlink/attributes.js';
import { NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR } from '../../lib/netlink/constants.js';
import { encodeMessage, parseDatagram, parseErrorPayload } from '../../lib/netlink/message.js';
import { Schema, attr, nested, string, u32 } from '../../lib/netlink/schema.js';
import { RTM_GETLINK, RTM_NEWLINK } from '../../lib/rtnl/constants.js';
import { IFLA_INFO_KIND, IFLA_LINKINFO, decodeLinkMessage, encodeLinkBody } from '../../lib/rtnl/link/index.js';
import { coreFixture } from './fixtures.js';

describe('message encoding matches bytes the kernel accepted', () => {
  it('RTM_GETLINK dump request', () => {
    const f = coreFixture('getlink_dump');
    const body = encodeLinkBody({ family: 0 }, {});
    expect(encodeMessage(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, body)).toEqual(f.request);
  });

  it('set lo up with ACK', () => {
    const f = coreFixture('setlink_up_ack');
    const body = encodeLinkBody({ index: 1, flags: 1, change: 1 }, {});
    expect(encodeMessage(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 2, body)).toEqual(f.request);
  });

  it('RTM_NEWLINK with a nested IFLA_LINKINFO (NLA_F_NESTED set)', () => {
    const f = coreFixture('newlink_unknown_kind');
    const body = encodeLinkBody({}, { ifname: 'x0' }, (a) => a.nested(IFLA_LINKINFO, (n) => n.string(IFLA_INFO_KIND, 'nosuchkind')));
    expect(encodeMessage(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, 3, body)).toEqual(f.request);
  });
});

describe('decoding kernel datagrams', () => {
  it('splits a dump datagram and decodes lo', () => {
    const f = coreFixture('getlink_dump');
    const { messages, truncated } = parseDatagram(f.datagrams[0]);
    expect(truncated).toBe(false);
    expect(messages).toHaveLength(1);
    expect(messages[0].type).toBe(RTM_NEWLINK);
    const link = decodeLinkMessage(messages[0].payload);
    expect(link.header.index).toBe(1);
    expect(link.attrs.ifname).toBe('lo');
    expect(link.attrs.mtu).toBe(65536);
    expect(link.attrs.address).toBe('00:00:00:00:00:00');
    expect(link.attrs.txqlen).toBe(1000);
    expect(parseDatagram(f.datagrams[1]).messages[0].type).toBe(NLMSG_DONE);
  });

  it('reads an ACK', () => {
    const f = coreFixture('setlink_up_ack');
    const [m] = parseDatagram(f.datagrams[0]).messages;
    expect(m.type).toBe(NLMSG_ERROR);
    expect(parseErrorPayload(m)).toEqual({ error: 0, requestSeq: 2 });
  });

  it('reads extended-ack text of an error (capped request echo)', () => {
    const f = coreFixture('newlink_unknown_kind');
    const [m] = parseDatagram(f.datagrams[0]).messages;
    const e = parseErrorPayload(m);
    expect(e.error).toBe(-95);
    expect(e.message).toBe('Unknown device type');
    expect(e.requestSeq).toBe(3);
  });

  it('reads text and attribute offset after a full request echo', () => {
    const f = coreFixture('setlink_mtu_short');
    const [m] = parseDatagram(f.datagrams[0]).messages;
    const e = parseErrorPayload(m);
    expect(e.error).toBe(-34);
    expect(e.message).toBe('Attribute failed policy validation');
    // The offset points at IFLA_MTU in the request: right after nlmsghdr (16) + ifinfomsg (16).
    expect(e.offset).toBe(32);
    expect(f.request.readUInt16LE(e.offset! + 2)).toBe(4 /* IFLA_MTU */);
  });

  it('reports a truncated trailing message instead of hiding it', () => {
    const f = coreFixture('getlink_dump');
    const cut = f.datagrams[0].subarray(0, 100);
    const { messages, truncated } = parseDatagram(cut);
    expect(messages).toHaveLength(0);
    expect(truncated).toBe(true);
  });
});

describe('attributes', () => {
  it('aligns every attribute to 4 bytes and round-trips', () => {
    const w = new ByteWriter(4);
    const a = new AttrWriter(w);
    a.u8(1, 7).u16(2, 0xbeef).u32(3, 0xdeadbeef).string(4, 'abc').flag(5).u64(6, 2n ** 40n).be16(7, 4789);
    const buf = w.toBuffer();
    expect(buf.length % 4).toBe(0);
    const m = new AttrMap(buf);
    expect(m.u8(1)).toBe(7);
    expect(m.u16(2)).toBe(0xbeef);
    expect(m.u32(3)).toBe(0xdeadbeef);
    expect(m.string(4)).toBe('abc');
    expect(m.has(5)).toBe(true);
    expect(m.u64(6)).toBe(2n ** 40n);
    expect(m.get(7)!.readUInt16BE(0)).toBe(4789);
    // u8 takes 4 (header) + 1 + 3 padding.
    expect(buf.readUInt16LE(0)).toBe(5);
    expect(buf.readUInt16LE(8)).toBe(6);
  });

  it('nests with NLA_F_NESTED and keeps repeated attributes', () => {
    const w = new ByteWriter();
    new AttrWriter(w).nested(9, (n) => n.u32(1, 10).u32(1, 20));
    const [outer] = [...iterAttrs(w.toBuffer())];
    expect(outer.type).toBe(9);
    expect(outer.nested).toBe(true);
    expect(new AttrMap(outer.value).all(1).map((b) => b.readUInt32LE(0))).toEqual([10, 20]);
  });

  it('stops at a malformed attribute instead of reading past the end', () => {
    const buf = Buffer.from([8, 0, 1, 0, 1, 0, 0, 0, 200, 0, 2, 0]);
    expect([...iterAttrs(buf)].map((a) => a.type)).toEqual([1]);
  });

  it('schema tables encode in declaration order and decode by type', () => {
    const inner = new Schema('inner', { kind: attr(1, string) });
    const s = new Schema('t', { name: attr(3, string), mtu: attr(4, u32), info: attr(18, nested(inner)) });
    const w = new ByteWriter();
    s.encode(new AttrWriter(w), { mtu: 1500, name: 'eth0', info: { kind: 'veth' } });
    const buf = w.toBuffer();
    expect([...iterAttrs(buf)].map((a) => a.type)).toEqual([3, 4, 18]);
    expect(s.decode(buf)).toEqual({ name: 'eth0', mtu: 1500, info: { kind: 'veth' } });
  });
});

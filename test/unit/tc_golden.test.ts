/**
 * Golden bytes for traffic control, recorded by test/fixtures/capture_tc.py: requests built by the
 * codec must equal what tc 6.1 sent for the same command, and the kernel's dump answers must decode
 * to what `tc -s -d` printed for the same device at the same moment.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeMessage, parseDatagram } from '../../lib/netlink/message.js';
import {
  DEFAULT_CLOCK,
  ETH_P_ALL,
  ETH_P_IP,
  ETH_P_IPV6,
  TCA_EGRESS_REDIR,
  TC_ACT_STOLEN,
  TC_H_INGRESS,
  TC_H_MAKE,
  TC_H_ROOT,
  decodeKindOptions,
  decodeStats2,
  decodeTcMessage,
  encodeFifo,
  encodeHtbClass,
  encodeHtbQdisc,
  encodeTbf,
  encodeTcBody,
  encodeU32,
  formatHandle,
  packKey,
  packKey16,
  packKey8,
  packPrefix,
  parsePsched,
  type U32Key,
} from '../../lib/rtnl/tc/index.js';
import { parseRate, parseSize, parseTime } from '../../lib/validate/units.js';

const fixture = JSON.parse(readFileSync(new URL('../fixtures/tc.json', import.meta.url), 'utf8'));

interface Req {
  what: string;
  message: Buffer;
  idx: Record<string, number>;
}

function req(name: string): Req {
  const r = fixture.requests[name];
  return { what: r.what, message: Buffer.from(r.message, 'hex'), idx: r.context };
}

/** Our body under tc's own nlmsghdr (type, flags, seq), so only the encoding can differ. */
function same(r: Req, body: Buffer): void {
  const m = r.message;
  expect(encodeMessage(m.readUInt16LE(4), m.readUInt16LE(6), m.readUInt32LE(8), body).toString('hex')).toBe(m.toString('hex'));
}

const clock = parsePsched(fixture.psched)!;
const htons = (x: number): number => ((x & 0xff) << 8) | (x >> 8);

describe('requests are byte-identical to tc (iproute2 6.1)', () => {
  it('the clock read from /proc/net/psched is the one every modern kernel reports', () => {
    expect(clock).toEqual(DEFAULT_CLOCK);
  });

  it("the tutorial's tbf: rate 10mbit burst 32kbit latency 400ms", () => {
    const r = req('tbf_tutorial');
    const p = { rate: parseRate('rate', '10mbit'), burst: parseSize('burst', '32kbit'), latency: parseTime('latency', '400ms') };
    expect(p).toEqual({ rate: 1250000, burst: 4096, latency: 400000 });
    same(r, encodeTcBody({ ifindex: r.idx.v0, parent: TC_H_ROOT }, { kind: 'tbf', options: (a) => encodeTbf(a, p, clock) }));
  });

  it('tbf with 64-bit rate and peakrate, limit and mtu (TCA_TBF_RATE64, PRATE64, PBURST, PTAB)', () => {
    const r = req('tbf_peak64');
    const p = {
      rate: parseRate('rate', '40gbit'), burst: parseSize('burst', '1mb'), limit: parseSize('limit', '2mb'),
      peakrate: parseRate('peakrate', '50gbit'), mtu: parseSize('mtu', '64kb'),
    };
    same(r, encodeTcBody({ ifindex: r.idx.v2, parent: TC_H_ROOT, handle: 0x50000 }, { kind: 'tbf', options: (a) => encodeTbf(a, p, clock) }));
  });

  it('htb qdisc with default class and r2q', () => {
    const r = req('htb_qdisc');
    same(r, encodeTcBody({ ifindex: r.idx.v1, parent: TC_H_ROOT, handle: 0x10000 }, {
      kind: 'htb', options: (a) => encodeHtbQdisc(a, { defaultClass: 0x20, r2q: 5 }),
    }));
  });

  it('htb class with rate, ceil, burst, prio, quantum', () => {
    const r = req('htb_class');
    const p = { rate: parseRate('rate', '5mbit'), ceil: parseRate('ceil', '10mbit'), burst: parseSize('burst', '15k'), prio: 1, quantum: 1500 };
    same(r, encodeTcBody({ ifindex: r.idx.v1, parent: 0x10000, handle: 0x10010 }, { kind: 'htb', options: (a) => encodeHtbClass(a, p, clock) }));
  });

  it('htb class with a 64-bit ceil (TCA_HTB_CEIL64) and default bursts', () => {
    const r = req('htb_class64');
    const p = { rate: parseRate('rate', '2mbit'), ceil: parseRate('ceil', '50gbit') };
    same(r, encodeTcBody({ ifindex: r.idx.v1, parent: 0x10000, handle: 0x10020 }, { kind: 'htb', options: (a) => encodeHtbClass(a, p, clock) }));
  });

  it('pfifo and bfifo under htb classes', () => {
    const r = req('pfifo');
    same(r, encodeTcBody({ ifindex: r.idx.v1, parent: 0x10010, handle: 0x100000 }, { kind: 'pfifo', rawOptions: encodeFifo(100) }));
    const b = req('bfifo');
    same(b, encodeTcBody({ ifindex: b.idx.v1, parent: 0x10020, handle: 0x200000 }, { kind: 'bfifo', rawOptions: encodeFifo(parseSize('limit', '64kb')) }));
  });

  it('ingress and clsact', () => {
    const r = req('ingress');
    same(r, encodeTcBody({ ifindex: r.idx.v0, parent: TC_H_INGRESS, handle: 0xffff0000 }, { kind: 'ingress' }));
    const c = req('clsact');
    same(c, encodeTcBody({ ifindex: c.idx.v3, parent: TC_H_INGRESS, handle: 0xffff0000 }, { kind: 'clsact' }));
  });

  it('u32 matching an IPv4 destination prefix, protocol and port, to a class', () => {
    const r = req('u32_classid');
    const keys: U32Key[] = [];
    packPrefix(keys, Buffer.from([10, 0, 0, 0]), 24, 16);
    packKey8(keys, 6, 0xff, 9);
    packKey16(keys, 80, 0xffff, 22);
    same(r, encodeTcBody({ ifindex: r.idx.v1, parent: 0x10000, info: TC_H_MAKE(1 << 16, htons(ETH_P_IP)) }, {
      kind: 'u32', options: (a) => encodeU32(a, { keys, classid: 0x10010 }),
    }));
  });

  it('u32 matching an IPv6 source prefix and port', () => {
    const r = req('u32_ip6');
    const keys: U32Key[] = [];
    packPrefix(keys, Buffer.from('20010db8000000000000000000000000', 'hex'), 32, 8);
    packKey16(keys, 53, 0xffff, 40);
    same(r, encodeTcBody({ ifindex: r.idx.v1, parent: 0x10000, info: TC_H_MAKE(2 << 16, htons(ETH_P_IPV6)) }, {
      kind: 'u32', options: (a) => encodeU32(a, { keys, classid: 0x10020 }),
    }));
  });

  it('u32 match-all with a mirred egress redirect to an ifb (the ingress-shaping recipe)', () => {
    const r = req('u32_mirred');
    const keys: U32Key[] = [];
    packKey(keys, 0, 0, 0);
    same(r, encodeTcBody({ ifindex: r.idx.v0, parent: 0xffff0000, info: TC_H_MAKE(1 << 16, htons(ETH_P_ALL)) }, {
      kind: 'u32', options: (a) => encodeU32(a, { keys, actions: [{ kind: 'mirred', eaction: TCA_EGRESS_REDIR, ifindex: r.idx.i0, action: TC_ACT_STOLEN }] }),
    }));
  });

  it('qdisc delete', () => {
    const r = req('qdisc_del');
    same(r, encodeTcBody({ ifindex: r.idx.v2, parent: TC_H_ROOT }, {}));
  });
});

function dumped(name: string) {
  const d = fixture.dumps[name];
  const msgs = d.datagrams.flatMap((h: string) => parseDatagram(Buffer.from(h, 'hex')).messages).filter((m: { type: number }) => m.type >= 16);
  return { msgs: msgs.map((m: { payload: Buffer }) => decodeTcMessage(m.payload)), json: d.tc_json as string, text: d.tc_text as string };
}

describe('kernel answers decode to what tc -s -d shows', () => {
  it("the tutorial's tbf reads back as tc shows it (rate, burst, latency, stats)", () => {
    const { msgs, json } = dumped('qdisc_v0');
    const tc = JSON.parse(json) as Array<Record<string, any>>;
    const tbf = msgs.find((m: any) => m.attrs.kind === 'tbf')!;
    const t = tc.find((q) => q.kind === 'tbf')!;
    const o = decodeKindOptions('tbf', tbf.attrs.options, clock) as { kind: 'tbf'; options: any };
    expect(o.options.rate).toBe(t.options.rate);
    expect(o.options.latency).toBe(t.options.lat);
    // The kernel keeps the bucket in nanoseconds and reports whole ticks: 4095 bytes, which tc
    // prints rounded ("4Kb/1").
    expect(o.options.burst).toBe(4095);
    expect(`${Math.round(o.options.burst / 1024)}Kb/${1 << o.options.cellLog}`).toBe(t.options.burst);
    expect(formatHandle(tbf.header.handle)).toBe(t.handle);
    const s = decodeStats2(tbf.attrs.stats2, tbf.attrs.stats)!;
    expect([Number(s.bytes), Number(s.packets), s.drops, s.overlimits, s.requeues, s.backlog, s.qlen])
      .toEqual([t.bytes, t.packets, t.drops, t.overlimits, t.requeues, t.backlog, t.qlen]);
    const ing = msgs.find((m: any) => m.attrs.kind === 'ingress')!;
    expect(formatHandle(ing.header.parent)).toBe(tc.find((q) => q.kind === 'ingress')!.parent);
  });

  it('htb classes read back with the rates, bursts, prio and quantum tc shows', () => {
    const { msgs, text } = dumped('class_v1');
    const c10 = msgs.find((m: any) => m.header.handle === 0x10010)!;
    const o = (decodeKindOptions('htb', c10.attrs.options, clock) as { options: any }).options;
    expect(o).toMatchObject({ rate: 625000, ceil: 1250000, burst: 15 * 1024, prio: 1, quantum: 1500, level: 0 });
    expect(text).toContain('class htb 1:10 root leaf 10: prio 1 quantum 1500 rate 5Mbit ceil 10Mbit');
    expect(text).toContain('burst 15Kb/1');
    const c20 = msgs.find((m: any) => m.header.handle === 0x10020)!;
    const o20 = (decodeKindOptions('htb', c20.attrs.options, clock) as { options: any }).options;
    expect(o20.ceil).toBe(50e9 / 8);
  });

  it('u32 filters read back with their keys, class and mirred action', () => {
    const v1 = dumped('filter_v1');
    const all = v1.msgs.map((m: any) => (decodeKindOptions('u32', m.attrs.options, clock) as any)?.options);
    const o = all.find((x: any) => x?.classid === 0x10010);
    expect(o.terminal).toBe(true);
    expect(o.keys).toEqual([
      { value: 0x0a000000, mask: 0xffffff00, off: 16, offmask: 0 },
      { value: 0x00060000, mask: 0x00ff0000, off: 8, offmask: 0 },
      { value: 0x00000050, mask: 0x0000ffff, off: 20, offmask: 0 },
    ]);
    expect(v1.text).toContain('match 0a000000/ffffff00 at 16');
    const v0 = dumped('filter_v0');
    const m = v0.msgs.map((x: any) => (decodeKindOptions('u32', x.attrs.options, clock) as any)?.options).find((x: any) => x?.actions.length);
    expect(m.actions[0]).toMatchObject({ order: 1, kind: 'mirred', mirred: { eaction: TCA_EGRESS_REDIR, action: TC_ACT_STOLEN } });
    expect(v0.text).toContain('mirred (Egress Redirect to device i0) stolen');
  });
});

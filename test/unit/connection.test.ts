/**
 * The protocol state machine driven by datagrams recorded from the kernel
 * (test/fixtures/capture_core.py): the transport records what would be sent and the test plays the
 * kernel's recorded answers back.
 */
import { describe, expect, it } from 'vitest';
import { ClosedError, DumpInterruptedError, NetlinkError, SystemError } from '../../lib/errors.js';
import { NLM_F_DUMP_INTR, NLM_F_REQUEST } from '../../lib/netlink/constants.js';
import { NetlinkConnection, type Transport } from '../../lib/netlink/connection.js';
import { parseDatagram } from '../../lib/netlink/message.js';
import { RTM_GETLINK, RTM_NEWLINK } from '../../lib/rtnl/constants.js';
import { coreFixture, recordedPortId } from './fixtures.js';

class RecordingTransport implements Transport {
  readonly sent: { buf: Buffer; token: number; ackSeq?: number }[] = [];
  refs = 0;
  closed = false;
  constructor(readonly portId: number) {}
  send(buf: Buffer, token: number, ackSeq?: number): void { this.sent.push({ buf: Buffer.from(buf), token, ackSeq }); }
  close(): void { this.closed = true; }
  ref(): void { this.refs++; }
  unref(): void { this.refs--; }
  /** Sequence numbers of every message sent so far. */
  seqs(): number[] { return this.sent.flatMap((s) => parseDatagram(s.buf).messages.map((m) => m.seq)); }
}

/** A recorded datagram with every message's seq rewritten (answers to our own numbering). */
function withSeq(d: Buffer, seq: number, extraFlags = 0): Buffer {
  const out = Buffer.from(d);
  let off = 0;
  while (off + 16 <= out.length) {
    const len = out.readUInt32LE(off);
    out.writeUInt32LE(seq, off + 8);
    out.writeUInt16LE(out.readUInt16LE(off + 6) | extraFlags, off + 6);
    off += (len + 3) & ~3;
  }
  return out;
}

const tick = () => new Promise((r) => setImmediate(r));

function setup(opts = {}) {
  const t = new RecordingTransport(recordedPortId());
  return { t, c: new NetlinkConnection(t, opts) };
}

describe('NetlinkConnection', () => {
  it('coalesces requests made in one tick into one send and resolves each by seq', async () => {
    const { t, c } = setup();
    const ack = coreFixture('setlink_up_ack').datagrams[0];
    const ps = [1, 2, 3].map(() => c.request(RTM_NEWLINK, 0, Buffer.alloc(16)));
    await tick();
    expect(t.sent).toHaveLength(1);
    const seqs = t.seqs();
    expect(seqs).toHaveLength(3);
    for (const m of parseDatagram(t.sent[0].buf).messages) expect(m.flags & NLM_F_REQUEST).toBeTruthy();
    // Answer out of order.
    c.feed([withSeq(ack, seqs[2]), withSeq(ack, seqs[0]), withSeq(ack, seqs[1])]);
    await expect(Promise.all(ps)).resolves.toEqual([[], [], []]);
  });

  it('takes a plain ACK handed over as its sequence number, and tells the transport where a batch ends', async () => {
    const { t, c } = setup();
    const unsolicited: number[] = [];
    const ps = [1, 2].map(() => c.request(RTM_NEWLINK, 0, Buffer.alloc(16)));
    await tick();
    const dump = c.dump(RTM_GETLINK, Buffer.alloc(16));
    await tick();
    // The requests' buffer ends with the second one's ACK; a buffer with a dump has no last ACK.
    const seqs = t.seqs();
    expect(t.sent.map((s) => s.ackSeq)).toEqual([seqs[1], 0]);
    c.onUnsolicited = (m) => unsolicited.push(m.seq);
    c.feed([seqs[1], seqs[0], 0xfffffff0]);
    await expect(Promise.all(ps)).resolves.toEqual([[], []]);
    expect(unsolicited).toEqual([0xfffffff0]);
    c.close();
    await expect(dump).rejects.toBeInstanceOf(ClosedError);
  });

  it('returns a GET answer delivered before its ACK', async () => {
    const { t, c } = setup();
    const f = coreFixture('getlink_lo');
    const p = c.request(RTM_GETLINK, 0, Buffer.alloc(16));
    await tick();
    const [seq] = t.seqs();
    c.feed(f.datagrams.map((d) => withSeq(d, seq)));
    const msgs = await p;
    expect(msgs).toHaveLength(1);
    expect(msgs[0].type).toBe(RTM_NEWLINK);
  });

  it('rejects with the kernel errno and extended-ack text, naming the operation', async () => {
    const { t, c } = setup();
    const f = coreFixture('newlink_unknown_kind');
    const p = c.request(RTM_NEWLINK, 0, Buffer.alloc(16), 'ip link add x0 type nosuchkind');
    await tick();
    c.feed([withSeq(f.datagrams[0], t.seqs()[0])]);
    const err = await p.catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err.code).toBe('EOPNOTSUPP');
    expect(err.errno).toBe(-95);
    expect(err.kernelMessage).toBe('Unknown device type');
    expect(err.message).toBe('ip link add x0 type nosuchkind: Unknown device type (EOPNOTSUPP)');
    expect(err.request.type).toBe(RTM_NEWLINK);
  });

  it('collects a multipart dump until NLMSG_DONE', async () => {
    const { t, c } = setup();
    const f = coreFixture('getlink_dump');
    const p = c.dump(RTM_GETLINK, Buffer.alloc(16));
    await tick();
    const [seq] = t.seqs();
    c.feed([withSeq(f.datagrams[0], seq)]);
    let settled = false;
    p.then(() => (settled = true));
    await tick();
    expect(settled).toBe(false);
    c.feed([withSeq(f.datagrams[1], seq)]);
    expect((await p).map((m) => m.type)).toEqual([RTM_NEWLINK]);
  });

  it('runs one dump at a time per socket, in order', async () => {
    const { t, c } = setup();
    const f = coreFixture('getlink_dump');
    const p1 = c.dump(RTM_GETLINK, Buffer.alloc(16));
    const p2 = c.dump(RTM_GETLINK, Buffer.alloc(16));
    await tick();
    expect(t.seqs()).toHaveLength(1);
    c.feed(f.datagrams.map((d) => withSeq(d, t.seqs()[0])));
    await p1;
    await tick();
    expect(t.seqs()).toHaveLength(2);
    c.feed(f.datagrams.map((d) => withSeq(d, t.seqs()[1])));
    await expect(p2).resolves.toHaveLength(1);
  });

  it('restarts a dump flagged NLM_F_DUMP_INTR, then fails with the partial result', async () => {
    // The recorded dump with NLM_F_DUMP_INTR set on its messages, as the kernel marks a dump whose
    // generation counter changed while it ran.
    const { t, c } = setup({ dumpRetries: 2 });
    const f = coreFixture('getlink_dump');
    const p = c.dump(RTM_GETLINK, Buffer.alloc(16), 'ip link show');
    for (let attempt = 0; attempt < 3; attempt++) {
      await tick();
      const seq = t.seqs()[attempt];
      expect(seq).toBeDefined();
      c.feed(f.datagrams.map((d) => withSeq(d, seq, NLM_F_DUMP_INTR)));
    }
    const err = await p.catch((e) => e);
    expect(err).toBeInstanceOf(DumpInterruptedError);
    expect(err.attempts).toBe(3);
    expect(err.partial).toHaveLength(1);
  });

  it('succeeds when a retried dump comes back clean', async () => {
    const { t, c } = setup();
    const f = coreFixture('getlink_dump');
    const p = c.dump(RTM_GETLINK, Buffer.alloc(16));
    await tick();
    c.feed(f.datagrams.map((d) => withSeq(d, t.seqs()[0], NLM_F_DUMP_INTR)));
    await tick();
    c.feed(f.datagrams.map((d) => withSeq(d, t.seqs()[1])));
    await expect(p).resolves.toHaveLength(1);
  });

  it('ignores answers addressed to another port', async () => {
    const { t, c } = setup();
    const ack = coreFixture('setlink_up_ack').datagrams[0];
    const p = c.request(RTM_NEWLINK, 0, Buffer.alloc(16));
    await tick();
    const foreign = withSeq(ack, t.seqs()[0]);
    foreign.writeUInt32LE(recordedPortId() + 1, 12);
    const seen: number[] = [];
    c.onUnsolicited = (m) => seen.push(m.seq);
    c.feed([foreign]);
    expect(seen).toEqual([t.seqs()[0]]);
    c.feed([withSeq(ack, t.seqs()[0])]);
    await expect(p).resolves.toEqual([]);
  });

  it('keeps at most maxInFlight requests outstanding', async () => {
    const { t, c } = setup({ maxInFlight: 4 });
    const ack = coreFixture('setlink_up_ack').datagrams[0];
    const ps = Array.from({ length: 10 }, () => c.request(RTM_NEWLINK, 0, Buffer.alloc(16)));
    await tick();
    expect(t.seqs()).toHaveLength(4);
    while (t.seqs().length < 10 || c.pending > 0) {
      const done = t.seqs();
      c.feed(done.map((s) => withSeq(ack, s)));
      await tick();
      if (c.pending === 0) break;
    }
    await expect(Promise.all(ps)).resolves.toHaveLength(10);
  });

  it('fails the requests of a batch whose sendmsg failed', async () => {
    const { t, c } = setup();
    const ps = [c.request(RTM_NEWLINK, 0, Buffer.alloc(16)), c.request(RTM_NEWLINK, 0, Buffer.alloc(16))];
    await tick();
    const e = Object.assign(new Error('EBADF: bad file descriptor, sendmsg'), { code: 'EBADF', errno: 9, syscall: 'sendmsg' });
    c.onSendError(t.sent[0].token, e);
    for (const p of ps) await expect(p).rejects.toBeInstanceOf(SystemError);
  });

  it('fails in-flight requests on ENOBUFS, since their answers may be lost', async () => {
    const { c } = setup();
    const p = c.request(RTM_NEWLINK, 0, Buffer.alloc(16));
    await tick();
    c.onSocketError(Object.assign(new Error('ENOBUFS'), { code: 'ENOBUFS', errno: 105, syscall: 'recvmsg' }));
    await expect(p).rejects.toMatchObject({ code: 'ENOBUFS' });
  });

  it('holds a process reference only while requests are pending, and rejects them on close', async () => {
    const { t, c } = setup();
    expect(t.refs).toBe(0);
    const p = c.request(RTM_NEWLINK, 0, Buffer.alloc(16), 'ip link set lo up');
    expect(t.refs).toBe(1);
    c.close();
    expect(t.refs).toBe(0);
    expect(t.closed).toBe(true);
    await expect(p).rejects.toBeInstanceOf(ClosedError);
    await expect(c.request(RTM_NEWLINK, 0, Buffer.alloc(16))).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });
});

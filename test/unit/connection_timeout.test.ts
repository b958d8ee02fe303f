/**
 * Issue 9, item 2 (the state-machine half): a request that never gets an answer settles with
 * 'ETIMEDOUT', an AbortSignal settles it with 'ABORT_ERR', and a connection whose socket overran is
 * replaced so that requests waiting behind the overrun are sent on a fresh socket. The transport
 * here records what would be sent; the kernel half is in test/integration/reliability.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { NetnsError } from '../../lib/errors.js';
import { NetlinkConnection, type Transport } from '../../lib/netlink/connection.js';

class SilentTransport implements Transport {
  sends = 0;
  closed = false;
  refs = 0;
  constructor(readonly portId: number) {}
  send(): void { this.sends++; }
  close(): void { this.closed = true; }
  ref(): void { this.refs++; }
  unref(): void { this.refs--; }
}

describe('every request settles', () => {
  it('times out with ETIMEDOUT when the kernel never answers, and the connection stays usable', async () => {
    const t = new SilentTransport(7);
    const c = new NetlinkConnection(t, { timeout: 60 });
    const started = performance.now();
    await expect(c.request(18, 0, Buffer.alloc(16), 'ip link show')).rejects.toMatchObject({ code: 'ETIMEDOUT', operation: 'ip link show' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
    expect(c.pending).toBe(0);
    expect(t.refs).toBe(0); // nothing keeps the process alive any more
    await expect(c.request(18, 0, Buffer.alloc(16), 'again', { timeout: 20 })).rejects.toBeInstanceOf(NetnsError);
    c.close();
  });

  it('an AbortSignal settles a waiting or in-flight request with ABORT_ERR', async () => {
    const t = new SilentTransport(7);
    const c = new NetlinkConnection(t, { timeout: 0 });
    await expect(c.request(18, 0, Buffer.alloc(16), 'x', { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORT_ERR' });
    const ac = new AbortController();
    const p = c.request(18, 0, Buffer.alloc(16), 'y', { signal: ac.signal });
    await new Promise((r) => setImmediate(r));
    expect(t.sends).toBe(1);
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'ABORT_ERR' });
    expect(c.pending).toBe(0);
    c.close();
  });

  it('a dump that times out in flight replaces the socket (the kernel would answer the next dump EBUSY); waiting requests go out on the new one', async () => {
    const first = new SilentTransport(7);
    const second = new SilentTransport(8);
    let reopened = 0;
    const c = new NetlinkConnection(first, { timeout: 0 }, async () => { reopened++; return second; });
    // Handlers attached at once: on a busy machine the 30 ms deadline can pass before the next check.
    const dump = c.dump(18, Buffer.alloc(16), 'ip link', 0, { timeout: 30 }).then(() => undefined, (e: unknown) => e);
    const next = c.dump(18, Buffer.alloc(16), 'ip link again').then(() => undefined, (e: unknown) => e);
    await new Promise((r) => setImmediate(r));
    expect(first.sends).toBe(1); // the second dump waits for the first
    expect(await dump).toMatchObject({ code: 'ETIMEDOUT' });
    await new Promise((r) => setImmediate(r));
    expect(reopened).toBe(1);
    expect(first.closed).toBe(true);
    expect(second.sends).toBe(1);
    c.close();
    expect(await next).toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('an aborted dump keeps the socket: the kernel finishes it (answers dropped), nothing else in flight is failed', async () => {
    const first = new SilentTransport(7);
    let reopened = 0;
    const c = new NetlinkConnection(first, { timeout: 0 }, async () => { reopened++; return new SilentTransport(8); });
    const ac = new AbortController();
    const dump = c.dump(18, Buffer.alloc(16), 'ip link', 0, { signal: ac.signal });
    const add = c.request(16, 0, Buffer.alloc(16), 'ip link add');
    await new Promise((r) => setImmediate(r));
    ac.abort();
    await expect(dump).rejects.toMatchObject({ code: 'ABORT_ERR' });
    await new Promise((r) => setImmediate(r));
    expect(reopened).toBe(0);
    expect(first.closed).toBe(false);
    c.close();
    await expect(add).rejects.toMatchObject({ code: 'ERR_CLOSED' }); // not ABORT_ERR
  });

  it('an overrun (ENOBUFS) fails what was in flight and sends what waited on a fresh socket', async () => {
    const first = new SilentTransport(7);
    const second = new SilentTransport(8);
    const c = new NetlinkConnection(first, { timeout: 0, maxInFlight: 1 }, async () => second);
    const a = c.request(18, 0, Buffer.alloc(16), 'a');
    const b = c.request(18, 0, Buffer.alloc(16), 'b');
    await new Promise((r) => setImmediate(r));
    const err = Object.assign(new Error('ENOBUFS: no buffer space available, recvmsg'), { code: 'ENOBUFS', errno: 105, syscall: 'recvmsg' });
    c.onSocketError(err);
    await expect(a).rejects.toMatchObject({ code: 'ENOBUFS' });
    await new Promise((r) => setImmediate(r));
    expect(second.sends).toBe(1); // b went out on the new socket
    c.close();
    await expect(b).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });
});

/**
 * ping() between two test namespaces, with the system's `ping` run in the same namespace as oracle.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, ValidationError } from '../../lib/index.js';
import { inetChecksum, ping } from '../../lib/observe/ping.js';
import { nsName, run, settledFdCount } from './helpers.js';

let a: Netns;
let b: Netns;

beforeAll(async () => {
  a = await Netns.create(nsName('pa'));
  b = await Netns.create(nsName('pb'));
  const ipA = (...x: string[]) => run('ip', ['-n', a.name!, ...x]);
  const ipB = (...x: string[]) => run('ip', ['-n', b.name!, ...x]);
  ipA('link', 'add', 'a0', 'type', 'veth', 'peer', 'name', 'b0', 'netns', b.name!);
  ipA('address', 'add', '10.89.0.1/24', 'dev', 'a0');
  ipA('address', 'add', 'fd00:89::1/64', 'dev', 'a0', 'nodad');
  ipB('address', 'add', '10.89.0.2/24', 'dev', 'b0');
  ipB('address', 'add', 'fd00:89::2/64', 'dev', 'b0', 'nodad');
  for (const [f, d] of [[ipA, 'a0'], [ipB, 'b0']] as const) {
    f('link', 'set', d, 'up');
    f('link', 'set', 'lo', 'up');
  }
});
afterAll(async () => {
  await a?.delete({ ifExists: true });
  await b?.delete({ ifExists: true });
});

const systemPing = (...args: string[]) => {
  try {
    return run('ip', ['netns', 'exec', a.name!, 'ping', '-n', ...args]);
  } catch (e) {
    return String((e as { stdout?: string }).stdout ?? '');
  }
};

describe('ping', () => {
  it('loss 0 % to a live address, IPv4 and IPv6, as the system ping says', async () => {
    const r4 = await ping(a, '10.89.0.2', { count: 3, intervalMs: 100 });
    expect(r4).toMatchObject({ destination: '10.89.0.2', family: 4, transmitted: 3, received: 3, lossPercent: 0 });
    expect(r4.replies.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(r4.replies.every((r) => r.from === '10.89.0.2' && r.bytes === 64 && r.rttMs >= 0 && r.rttMs < 1000)).toBe(true);
    expect(r4.rtt!.min).toBeLessThanOrEqual(r4.rtt!.avg);
    expect(r4.rtt!.avg).toBeLessThanOrEqual(r4.rtt!.max);
    expect(systemPing('-c', '3', '-i', '0.1', '10.89.0.2')).toContain(' 0% packet loss');

    const r6 = await ping(a, 'fd00:89::2', { count: 3, intervalMs: 100 });
    expect(r6).toMatchObject({ family: 6, transmitted: 3, received: 3, lossPercent: 0 });
    expect(r6.replies[0].from).toBe('fd00:89::2');
    expect(systemPing('-c', '3', '-i', '0.1', 'fd00:89::2')).toContain(' 0% packet loss');
  });

  it('loss 100 % to a dead address', async () => {
    const r4 = await ping(a, '10.89.0.99', { count: 2, intervalMs: 100, timeoutMs: 500 });
    expect(r4).toMatchObject({ transmitted: 2, received: 0, lossPercent: 100, replies: [] });
    expect(r4.rtt).toBeUndefined();
    expect(systemPing('-c', '2', '-i', '0.1', '-W', '1', '10.89.0.99')).toContain('100% packet loss');
    const r6 = await ping(a, 'fd00:89::99', { count: 2, intervalMs: 100, timeoutMs: 500 });
    expect(r6).toMatchObject({ transmitted: 2, received: 0, lossPercent: 100 });
  });

  it('uses a raw socket where ping_group_range admits nobody, a ping socket where it admits us; no fd leak', async () => {
    const base = await settledFdCount();
    expect((await ping(b, '10.89.0.1', { count: 1 })).socket).toBe('raw');
    await b.sysctl.set('net.ipv4.ping_group_range', '0 2147483647');
    const r = await ping(b, '10.89.0.1', { count: 2, intervalMs: 50, dev: 'b0' });
    expect(r).toMatchObject({ socket: 'dgram', received: 2 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 120);
    const stopped = await ping(b, '10.89.0.1', { count: 100, intervalMs: 50, signal: ac.signal });
    expect(stopped.transmitted).toBeLessThan(10);
    expect(await settledFdCount()).toBe(base);
  });

  it('rejects bad input before sending', async () => {
    await expect(ping(a, '10.89.0.256')).rejects.toBeInstanceOf(ValidationError);
    await expect(ping(a, '10.89.0.2', { count: 0 })).rejects.toBeInstanceOf(ValidationError);
    await expect(ping(a, '10.89.0.2', { deadline: 1 } as never)).rejects.toBeInstanceOf(ValidationError);
    // RFC 1071's example words sum to 0xddf2; the checksum is its complement.
    expect(inetChecksum(Buffer.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]))).toBe(~0xddf2 & 0xffff);
  });
});

/**
 * capture()/captureToFile() on a veth between two test namespaces; the pcap files are read back
 * with `tcpdump -r` and `tshark -r`, filters come from `tcpdump -ddd`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, ValidationError } from '../../lib/index.js';
import { LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, capture, captureToFile, parseBpf } from '../../lib/observe/capture.js';
import { ping } from '../../lib/observe/ping.js';
import { ipJson, nsName, run, settledFdCount } from './helpers.js';

let a: Netns;
let b: Netns;
const dir = mkdtempSync(join(tmpdir(), 'nns-capture-'));

beforeAll(async () => {
  a = await Netns.create(nsName('ca'));
  b = await Netns.create(nsName('cb'));
  const ipA = (...x: string[]) => run('ip', ['-n', a.name!, ...x]);
  const ipB = (...x: string[]) => run('ip', ['-n', b.name!, ...x]);
  ipA('link', 'add', 'a0', 'type', 'veth', 'peer', 'name', 'b0', 'netns', b.name!);
  // No IPv6 and static neighbours: the only packets on the wire are the ones a test sends.
  await a.sysctl.set('net.ipv6.conf.all.disable_ipv6', '1');
  await b.sysctl.set('net.ipv6.conf.all.disable_ipv6', '1');
  ipA('address', 'add', '10.90.0.1/24', 'dev', 'a0');
  ipB('address', 'add', '10.90.0.2/24', 'dev', 'b0');
  for (const [f, d] of [[ipA, 'a0'], [ipB, 'b0']] as const) {
    f('link', 'set', d, 'up');
    f('link', 'set', 'lo', 'up');
  }
  const macA = ipJson(['link', 'show', 'a0'], a.name)[0].address as string;
  const macB = ipJson(['link', 'show', 'b0'], b.name)[0].address as string;
  ipA('neigh', 'replace', '10.90.0.2', 'lladdr', macB, 'dev', 'a0', 'nud', 'permanent');
  ipB('neigh', 'replace', '10.90.0.1', 'lladdr', macA, 'dev', 'b0', 'nud', 'permanent');
});
afterAll(async () => {
  await a?.delete({ ifExists: true });
  await b?.delete({ ifExists: true });
  rmSync(dir, { recursive: true, force: true });
});

const tcpdumpRead = (file: string) => run('tcpdump', ['-r', file, '-n']).trim().split('\n').filter((l) => l !== '');

async function udpBurst(n: number): Promise<void> {
  const sock = await a.createUdpSocket({ type: 'udp4', address: '10.90.0.1' });
  for (let i = 0; i < n; i++) await new Promise<void>((r) => sock.send(`u${i}`, 9999, '10.90.0.2', () => r()));
  sock.close();
}

describe('capture', () => {
  it('a pcap of a known exchange reads back with tcpdump -r and tshark -r', async () => {
    const file = join(dir, 'ping.pcap');
    const done = captureToFile(a, file, { dev: 'a0', count: 6, durationMs: 10_000 });
    await sleep(300); // the socket is open well before this
    const r = await ping(a, '10.90.0.2', { count: 3, intervalMs: 50 });
    expect(r.received).toBe(3);
    const summary = await done;
    expect(summary).toMatchObject({ packets: 6, linkType: LINKTYPE_ETHERNET, kernelDrops: 0, queueDrops: 0, file });
    expect(summary.kernelPackets).toBeGreaterThanOrEqual(6);
    const lines = tcpdumpRead(file);
    expect(lines.filter((l) => /10\.90\.0\.1 > 10\.90\.0\.2: ICMP echo request/.test(l))).toHaveLength(3);
    expect(lines.filter((l) => /10\.90\.0\.2 > 10\.90\.0\.1: ICMP echo reply/.test(l))).toHaveLength(3);
    const tshark = run('tshark', ['-r', file, '-T', 'fields', '-e', 'icmp.type']).trim().split('\n');
    expect(tshark.sort()).toEqual(['0', '0', '0', '8', '8', '8']);
  });

  it('a tcpdump -ddd filter keeps only the matching packets', async () => {
    const prog = run('ip', ['netns', 'exec', a.name!, 'tcpdump', '-i', 'a0', '-ddd', 'icmp[icmptype] == icmp-echo']);
    expect(parseBpf(prog).length).toBeGreaterThan(3);
    const file = join(dir, 'filtered.pcap');
    const ac = new AbortController();
    const done = captureToFile(a, file, { dev: 'a0', filter: prog, signal: ac.signal });
    await sleep(300);
    await udpBurst(5);
    await ping(a, '10.90.0.2', { count: 3, intervalMs: 50 });
    await sleep(100);
    ac.abort();
    const summary = await done;
    expect(summary.packets).toBe(3);
    const lines = tcpdumpRead(file);
    expect(lines).toHaveLength(3);
    expect(lines.every((l) => l.includes('ICMP echo request'))).toBe(true);
  });

  it('the iterator yields packets with their metadata; all interfaces use the cooked link type', async () => {
    const cap = await capture(a, { count: 2 });
    expect(cap.linkType).toBe(LINKTYPE_LINUX_SLL);
    void ping(a, '10.90.0.2', { count: 1 });
    const got = [];
    for await (const p of cap) got.push(p);
    expect(got).toHaveLength(2);
    expect(got.every((p) => p.protocol === 0x0800 && p.data.length === 16 + 84 && p.length === p.data.length)).toBe(true);
    expect(got.map((p) => p.pkttype).sort()).toEqual([0, 4]); // the reply to us (HOST), our request (OUTGOING)
    const sum = await cap.summary();
    expect(sum.packets).toBe(2);

    // snaplen truncates, and the file says so (tcpdump prints the short capture length).
    const file = join(dir, 'snap.pcap');
    const done = captureToFile(a, file, { dev: 'a0', count: 2, snaplen: 34 });
    await sleep(200);
    await ping(a, '10.90.0.2', { count: 1 });
    expect((await done).bytes).toBe(68);
    expect(run('tcpdump', ['-r', file, '-n', '-v'])).toContain('10.90.0.1');
  });

  it('kernel drops show in PACKET_STATISTICS when the socket buffer is tiny', async () => {
    const cap = await capture(a, { dev: 'a0', rcvbuf: 1, durationMs: 1500 });
    const seen = (async () => {
      let n = 0;
      for await (const _ of cap) n++;
      return n;
    })();
    const sock = await a.createUdpSocket({ type: 'udp4', address: '10.90.0.1' });
    const big = Buffer.alloc(1400, 1);
    // Sent without waiting: far faster than one reader drains a buffer that holds a packet or two.
    for (let i = 0; i < 3000; i++) sock.send(big, 9999, '10.90.0.2');
    await new Promise<void>((r) => sock.send(big, 9999, '10.90.0.2', () => r()));
    sock.close();
    const n = await seen;
    const s = await cap.summary();
    expect(s.kernelDrops).toBeGreaterThan(0);
    expect(s.packets).toBe(n);
    expect(s.packets).toBeLessThanOrEqual(s.kernelPackets - s.kernelDrops);
  });

  it('stopped early (break, abort, close) a capture closes its socket: fds back to baseline', async () => {
    const base = await settledFdCount();
    for (let i = 0; i < 5; i++) {
      const c1 = await capture(a, { dev: 'a0' });
      const ac = new AbortController();
      const c2 = await capture(a, { dev: 'lo', signal: ac.signal });
      const c3 = await capture(a);
      void ping(a, '10.90.0.2', { count: 1 });
      for await (const _ of c1) break;
      ac.abort();
      expect(await c2.next()).toEqual({ done: true, value: undefined });
      await c3.close();
    }
    expect(await settledFdCount()).toBe(base);
  });

  it('rejects bad options before opening anything', async () => {
    await expect(capture(a, { filter: '1\n6 0 0 65535' })).rejects.toBeInstanceOf(ValidationError); // filter without dev
    await expect(capture(a, { dev: 'a0', filter: 'not bpf' })).rejects.toBeInstanceOf(ValidationError);
    await expect(capture(a, { snaplen: 0 })).rejects.toBeInstanceOf(ValidationError);
    await expect(capture(a, { iface: 'a0' } as never)).rejects.toBeInstanceOf(ValidationError);
    await expect(captureToFile(a, join(dir, 'x.pcap'), { dev: 'a0' })).rejects.toBeInstanceOf(ValidationError);
    await expect(capture(a, { dev: 'nope0' })).rejects.toMatchObject({ code: 'ENODEV' });
  });
});

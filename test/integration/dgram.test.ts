/**
 * Generic datagram sockets owned by the addon's I/O loop (native().dgramOpen): UDP, AF_PACKET and
 * ICMP "ping" sockets created inside a test namespace, read by the I/O thread, written by workers.
 * `ss` inside the namespace and the kernel's own packet statistics are the oracles.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Netns } from '../../lib/index.js';
import { native, type NativeDatagram, type NativeDgramOpenOptions, type NativeError } from '../../lib/native.js';
import { nsName, ownNamespace, run, settledFdCount, threadNamespaces } from './helpers.js';

// Values from /usr/include/linux/{socket,if_ether,if_packet,in,filter}.h and asm-generic/socket.h.
const AF_INET = 2;
const AF_INET6 = 10;
const AF_PACKET = 17;
const SOCK_DGRAM = 2;
const SOCK_RAW = 3;
const IPPROTO_ICMP = 1;
const IPPROTO_ICMPV6 = 58;
const ETH_P_ALL = 0x0003;
const ETH_P_IP = 0x0800;
const SOL_SOCKET = 1;
const SO_ATTACH_FILTER = 26;
const SOL_PACKET = 263;
const PACKET_STATISTICS = 6;
const PACKET_HOST = 0;
const PACKET_OUTGOING = 4;



function sockaddrIn(ip: string, port: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(AF_INET, 0);
  b.writeUInt16BE(port, 2);
  ip.split('.').forEach((o, i) => b.writeUInt8(Number(o), 4 + i));
  return b;
}

function sockaddrIn6Loopback(): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt8(1, 8 + 15); // ::1
  return b;
}

function sockaddrLl(ifindex: number, protocol: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt16LE(AF_PACKET, 0);
  b.writeUInt16BE(protocol, 2);
  b.writeInt32LE(ifindex, 4);
  return b;
}

interface Opened {
  id: number;
  local: Buffer;
  received: NativeDatagram[];
  errors: NativeError[];
  /** Resolves once `n` datagrams have arrived in total. */
  waitFor(n: number): Promise<NativeDatagram[]>;
}

function open(opts: Omit<NativeDgramOpenOptions, 'onData' | 'onError' | 'onSendError'>): Promise<Opened> {
  const received: NativeDatagram[] = [];
  const errors: NativeError[] = [];
  let wake = (): void => {};
  return new Promise((resolve, reject) => {
    native().dgramOpen(
      {
        ...opts,
        onData: (list) => { received.push(...list); wake(); },
        onError: (err) => { errors.push(err); wake(); },
        onSendError: (_token, err) => { errors.push(err); wake(); },
      },
      (err, sock) => {
        if (err) return reject(err);
        resolve({
          id: sock!.id,
          local: sock!.local,
          received,
          errors,
          waitFor: (n) =>
            new Promise((res, rej) => {
              const timer = setTimeout(() => rej(new Error(`got ${received.length} of ${n} datagrams`)), 5000);
              wake = () => {
                if (errors.length) rej(errors[0]);
                if (received.length >= n) { clearTimeout(timer); res(received); }
              };
              wake();
            }),
        });
      },
    );
  });
}

function call<T>(fn: (cb: (err: NativeError | null, v?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));
}

async function withLoopback(tag: string): Promise<Netns> {
  const ns = await Netns.create(nsName(tag));
  await ns.links.setUp('lo');
  return ns;
}

afterAll(() => {
  const home = ownNamespace();
  expect([...threadNamespaces()].filter(([, n]) => n !== home)).toEqual([]);
});

describe('dgramOpen', () => {
  it('UDP: two sockets in a namespace exchange datagrams with source address and receive time; close releases the fds', async () => {
    const ns = await withLoopback('udp');
    try {
      const warm = await open({ nsFd: ns.fd, domain: AF_INET, type: SOCK_DGRAM, protocol: 0 });
      native().dgramClose(warm.id);
      const baseline = await settledFdCount();

      const a = await open({ nsFd: ns.fd, domain: AF_INET, type: SOCK_DGRAM, protocol: 0, bind: sockaddrIn('127.0.0.1', 0) });
      const b = await open({ nsFd: ns.fd, domain: AF_INET, type: SOCK_DGRAM, protocol: 0 });
      const bLocal = await call<Buffer>((cb) => native().dgramBind(b.id, sockaddrIn('127.0.0.1', 0), cb));
      const aPort = a.local.readUInt16BE(2);
      const bPort = bLocal.readUInt16BE(2);
      expect(aPort).toBeGreaterThan(0);
      // The oracle: both ports are bound inside the namespace, and not in the process's own.
      const ss = run('ip', ['netns', 'exec', ns.name!, 'ss', '-Huan']);
      expect(ss).toContain(`127.0.0.1:${aPort}`);
      expect(ss).toContain(`127.0.0.1:${bPort}`);
      expect(run('ss', ['-Huan', `sport = :${aPort}`]).trim()).toBe('');

      const before = Date.now();
      for (let i = 0; i < 10; i++) native().dgramSend(b.id, Buffer.from(`hello ${i}`), sockaddrIn('127.0.0.1', aPort), i);
      const got = await a.waitFor(10);
      expect(got.map((d) => d.data.toString())).toEqual(Array.from({ length: 10 }, (_, i) => `hello ${i}`));
      for (const d of got) {
        expect(d.address.readUInt16LE(0)).toBe(AF_INET);
        expect(d.address.readUInt16BE(2)).toBe(bPort);
        expect([...d.address.subarray(4, 8)]).toEqual([127, 0, 0, 1]);
        const ms = d.sec * 1000 + d.nsec / 1e6;
        expect(ms).toBeGreaterThanOrEqual(before - 5);
        expect(ms).toBeLessThanOrEqual(Date.now() + 5);
        expect(d.ifindex).toBeUndefined();
      }
      native().dgramClose(a.id);
      native().dgramClose(b.id);
      native().dgramClose(b.id); // idempotent
      expect(() => native().dgramSend(a.id, Buffer.from('x'), null, 0)).toThrow(expect.objectContaining({ code: 'EBADF' }));
      await expect(call((cb) => native().dgramSetOption(a.id, SOL_SOCKET, 2, Buffer.alloc(4), cb))).rejects.toThrow();
      expect(await settledFdCount()).toBe(baseline);
      expect(run('ip', ['netns', 'exec', ns.name!, 'ss', '-Huan'])).not.toContain(`:${aPort}`);
    } finally {
      await ns.delete();
    }
  });

  it('AF_PACKET: sees both directions on lo with ifindex, pkttype and protocol; a classic BPF filter and PACKET_STATISTICS work', async () => {
    const ns = await withLoopback('pkt');
    try {
      const lo = (await ns.links.get('lo')).index;
      const rx = await open({ nsFd: ns.fd, domain: AF_INET, type: SOCK_DGRAM, protocol: 0, bind: sockaddrIn('127.0.0.1', 0) });
      const port = rx.local.readUInt16BE(2);
      // Protocol 0 at socket(): no packet is queued before the filter is attached and the bind
      // names the protocol; the filter keeps only IPv4 UDP to `port` (ldh [12], ldb [23], ldh [36]).
      const insn = (code: number, jt: number, jf: number, k: number): Buffer => {
        const b = Buffer.alloc(8);
        b.writeUInt16LE(code, 0);
        b.writeUInt8(jt, 2);
        b.writeUInt8(jf, 3);
        b.writeUInt32LE(k, 4);
        return b;
      };
      const BPF_LD_H_ABS = 0x28, BPF_LD_B_ABS = 0x30, BPF_JEQ_K = 0x15, BPF_RET_K = 0x06;
      const filter = Buffer.concat([
        insn(BPF_LD_H_ABS, 0, 0, 12),
        insn(BPF_JEQ_K, 0, 5, ETH_P_IP),
        insn(BPF_LD_B_ABS, 0, 0, 23),
        insn(BPF_JEQ_K, 0, 3, 17),
        insn(BPF_LD_H_ABS, 0, 0, 36),
        insn(BPF_JEQ_K, 0, 1, port),
        insn(BPF_RET_K, 0, 0, 0xffff),
        insn(BPF_RET_K, 0, 0, 0),
      ]);
      const cap = await open({
        nsFd: ns.fd,
        domain: AF_PACKET,
        type: SOCK_RAW,
        protocol: 0,
        options: [{ level: SOL_SOCKET, name: SO_ATTACH_FILTER, value: filter }],
        bind: sockaddrLl(lo, ETH_P_ALL),
      });
      expect(cap.local.readUInt16LE(0)).toBe(AF_PACKET);
      expect(cap.local.readInt32LE(4)).toBe(lo);
      const tx = await open({ nsFd: ns.fd, domain: AF_INET, type: SOCK_DGRAM, protocol: 0 });
      // Noise the filter must drop: datagrams to another port.
      const other = await open({ nsFd: ns.fd, domain: AF_INET, type: SOCK_DGRAM, protocol: 0, bind: sockaddrIn('127.0.0.1', 0) });
      for (let i = 0; i < 5; i++) {
        native().dgramSend(tx.id, Buffer.from('noise'), other.local, 100 + i);
        native().dgramSend(tx.id, Buffer.from(`frame ${i}`), sockaddrIn('127.0.0.1', port), i);
      }
      await rx.waitFor(5);
      await other.waitFor(5);
      // On lo each frame is seen leaving (PACKET_OUTGOING) and arriving (PACKET_HOST).
      const frames = await cap.waitFor(10);
      for (const f of frames) {
        expect(f.ifindex).toBe(lo);
        expect(f.protocol).toBe(ETH_P_IP);
        expect(f.data.readUInt16BE(36)).toBe(port);
        expect(f.sec).toBeGreaterThan(0);
      }
      expect(frames.filter((f) => f.pkttype === PACKET_OUTGOING)).toHaveLength(5);
      expect(frames.filter((f) => f.pkttype === PACKET_HOST)).toHaveLength(5);
      expect(frames.some((f) => f.data.includes(Buffer.from('noise')))).toBe(false);
      // struct tpacket_stats { tp_packets, tp_drops }: what the filter let through, none dropped.
      const stats = await call<Buffer>((cb) => native().dgramGetOption(cap.id, SOL_PACKET, PACKET_STATISTICS, 8, cb));
      expect(stats.length).toBe(8);
      expect(stats.readUInt32LE(0)).toBe(10);
      expect(stats.readUInt32LE(4)).toBe(0);
      // A malformed program is refused before setsockopt, with the reason.
      await expect(call((cb) => native().dgramSetOption(cap.id, SOL_SOCKET, SO_ATTACH_FILTER, Buffer.alloc(5), cb))).rejects.toMatchObject({ code: 'EINVAL' });
      for (const s of [rx, cap, tx, other]) native().dgramClose(s.id);
    } finally {
      await ns.delete();
    }
  });

  it('ICMP and ICMPv6 "ping" sockets: an echo request to loopback comes back as a reply from it', async () => {
    const ns = await withLoopback('ping');
    try {
      // Ping sockets are refused unless the caller's group is in ping_group_range ("1 0" in a new namespace).
      await expect(open({ nsFd: ns.fd, domain: AF_INET, type: SOCK_DGRAM, protocol: IPPROTO_ICMP })).rejects.toMatchObject({ code: 'EACCES', syscall: 'socket' });
      await ns.sysctl.set('net.ipv4.ping_group_range', '0 0');
      const v4 = await open({ nsFd: ns.fd, domain: AF_INET, type: SOCK_DGRAM, protocol: IPPROTO_ICMP });
      // type 8 (echo request), code 0, checksum and id filled in by the kernel for ping sockets, seq 7.
      const echo = Buffer.from([8, 0, 0, 0, 0, 0, 0, 7, ...Buffer.from('ping-v4')]);
      native().dgramSend(v4.id, echo, sockaddrIn('127.0.0.1', 0), 1);
      const [reply] = await v4.waitFor(1);
      expect(reply.data[0]).toBe(0); // echo reply
      expect(reply.data.readUInt16BE(6)).toBe(7);
      expect(reply.data.subarray(8).toString()).toBe('ping-v4');
      expect([...reply.address.subarray(4, 8)]).toEqual([127, 0, 0, 1]);

      const v6 = await open({ nsFd: ns.fd, domain: AF_INET6, type: SOCK_DGRAM, protocol: IPPROTO_ICMPV6 });
      native().dgramSend(v6.id, Buffer.from([128, 0, 0, 0, 0, 0, 0, 9, ...Buffer.from('ping-v6')]), sockaddrIn6Loopback(), 2);
      const [reply6] = await v6.waitFor(1);
      expect(reply6.data[0]).toBe(129); // ICMPV6_ECHO_REPLY
      expect(reply6.data.readUInt16BE(6)).toBe(9);
      expect(reply6.address.readUInt16LE(0)).toBe(AF_INET6);
      expect(reply6.address[8 + 15]).toBe(1);
      native().dgramClose(v4.id);
      native().dgramClose(v6.id);
    } finally {
      await ns.delete();
    }
  });

  it('rejects bad arguments before any system call', () => {
    const cb = (): void => {};
    const base = { nsFd: -1, onData: cb, onError: cb, onSendError: cb };
    expect(() => native().dgramOpen({ ...base, domain: 16, type: SOCK_RAW, protocol: 0 }, cb)).toThrow(/domain/);
    expect(() => native().dgramOpen({ ...base, domain: AF_INET, type: 1, protocol: 0 }, cb)).toThrow(/type/);
    expect(() => native().dgramOpen({ ...base, domain: AF_INET, type: SOCK_DGRAM, protocol: 0, bind: Buffer.alloc(1) }, cb)).toThrow(/bind/);
    expect(() => native().dgramSend(0, Buffer.alloc(1), null, 0)).toThrow(/id/);
  });
});

/**
 * ICMP echo from inside a namespace (`ip netns exec NS ping -c N ADDRESS`) without a process: an
 * ICMP datagram ("ping") socket made in the namespace by an addon worker, or a raw ICMP socket when
 * the namespace's net.ipv4.ping_group_range does not admit our group (a new namespace's default,
 * "1 0", admits nobody). The namespace's sysctls are never changed for it.
 * @module
 */
import { ValidationError, type SystemError } from '../errors.js';
import { contextOf, inNamespace, type NetnsHandle, type NsContext } from './target.js';
import { checkKeys } from '../validate/options.js';
import { validateLinkRef } from '../validate/link.js';
import { parseIp } from '../validate/ip.js';
import { formatIp } from '../netlink/wire_formats.js';
import {
  AF_INET,
  AF_INET6,
  DgramSocket,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  SOCK_DGRAM,
  SOCK_RAW,
  SOL_SOCKET,
  SO_BINDTODEVICE,
  sockaddrOf,
  type NativeDatagram,
} from './dgram.js';

/** <linux/icmp.h>, <linux/icmpv6.h>. */
const ICMP_ECHOREPLY = 0;
const ICMP_ECHO = 8;
const ICMPV6_ECHO_REQUEST = 128;
const ICMPV6_ECHO_REPLY = 129;

/** One echo reply. */
export interface PingReply {
  /** icmp_seq, from 1 as ping counts. */
  seq: number;
  /** Round trip in milliseconds (send call to the kernel's receive timestamp). */
  rttMs: number;
  /** ICMP bytes received (header + payload), as ping's "64 bytes from". */
  bytes: number;
  from: string;
  /** TTL / hop limit of the reply, when the socket sees the IP header (raw IPv4). */
  ttl?: number;
}

/** What `ping -c N` prints at the end. */
export interface PingResult {
  destination: string;
  family: 4 | 6;
  transmitted: number;
  received: number;
  /** Percent of requests without a reply (0-100). */
  lossPercent: number;
  /** Milliseconds from the first request to the end. */
  timeMs: number;
  replies: PingReply[];
  /** min/avg/max/mdev of the replies' RTTs in ms, when there was at least one. */
  rtt?: { min: number; avg: number; max: number; mdev: number };
  /** Errors the socket reported (host unreachable, ...). */
  errors: SystemError[];
  /** Which kind of socket was used: 'dgram' (ping socket) or 'raw'. */
  socket: 'dgram' | 'raw';
}

/** Options of {@link ping}. */
export interface PingOptions {
  /** Requests to send (default 3). */
  count?: number;
  /** Milliseconds between requests (default 1000, at least 10). */
  intervalMs?: number;
  /** How long to wait for each reply, in ms (default 1000). */
  timeoutMs?: number;
  /** Payload bytes after the 8-byte ICMP header (default 56, as ping). */
  size?: number;
  /** Send through this interface (SO_BINDTODEVICE, ping -I). */
  dev?: string;
  /** Called with each reply as it arrives. */
  onReply?: (reply: PingReply) => void;
  /** Aborting stops sending; the result counts what was sent. */
  signal?: AbortSignal;
}

/**
 * Send ICMP echo requests (IPv4 or IPv6) from inside the namespace and summarise the replies.
 *
 * Equivalent to: `ip netns exec NS ping -c COUNT -i INTERVAL -W TIMEOUT [-I DEV] ADDRESS`
 * @example
 * ```ts
 * import { ping } from 'netns-native';
 * const r = await ping(ns, '10.0.0.2', { count: 3, intervalMs: 200 });
 * console.log(`${r.transmitted} transmitted, ${r.received} received, ${r.lossPercent}% loss, avg ${r.rtt?.avg} ms`);
 * ```
 * @throws {@link ValidationError} for a bad address or options (nothing is sent); a
 *   {@link SystemError} when no ICMP socket can be made in the namespace.
 */
export async function ping(target: NetnsHandle | NsContext, destination: string, options: PingOptions = {}): Promise<PingResult> {
  const ns = contextOf(target);
  checkKeys('', options, ['count', 'intervalMs', 'timeoutMs', 'size', 'dev', 'onReply', 'signal']);
  const { bytes: dst, family } = parseIp(destination, 'destination');
  const count = intOption('count', options.count, 3, 1, 65_535); // icmp_seq is 16 bits
  const intervalMs = intOption('intervalMs', options.intervalMs, 1000, 10, 3_600_000);
  const timeoutMs = intOption('timeoutMs', options.timeoutMs, 1000, 1, 3_600_000);
  const size = intOption('size', options.size, 56, 0, 65_000);
  if (options.dev !== undefined) validateLinkRef(options.dev, 'dev');
  if (options.dev !== undefined && typeof options.dev !== 'string') throw new ValidationError('dev', options.dev, 'must be an interface name');
  if (options.onReply !== undefined && typeof options.onReply !== 'function') throw new ValidationError('onReply', options.onReply, 'must be a function');
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new ValidationError('signal', signal, 'must be an AbortSignal');

  const op = `ping ${destination}${inNamespace(ns)}`;
  const domain = family === 4 ? AF_INET : AF_INET6;
  const protocol = family === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
  const sockOpts = options.dev ? [{ level: SOL_SOCKET, name: SO_BINDTODEVICE, value: Buffer.from(options.dev + '\0') }] : undefined;
  const sent = new Map<number, number>(); // seq -> realtime ms of the send call
  const replies: PingReply[] = [];
  const errors: SystemError[] = [];
  let kind: 'dgram' | 'raw' = 'dgram';
  // Raw sockets see every echo reply of the namespace: ours carry this identifier.
  const ident = (process.pid ^ Math.floor(Math.random() * 0x10000)) & 0xffff;
  let settle: (() => void) | undefined;

  const onData = (list: NativeDatagram[]) => {
    for (const d of list) {
      const r = parseReply(d, family, kind, ident);
      if (!r || !sent.has(r.seq) || replies.some((x) => x.seq === r.seq)) continue;
      const at = d.sec * 1000 + d.nsec / 1e6;
      const reply: PingReply = { seq: r.seq, rttMs: Math.max(0, at - sent.get(r.seq)!), bytes: r.bytes, from: r.from };
      if (r.ttl !== undefined) reply.ttl = r.ttl;
      replies.push(reply);
      options.onReply?.(reply);
      if (replies.length === count) settle?.();
    }
  };
  const handlers = { onData, onError: (e: SystemError) => errors.push(e) };
  let sock: DgramSocket;
  try {
    sock = await DgramSocket.open({ nsFd: ns.fd(), domain, type: SOCK_DGRAM, protocol, options: sockOpts }, handlers, op);
  } catch (e) {
    if ((e as SystemError).code !== 'EACCES') throw e;
    kind = 'raw';
    sock = await DgramSocket.open({ nsFd: ns.fd(), domain, type: SOCK_RAW, protocol, options: sockOpts }, handlers, op);
  }

  const to = sockaddrOf(family, dst);
  const payload = Buffer.alloc(size);
  for (let i = 0; i < size; i++) payload[i] = i & 0xff;
  const now = () => performance.timeOrigin + performance.now();
  const start = now();
  let transmitted = 0;
  try {
    const done = new Promise<void>((resolve) => (settle = resolve));
    let timer: NodeJS.Timeout | undefined;
    const finish = () => settle?.();
    const onAbort = () => finish();
    signal?.addEventListener('abort', onAbort, { once: true });
    const sendNext = () => {
      if (signal?.aborted || transmitted >= count) return;
      const seq = transmitted + 1;
      const msg = Buffer.alloc(8 + size);
      msg[0] = family === 4 ? ICMP_ECHO : ICMPV6_ECHO_REQUEST;
      msg.writeUInt16BE(ident, 4); // the kernel replaces it on a ping socket
      msg.writeUInt16BE(seq & 0xffff, 6);
      payload.copy(msg, 8);
      // IPv4 raw sockets need our checksum; ping sockets and ICMPv6 sockets get the kernel's.
      if (family === 4 && kind === 'raw') msg.writeUInt16BE(inetChecksum(msg), 2);
      sent.set(seq, now());
      sock.send(msg, to, seq);
      transmitted++;
      if (transmitted < count) timer = setTimeout(sendNext, intervalMs);
      else timer = setTimeout(finish, timeoutMs);
    };
    if (!signal?.aborted) sendNext();
    else finish();
    await done;
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  } finally {
    sock.close();
  }
  replies.sort((a, b) => a.seq - b.seq);
  const result: PingResult = {
    destination: formatIp(dst),
    family,
    transmitted,
    received: replies.length,
    lossPercent: transmitted === 0 ? 0 : Math.round(((transmitted - replies.length) / transmitted) * 1000) / 10,
    timeMs: Math.round(now() - start),
    replies,
    errors,
    socket: kind,
  };
  if (replies.length > 0) {
    const rtts = replies.map((r) => r.rttMs);
    const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
    // ping's mdev: sqrt(mean(x^2) - mean(x)^2).
    const mdev = Math.sqrt(Math.max(0, rtts.reduce((a, b) => a + b * b, 0) / rtts.length - avg * avg));
    result.rtt = { min: Math.min(...rtts), avg, max: Math.max(...rtts), mdev };
  }
  return result;
}

/** An echo reply of ours in a received datagram, or undefined. */
function parseReply(d: NativeDatagram, family: 4 | 6, kind: 'dgram' | 'raw', ident: number): { seq: number; bytes: number; from: string; ttl?: number } | undefined {
  let icmp = d.data;
  let ttl: number | undefined;
  if (family === 4 && kind === 'raw') {
    // IPv4 raw sockets receive the IP header too.
    if (icmp.length < 20) return undefined;
    ttl = icmp[8];
    icmp = icmp.subarray((icmp[0] & 0x0f) * 4);
  }
  if (icmp.length < 8) return undefined;
  if (icmp[0] !== (family === 4 ? ICMP_ECHOREPLY : ICMPV6_ECHO_REPLY)) return undefined;
  if (kind === 'raw' && icmp.readUInt16BE(4) !== ident) return undefined;
  const from = family === 4 ? formatIp(d.address.subarray(4, 8)) : formatIp(d.address.subarray(8, 24));
  const out: { seq: number; bytes: number; from: string; ttl?: number } = { seq: icmp.readUInt16BE(6), bytes: icmp.length, from };
  if (ttl !== undefined) out.ttl = ttl;
  return out;
}

/** RFC 1071 Internet checksum. */
export function inetChecksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length & 1) sum += b[b.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function intOption(field: string, v: unknown, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ValidationError(field, v, `must be an integer from ${min} to ${max}`);
  return v;
}

/**
 * Packet capture inside a namespace (`ip netns exec NS tcpdump -i DEV -w FILE`) without tcpdump:
 * an AF_PACKET socket made in the namespace by an addon worker, an optional classic-BPF filter
 * (tcpdump -ddd output) attached with SO_ATTACH_FILTER before the socket is bound (so no
 * unfiltered packet is ever queued), packets delivered by the addon's I/O thread, and a pcap file
 * that tcpdump -r and tshark -r read. Kernel drops come from PACKET_STATISTICS at the end.
 * @module
 */
import { open as openFile, type FileHandle } from 'node:fs/promises';
import { ValidationError, type SystemError } from '../errors.js';
import { contextOf, inNamespace, type NetnsHandle, type NsContext } from './target.js';
import { checkKeys } from '../validate/options.js';
import { Links } from '../api/link/index.js';
import { validateLinkRef } from '../validate/link.js';
import { AF_PACKET, DgramSocket, PACKET_STATISTICS, SOCK_DGRAM, SOCK_RAW, SOL_PACKET, SOL_SOCKET, SO_ATTACH_FILTER, type NativeDatagram } from './dgram.js';

/** <linux/if_ether.h> */
const ETH_P_ALL = 0x0003;
/** <linux/if_arp.h> */
const ARPHRD_ETHER = 1;
const ARPHRD_LOOPBACK = 772;
/** pcap link types (https://www.tcpdump.org/linktypes.html). */
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_LINUX_SLL = 113;
/** tcpdump's default snap length. */
const DEFAULT_SNAPLEN = 262144;

/** One classic-BPF instruction (struct sock_filter, <linux/filter.h>). */
export interface BpfInstruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** One captured packet. */
export interface CapturedPacket {
  /** Receive time from the kernel (SO_TIMESTAMPNS), ms since the epoch with sub-ms precision. */
  timestamp: number;
  sec: number;
  nsec: number;
  /** Interface the packet was seen on. */
  ifindex: number;
  /** PACKET_HOST (0), PACKET_BROADCAST (1), PACKET_MULTICAST (2), PACKET_OTHERHOST (3), PACKET_OUTGOING (4). */
  pkttype: number;
  /** ETH_P_* of the frame (0x0800 IPv4, 0x86dd IPv6, 0x0806 ARP). */
  protocol: number;
  /** Original length on the wire (as captured by the socket). */
  length: number;
  /** The bytes kept (at most `snaplen`): from the Ethernet header for a single Ethernet/loopback
   *  interface, else a Linux "cooked" (SLL) header followed by the network-layer packet. */
  data: Buffer;
}

/** What a capture saw, at its end. */
export interface CaptureSummary {
  /** Packets delivered (to the iterator or the file). */
  packets: number;
  /** Bytes kept of them. */
  bytes: number;
  /** Packets the kernel passed the filter (PACKET_STATISTICS tp_packets, drops included). */
  kernelPackets: number;
  /** Packets the kernel dropped because the socket's buffer was full (tp_drops). */
  kernelDrops: number;
  /** Packets dropped here because the consumer fell more than `maxQueue` behind. */
  queueDrops: number;
  /** pcap link type of the data. */
  linkType: number;
  /** The file written, for {@link captureToFile}. */
  file?: string;
}

/** Options of {@link capture} and {@link captureToFile}. */
export interface CaptureOptions {
  /** Interface to capture on (name or index); all interfaces of the namespace when omitted. */
  dev?: string | number;
  /** Bytes kept of each packet (default 262144, as tcpdump). */
  snaplen?: number;
  /** Stop after this many packets. */
  count?: number;
  /** Stop after this many milliseconds. */
  durationMs?: number;
  /**
   * A classic-BPF program: `tcpdump -i DEV -ddd 'EXPR'` output (text), or the instructions. It sees
   * packets as the chosen interface's link layer delivers them, so it needs `dev` (an all-interfaces
   * capture starts at the network header, where tcpdump's programs do not apply).
   */
  filter?: string | readonly BpfInstruction[];
  /** Aborting stops the capture (no error). */
  signal?: AbortSignal;
  /** Packets kept for a slow consumer before new ones are dropped (default 4096; counted in `queueDrops`). */
  maxQueue?: number;
  /** Socket receive buffer in bytes (default: the kernel's). */
  rcvbuf?: number;
}

/**
 * Parse `tcpdump -ddd` output (first line the instruction count, then `code jt jf k` per line).
 * @throws {@link ValidationError} for anything else.
 */
export function parseBpf(text: string): BpfInstruction[] {
  if (typeof text !== 'string') throw new ValidationError('filter', text, 'must be the text tcpdump -ddd prints');
  const lines = text.trim().split(/\n/).map((l) => l.trim()).filter((l) => l !== '');
  const n = Number(lines[0]);
  if (!Number.isInteger(n) || n < 1 || n > 4096 || lines.length !== n + 1) throw new ValidationError('filter', text, 'is not tcpdump -ddd output (a count line, then that many "code jt jf k" lines)');
  return lines.slice(1).map((l) => {
    const f = l.split(/\s+/).map(Number);
    if (f.length !== 4 || f.some((x) => !Number.isInteger(x) || x < 0)) throw new ValidationError('filter', l, 'is not a "code jt jf k" line');
    return { code: f[0], jt: f[1], jf: f[2], k: f[3] };
  });
}

/** struct sock_filter[] as SO_ATTACH_FILTER takes it (the addon wraps it in a sock_fprog). */
export function encodeBpf(prog: readonly BpfInstruction[]): Buffer {
  const b = Buffer.alloc(prog.length * 8);
  prog.forEach((i, n) => {
    if (i.code > 0xffff || i.jt > 0xff || i.jf > 0xff || i.k > 0xffffffff) throw new ValidationError('filter', i, 'has a field out of range');
    b.writeUInt16LE(i.code, n * 8);
    b.writeUInt8(i.jt, n * 8 + 2);
    b.writeUInt8(i.jf, n * 8 + 3);
    b.writeUInt32LE(i.k >>> 0, n * 8 + 4);
  });
  return b;
}

/** The pcap global header (microsecond timestamps, as tcpdump -w writes). */
export function pcapHeader(linkType: number, snaplen: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(0xa1b2c3d4, 0);
  b.writeUInt16LE(2, 4);
  b.writeUInt16LE(4, 6);
  b.writeUInt32LE(snaplen, 16);
  b.writeUInt32LE(linkType, 20);
  return b;
}

/** One pcap record header. */
export function pcapRecordHeader(p: CapturedPacket): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(p.sec, 0);
  b.writeUInt32LE(Math.floor(p.nsec / 1000), 4);
  b.writeUInt32LE(p.data.length, 8);
  b.writeUInt32LE(p.length, 12);
  return b;
}

/**
 * An open capture: an async iterator of packets. `break`/`return()`/`close()`/the signal/`count`/
 * `durationMs` end it; {@link summary} then resolves with the kernel's counters.
 */
export class CaptureStream implements AsyncIterableIterator<CapturedPacket>, AsyncDisposable {
  private queue: CapturedPacket[] = [];
  private head = 0;
  private waiter: (() => void) | undefined;
  private closed = false;
  private failure: SystemError | undefined;
  private delivered = 0;
  private keptBytes = 0;
  private queueDrops = 0;
  private timer: NodeJS.Timeout | undefined;
  /**
   * An idle addon socket does not keep the process alive (docs/threading.md, "Keeping the process
   * alive, and not"): an open capture does, as an open net.Socket does, so that a program (or the
   * CLI) awaiting only the capture is not ended by Node with an unsettled promise (exit 13).
   */
  private keepAlive: NodeJS.Timeout | undefined;
  private finalStats: Promise<{ packets: number; drops: number }> | undefined;
  private sock!: DgramSocket;
  private readonly onAbort = () => void this.close();
  private markEnded!: () => void;
  private readonly ended = new Promise<void>((resolve) => (this.markEnded = resolve));

  /** @internal */
  constructor(
    readonly linkType: number,
    private readonly snaplen: number,
    private readonly count: number | undefined,
    private readonly maxQueue: number,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** @internal */
  start(sock: DgramSocket, durationMs: number | undefined): void {
    this.sock = sock;
    this.keepAlive = setInterval(() => undefined, 2 ** 31 - 1);
    if (durationMs !== undefined) this.timer = setTimeout(() => void this.close(), durationMs);
    this.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (this.signal?.aborted) void this.close();
  }

  /** @internal */
  onData(list: NativeDatagram[]): void {
    for (const d of list) {
      if (this.closed) return;
      if (this.queue.length - this.head >= this.maxQueue) {
        this.queueDrops++;
        continue;
      }
      this.queue.push(this.toPacket(d));
    }
    this.wake();
  }

  /** @internal */
  onError(e: SystemError): void {
    this.failure ??= e;
    this.wake();
  }

  private toPacket(d: NativeDatagram): CapturedPacket {
    let frame = d.data;
    if (this.linkType === LINKTYPE_LINUX_SLL) frame = Buffer.concat([sllHeader(d), d.data]);
    const data = frame.length > this.snaplen ? frame.subarray(0, this.snaplen) : frame;
    return {
      timestamp: d.sec * 1000 + d.nsec / 1e6,
      sec: d.sec,
      nsec: d.nsec,
      ifindex: d.ifindex ?? 0,
      pkttype: d.pkttype ?? 0,
      protocol: d.protocol ?? 0,
      length: frame.length,
      data,
    };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<CapturedPacket>> {
    for (;;) {
      if (this.head < this.queue.length && (this.count === undefined || this.delivered < this.count)) {
        const p = this.queue[this.head++];
        if (this.head === this.queue.length) {
          this.queue = [];
          this.head = 0;
        }
        this.delivered++;
        this.keptBytes += p.data.length;
        if (this.count !== undefined && this.delivered >= this.count) void this.close();
        return { done: false, value: p };
      }
      if (this.failure) {
        const f = this.failure;
        this.failure = undefined;
        await this.close();
        throw f;
      }
      if (this.closed) return { done: true, value: undefined };
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  async return(): Promise<IteratorResult<CapturedPacket>> {
    await this.close();
    return { done: true, value: undefined };
  }

  /**
   * Stop capturing: read the kernel's counters, close the socket. Packets already queued are still
   * delivered by `next()` (up to `count`). Idempotent.
   */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      clearTimeout(this.timer);
      clearInterval(this.keepAlive);
      this.signal?.removeEventListener('abort', this.onAbort);
      const sock = this.sock;
      this.finalStats = sock
        .getOption(SOL_PACKET, PACKET_STATISTICS, 8)
        .then((b) => ({ packets: b.readUInt32LE(0), drops: b.readUInt32LE(4) }))
        .catch(() => ({ packets: 0, drops: 0 }))
        .finally(() => sock.close());
      this.markEnded();
      this.wake();
    }
    return this.finalStats!.then(() => undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The counters, once the capture has ended (waits for it). */
  async summary(): Promise<CaptureSummary> {
    await this.ended;
    const k = await this.finalStats!;
    return { packets: this.delivered, bytes: this.keptBytes, kernelPackets: k.packets, kernelDrops: k.drops, queueDrops: this.queueDrops, linkType: this.linkType };
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}

/** The 16-byte Linux cooked header (LINKTYPE_LINUX_SLL) from a sockaddr_ll. */
function sllHeader(d: NativeDatagram): Buffer {
  const a = d.address; // sockaddr_ll: family, protocol(be), ifindex, hatype, pkttype, halen, addr[8]
  const h = Buffer.alloc(16);
  h.writeUInt16BE(d.pkttype ?? 0, 0);
  h.writeUInt16BE(a.length >= 10 ? a.readUInt16LE(8) : 0, 2);
  const halen = a.length >= 12 ? Math.min(a[11], 8) : 0;
  h.writeUInt16BE(halen, 4);
  if (halen) a.copy(h, 6, 12, 12 + halen);
  h.writeUInt16BE(d.protocol ?? 0, 14);
  return h;
}

/**
 * Capture packets inside the namespace as an async iterator.
 *
 * Equivalent to: `ip netns exec NS tcpdump -i DEV [-s SNAPLEN] [-c COUNT] 'FILTER'`
 * @example
 * ```ts
 * import { capture } from 'netns-native';
 * const cap = await capture(ns, { dev: 'veth0', count: 10, filter: tcpdumpDdddText });
 * for await (const p of cap) console.log(p.length, p.protocol.toString(16));
 * console.log(await cap.summary()); // { packets, kernelDrops, ... }
 * ```
 * @throws {@link ValidationError} for bad options (nothing is opened); ENODEV for an unknown interface.
 */
export async function capture(target: NetnsHandle | NsContext, options: CaptureOptions = {}): Promise<CaptureStream> {
  const ns = contextOf(target);
  checkKeys('', options, ['dev', 'snaplen', 'count', 'durationMs', 'filter', 'signal', 'maxQueue', 'rcvbuf']);
  const snaplen = intOpt('snaplen', options.snaplen, DEFAULT_SNAPLEN, 1, DEFAULT_SNAPLEN);
  const count = options.count === undefined ? undefined : intOpt('count', options.count, 0, 1, Number.MAX_SAFE_INTEGER);
  const durationMs = options.durationMs === undefined ? undefined : intOpt('durationMs', options.durationMs, 0, 1, 2 ** 31 - 1);
  const maxQueue = intOpt('maxQueue', options.maxQueue, 4096, 1, 1 << 24);
  const rcvbuf = options.rcvbuf === undefined ? undefined : intOpt('rcvbuf', options.rcvbuf, 0, 1, 1 << 30);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new ValidationError('signal', options.signal, 'must be an AbortSignal');
  let program: Buffer | undefined;
  if (options.filter !== undefined) {
    if (options.dev === undefined) throw new ValidationError('filter', options.filter, 'needs dev: a tcpdump program is written for one interface\'s link layer');
    const insns = typeof options.filter === 'string' ? parseBpf(options.filter) : options.filter;
    if (!Array.isArray(insns) || insns.length === 0) throw new ValidationError('filter', options.filter, 'must be tcpdump -ddd text or a non-empty list of instructions');
    program = encodeBpf(insns);
  }
  let ifindex = 0;
  let linkType = LINKTYPE_LINUX_SLL;
  if (options.dev !== undefined) {
    const link = await new Links(ns).get(validateLinkRef(options.dev, 'dev'));
    ifindex = link.index;
    if (link.linkType === ARPHRD_ETHER || link.linkType === ARPHRD_LOOPBACK) linkType = LINKTYPE_ETHERNET;
  }
  const op = `tcpdump -i ${options.dev ?? 'any'}${inNamespace(ns)}`;
  const stream = new CaptureStream(linkType, snaplen, count, maxQueue, options.signal);
  const bind = Buffer.alloc(20); // sockaddr_ll
  bind.writeUInt16LE(AF_PACKET, 0);
  bind.writeUInt16BE(ETH_P_ALL, 2);
  bind.writeInt32LE(ifindex, 4);
  const sock = await DgramSocket.open(
    {
      nsFd: ns.fd(),
      domain: AF_PACKET,
      type: linkType === LINKTYPE_ETHERNET ? SOCK_RAW : SOCK_DGRAM,
      // Protocol 0: the socket receives nothing until bind() names ETH_P_ALL, after the filter is in place.
      protocol: 0,
      options: program ? [{ level: SOL_SOCKET, name: SO_ATTACH_FILTER, value: program }] : undefined,
      bind,
      ...(rcvbuf !== undefined ? { rcvbuf } : {}),
    },
    { onData: (d) => stream.onData(d), onError: (e) => stream.onError(e) },
    op,
  );
  stream.start(sock, durationMs);
  return stream;
}

/**
 * Capture packets inside the namespace into a pcap file (readable by `tcpdump -r`, `tshark -r`).
 * Resolves when the capture ends (count, duration or signal) with the summary.
 *
 * Equivalent to: `ip netns exec NS tcpdump -i DEV -w FILE [-s SNAPLEN] [-c COUNT] 'FILTER'`
 * @example
 * ```ts
 * import { captureToFile } from 'netns-native';
 * const s = await captureToFile(ns, '/tmp/veth.pcap', { dev: 'veth0', durationMs: 5000 });
 * console.log(`${s.packets} packets, ${s.kernelDrops} dropped by the kernel`);
 * ```
 * @throws {@link ValidationError} without `count`, `durationMs` or `signal` (it would never end).
 */
export async function captureToFile(target: NetnsHandle | NsContext, file: string, options: CaptureOptions = {}): Promise<CaptureSummary> {
  if (typeof file !== 'string' || file === '') throw new ValidationError('file', file, 'must be a path');
  if (options.count === undefined && options.durationMs === undefined && options.signal === undefined) {
    throw new ValidationError('options', options, 'give count, durationMs or signal: a capture to a file must end');
  }
  const stream = await capture(target, options);
  let fh: FileHandle | undefined;
  try {
    fh = await openFile(file, 'w', 0o600);
    await fh.write(pcapHeader(stream.linkType, options.snaplen ?? DEFAULT_SNAPLEN));
    for await (const p of stream) await fh.writev([pcapRecordHeader(p), p.data]);
  } catch (e) {
    await stream.close();
    throw e;
  } finally {
    await fh?.close();
  }
  return { ...(await stream.summary()), file };
}

function intOpt(field: string, v: unknown, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ValidationError(field, v, `must be an integer from ${min} to ${max}`);
  return v;
}

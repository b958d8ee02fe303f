/**
 * Promise wrapper over the addon's generic datagram sockets (ICMP ping sockets, raw sockets,
 * AF_PACKET), shared by ping and capture. The socket is created inside the namespace by an addon
 * worker and read by the I/O thread (docs/threading.md); this module only adds typing and errors.
 * @module
 */
import { NetnsError, fromNative, type SystemError } from '../errors.js';
import { native, type NativeDatagram, type NativeSockOpt } from '../native.js';

export type { NativeDatagram };

/** Constants from <linux/socket.h>, <asm-generic/socket.h>, <linux/in.h>, <linux/if_packet.h>. */
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_PACKET = 17;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const IPPROTO_ICMP = 1;
export const IPPROTO_ICMPV6 = 58;
export const SOL_SOCKET = 1;
export const SO_BINDTODEVICE = 25;
export const SO_ATTACH_FILTER = 26;
export const SOL_PACKET = 263;
export const PACKET_STATISTICS = 6;

/** What a datagram socket delivers, on the JS thread. */
export interface DgramHandlers {
  onData(datagrams: NativeDatagram[]): void;
  onError?(err: SystemError): void;
}

/** An open addon datagram socket. */
export class DgramSocket {
  private closed = false;
  private constructor(readonly id: number, readonly local: Buffer, private readonly operation: string) {}

  static open(
    opts: { nsFd: number; domain: number; type: number; protocol: number; options?: NativeSockOpt[]; bind?: Buffer; rcvbuf?: number },
    handlers: DgramHandlers,
    operation: string,
  ): Promise<DgramSocket> {
    let sock: DgramSocket | undefined;
    return new Promise((resolve, reject) => {
      native().dgramOpen(
        {
          ...opts,
          onData: (d) => {
            if (sock && !sock.closed) handlers.onData(d);
          },
          onError: (e) => {
            if (sock && !sock.closed) handlers.onError?.(fromNative(e, operation));
          },
          onSendError: (_t, e) => {
            if (sock && !sock.closed) handlers.onError?.(fromNative(e, operation));
          },
        },
        (err, s) => {
          if (err || !s) {
            reject(err ? fromNative(err, operation) : new NetnsError(`${operation}: open failed`, { code: 'ERR_INTERNAL' }));
            return;
          }
          sock = new DgramSocket(s.id, s.local, operation);
          resolve(sock);
        },
      );
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Queue one datagram for sendmsg on a worker (to a sockaddr, or null when connected/bound). */
  send(buf: Buffer, to: Buffer | null, token = 0): void {
    if (!this.closed) native().dgramSend(this.id, buf, to, token);
  }

  /** getsockopt on a worker. */
  getOption(level: number, name: number, maxLength: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      native().dgramGetOption(this.id, level, name, maxLength, (err, v) => (err ? reject(fromNative(err, this.operation)) : resolve(v as Buffer)));
    });
  }

  /** Close; no handler runs afterwards. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    native().dgramClose(this.id);
  }
}

/** sockaddr_in / sockaddr_in6 for an address (port 0), `family` and bytes from parseIp. */
export function sockaddrOf(family: 4 | 6, bytes: Buffer, port = 0, scopeId = 0): Buffer {
  if (family === 4) {
    const b = Buffer.alloc(16);
    b.writeUInt16LE(AF_INET, 0); // sa_family is host order (little-endian here); the port is network order
    b.writeUInt16BE(port, 2);
    bytes.copy(b, 4);
    return b;
  }
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  bytes.copy(b, 8);
  b.writeUInt32LE(scopeId, 24);
  return b;
}

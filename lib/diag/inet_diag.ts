/**
 * sock_diag / inet_diag codec (<linux/sock_diag.h>, <linux/inet_diag.h>): the dump request
 * (struct inet_diag_req_v2) and the answer (struct inet_diag_msg plus attributes), what `ss` asks
 * the kernel for TCP and UDP sockets.
 * @module
 */
import { AttrMap } from '../netlink/attributes.js';
import { formatIPv4, formatIPv6 } from '../netlink/wire_formats.js';

/** <linux/sock_diag.h>: the one request type of NETLINK_SOCK_DIAG. */
export const SOCK_DIAG_BY_FAMILY = 20;

/** <linux/in.h> protocol numbers the dump asks for. */
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** <linux/inet_diag.h> response attributes this codec reads. */
export const INET_DIAG_SHUTDOWN = 8;
export const INET_DIAG_SKV6ONLY = 11;
export const INET_DIAG_MARK = 15;

/** <net/tcp_states.h>: TCP_ESTABLISHED = 1 ... TCP_NEW_SYN_RECV = 12. */
export const TCP_STATES = [
  undefined,
  'established',
  'syn-sent',
  'syn-recv',
  'fin-wait-1',
  'fin-wait-2',
  'time-wait',
  'close',
  'close-wait',
  'last-ack',
  'listen',
  'closing',
  'new-syn-recv',
] as const;

/** A socket state as the kernel names it (`close` is what `ss` prints as UNCONN). */
export type SocketState = Exclude<(typeof TCP_STATES)[number], undefined>;

/** Every state bit (idiag_states is a mask of 1 << state). */
export const ALL_STATES = 0xffffffff;

/** Bit of one state in idiag_states. */
export function stateBit(state: SocketState): number {
  return 1 << TCP_STATES.indexOf(state);
}

/** sizeof(struct inet_diag_req_v2): 4 bytes of header, idiag_states, struct inet_diag_sockid (48). */
export const INET_DIAG_REQ_V2_LEN = 56;
/** sizeof(struct inet_diag_msg). */
export const INET_DIAG_MSG_LEN = 72;

/** The body of a SOCK_DIAG_BY_FAMILY dump of one family and protocol. */
export function encodeInetDiagRequest(family: number, protocol: number, states = ALL_STATES, ext = 0): Buffer {
  const b = Buffer.alloc(INET_DIAG_REQ_V2_LEN);
  b.writeUInt8(family, 0);
  b.writeUInt8(protocol, 1);
  b.writeUInt8(ext, 2);
  b.writeUInt32LE(states >>> 0, 4);
  // The sockid stays zero (no address filter); the cookie "none" as ss sends it.
  b.writeUInt32LE(0xffffffff, 8 + 40);
  b.writeUInt32LE(0xffffffff, 8 + 44);
  return b;
}

/** struct inet_diag_msg and the attributes this codec knows. */
export interface InetDiagMessage {
  family: number;
  state: number;
  timer: number;
  retrans: number;
  /** Host order. */
  sourcePort: number;
  destinationPort: number;
  source: string;
  destination: string;
  /** idiag_if: the interface the socket is bound to (SO_BINDTODEVICE, IPv6 scope), 0 for none. */
  ifindex: number;
  /** The socket cookie (unique for the namespace's lifetime). */
  cookie: bigint;
  expires: number;
  rqueue: number;
  wqueue: number;
  uid: number;
  inode: number;
  /** INET_DIAG_SKV6ONLY, for IPv6 sockets. */
  v6only?: boolean;
  /** INET_DIAG_SHUTDOWN: bit 0 receive side shut down, bit 1 send side. */
  shutdown?: number;
  /** INET_DIAG_MARK (sent to CAP_NET_ADMIN only). */
  mark?: number;
}

const AF_INET = 2;

/** Decode one SOCK_DIAG_BY_FAMILY answer. */
export function decodeInetDiagMessage(p: Buffer): InetDiagMessage {
  if (p.length < INET_DIAG_MSG_LEN) throw new RangeError(`inet_diag_msg of ${p.length} bytes (needs ${INET_DIAG_MSG_LEN})`);
  const family = p.readUInt8(0);
  const addr = (off: number) => (family === AF_INET ? formatIPv4(p, off) : formatIPv6(p, off));
  const m: InetDiagMessage = {
    family,
    state: p.readUInt8(1),
    timer: p.readUInt8(2),
    retrans: p.readUInt8(3),
    sourcePort: p.readUInt16BE(4),
    destinationPort: p.readUInt16BE(6),
    source: addr(8),
    destination: addr(24),
    ifindex: p.readUInt32LE(40),
    cookie: p.readBigUInt64LE(44),
    expires: p.readUInt32LE(52),
    rqueue: p.readUInt32LE(56),
    wqueue: p.readUInt32LE(60),
    uid: p.readUInt32LE(64),
    inode: p.readUInt32LE(68),
  };
  const attrs = new AttrMap(p, INET_DIAG_MSG_LEN);
  const v6 = attrs.get(INET_DIAG_SKV6ONLY);
  if (v6 && v6.length >= 1) m.v6only = v6.readUInt8(0) !== 0;
  const sd = attrs.get(INET_DIAG_SHUTDOWN);
  if (sd && sd.length >= 1) m.shutdown = sd.readUInt8(0);
  const mark = attrs.u32(INET_DIAG_MARK);
  if (mark !== undefined) m.mark = mark;
  return m;
}

/**
 * Netlink messages: struct nlmsghdr, splitting a datagram into messages, and reading the payload of
 * NLMSG_ERROR / NLMSG_DONE with its extended-ack attributes.
 * @module
 */
import { AttrMap, AttrWriter, ByteWriter, decodeCString } from './attributes.js';
import type { Decoded, FieldSpec, Schema, Struct, StructValue } from './schema.js';
import {
  NLMSG_HDRLEN,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLMSGERR_ATTR_MISS_TYPE,
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
  nlmsgAlign,
} from './constants.js';

/** One message received from the kernel. `payload` is a view into the datagram. */
export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: Buffer;
}

/** Encode a whole message: header followed by `body` (already aligned by its writer). */
export function encodeMessage(type: number, flags: number, seq: number, body: Uint8Array, pid = 0): Buffer {
  const len = NLMSG_HDRLEN + body.length;
  const out = Buffer.allocUnsafe(nlmsgAlign(len));
  out.writeUInt32LE(len, 0);
  out.writeUInt16LE(type, 4);
  out.writeUInt16LE(flags, 6);
  out.writeUInt32LE(seq >>> 0, 8);
  out.writeUInt32LE(pid >>> 0, 12);
  out.set(body, NLMSG_HDRLEN);
  out.fill(0, len);
  return out;
}

/** Split a datagram into its messages; a truncated trailing message is reported, not hidden. */
export function parseDatagram(buf: Buffer): { messages: NetlinkMessage[]; truncated: boolean } {
  const messages: NetlinkMessage[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) return { messages, truncated: true };
    messages.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += nlmsgAlign(len);
  }
  return { messages, truncated: off < buf.length && buf.length - off >= NLMSG_HDRLEN };
}

/** The content of an NLMSG_ERROR (ack when error is 0) or an NLMSG_DONE with an error. */
export interface ErrorPayload {
  /** Negative errno, or 0 for an ACK. */
  error: number;
  /** Extended-ack message. */
  message?: string;
  /** Offset of the offending attribute, counted from the start of the request's nlmsghdr. */
  offset?: number;
  /** Missing attribute type. */
  missingType?: number;
  /** Sequence number of the request it answers (from the echoed header), when present. */
  requestSeq?: number;
}

/** Read struct nlmsgerr plus the extended-ack TLVs. */
export function parseErrorPayload(msg: NetlinkMessage): ErrorPayload {
  const p = msg.payload;
  if (p.length < 4) return { error: 0 };
  const out: ErrorPayload = { error: p.readInt32LE(0) };
  if (p.length >= 4 + NLMSG_HDRLEN) {
    const echoedLen = p.readUInt32LE(4);
    out.requestSeq = p.readUInt32LE(4 + 8);
    if (msg.flags & NLM_F_ACK_TLVS) {
      // Without NLM_F_CAPPED the whole request is echoed before the TLVs.
      const tlvStart = 4 + (msg.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : nlmsgAlign(echoedLen));
      readExtAck(p, tlvStart, out);
    }
  }
  return out;
}

/** NLMSG_DONE carries an int error, then extended-ack TLVs when NLM_F_ACK_TLVS is set. */
export function parseDonePayload(msg: NetlinkMessage): ErrorPayload {
  const p = msg.payload;
  const out: ErrorPayload = { error: p.length >= 4 ? p.readInt32LE(0) : 0 };
  if (msg.flags & NLM_F_ACK_TLVS) readExtAck(p, 4, out);
  return out;
}

function readExtAck(p: Buffer, start: number, out: ErrorPayload): void {
  if (start >= p.length) return;
  const attrs = new AttrMap(p, start);
  const m = attrs.get(NLMSGERR_ATTR_MSG);
  if (m) out.message = decodeCString(m);
  const o = attrs.u32(NLMSGERR_ATTR_OFFS);
  if (o !== undefined) out.offset = o;
  const t = attrs.u32(NLMSGERR_ATTR_MISS_TYPE);
  if (t !== undefined) out.missingType = t;
}

/**
 * A message family's body: a fixed header struct followed by attributes (ifaddrmsg + IFA_*, rtmsg +
 * RTA_*, nfgenmsg + NFTA_*, ...). One declaration gives both directions, so a family writes
 * `export const addrMessage = new Message(ifaddrmsg, addrAttrs)` instead of its own encode/decode.
 */
export class Message<K extends string, K64 extends string, F extends Record<string, FieldSpec<any>>> {
  constructor(
    readonly header: Struct<K, K64>,
    readonly attrs: Schema<F>,
    /** First buffer size; the writer grows past it. */
    private readonly sizeHint = 64,
  ) {}

  /** Header then attributes (unknown ones kept raw in `attrs.other`). */
  decode(payload: Buffer): { header: StructValue<K, K64>; attrs: Decoded<F> } {
    return { header: this.header.decode(payload, 0), attrs: this.attrs.decodeMap(new AttrMap(payload, this.header.size)) };
  }

  /** The message body (what follows struct nlmsghdr). */
  encode(header: Partial<StructValue<K, K64>>, attrs: Decoded<F>): Buffer {
    const w = new ByteWriter(this.sizeHint);
    this.header.encode(w, header);
    this.attrs.encode(new AttrWriter(w), attrs);
    return w.toBuffer();
  }
}

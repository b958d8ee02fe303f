/**
 * nfnetlink framing for nf_tables: struct nfgenmsg, message types (subsystem << 8 | message), and
 * the batch that makes a list of changes one transaction (NFNL_MSG_BATCH_BEGIN ... NFNL_MSG_BATCH_END).
 * @module
 */
import { AttrWriter, ByteWriter } from '../netlink/attributes.js';
import { NLMSG_HDRLEN, NLM_F_ACK, NLM_F_REQUEST } from '../netlink/constants.js';
import { encodeMessage } from '../netlink/message.js';
import { Struct } from '../netlink/schema.js';
import { NFNETLINK_V0, NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END, NFNL_SUBSYS_NFTABLES, NFPROTO_UNSPEC } from './constants.js';

/** struct nfgenmsg: family, version, and the resource id (big-endian; the subsystem for batches). */
export const nfgenmsg = new Struct<'family' | 'version' | 'resId'>('nfgenmsg', [
  ['family', 'u8'],
  ['version', 'u8'],
  ['resId', 'be16'],
]);
export const NFGENMSG_LEN = 4;

/** nlmsg_type of an nf_tables message: NFNL_SUBSYS_NFTABLES in the high byte. */
export function nftMsgType(msg: number): number {
  return (NFNL_SUBSYS_NFTABLES << 8) | msg;
}

/** The nf_tables message number of an nlmsg_type, or -1 when it is not an nf_tables message. */
export function nftMsgOf(type: number): number {
  return type >> 8 === NFNL_SUBSYS_NFTABLES ? type & 0xff : -1;
}

/** Body of an nf_tables message: nfgenmsg (res_id 0) then the attributes written by `fill`. */
export function nftBody(family: number, fill?: (a: AttrWriter) => void): Buffer {
  const w = new ByteWriter(128);
  nfgenmsg.encode(w, { family, version: NFNETLINK_V0, resId: 0 });
  if (fill) fill(new AttrWriter(w));
  return w.toBuffer();
}

/** One change inside a batch. */
export interface BatchMessage {
  /** nf_tables message number (NFT_MSG_NEWRULE, ...). */
  msg: number;
  /** NLM_F_* flags besides NLM_F_REQUEST|NLM_F_ACK (NLM_F_CREATE, NLM_F_EXCL, NLM_F_APPEND, NLM_F_ECHO...). */
  flags: number;
  /** nfgenmsg + attributes, from {@link nftBody}. */
  body: Buffer;
  /** What this message does, for error messages ("add rule inet t post"). */
  what: string;
}

/**
 * Body of the batch delimiters: nfgenmsg with family AF_UNSPEC and res_id NFNL_SUBSYS_NFTABLES in
 * network byte order (the kernel also accepts host order for old nft; we send what it documents).
 */
export function batchDelimiterBody(): Buffer {
  const w = new ByteWriter(4);
  nfgenmsg.encode(w, { family: NFPROTO_UNSPEC, version: NFNETLINK_V0, resId: NFNL_SUBSYS_NFTABLES });
  return w.toBuffer();
}

/** The nlmsg types and flags of a whole batch, delimiters included, in the order they are sent. */
export function batchFrames(messages: readonly BatchMessage[]): { type: number; flags: number; body: Buffer }[] {
  const delim = batchDelimiterBody();
  // The connection adds NLM_F_REQUEST|NLM_F_ACK to every frame: since Linux 6.10 the kernel
  // acknowledges the delimiters too, and every message inside a batch is acknowledged (or fails)
  // once the whole batch has been processed.
  const flagsOf = (f: number) => f;
  return [
    { type: NFNL_MSG_BATCH_BEGIN, flags: flagsOf(0), body: delim },
    ...messages.map((m) => ({ type: nftMsgType(m.msg), flags: flagsOf(m.flags), body: m.body })),
    { type: NFNL_MSG_BATCH_END, flags: flagsOf(0), body: delim },
  ];
}

/** A whole batch as one buffer (for golden tests and for a single sendmsg), sequence numbers from `seq`. */
export function encodeBatch(messages: readonly BatchMessage[], seq: number): Buffer {
  const frames = batchFrames(messages);
  return Buffer.concat(frames.map((f, i) => encodeMessage(f.type, NLM_F_REQUEST | NLM_F_ACK | f.flags, seq + i, f.body)));
}

export { NLMSG_HDRLEN };

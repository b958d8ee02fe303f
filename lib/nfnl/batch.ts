/**
 * Sending an nf_tables batch over a netlink connection and reading its answers: every frame of the
 * batch (delimiters included) carries NLM_F_ACK, so each one is answered once the kernel has
 * committed or aborted the whole batch; the first failing change is reported by its position and its
 * description, with the kernel's text.
 * @module
 */
import { NetlinkError, ValidationError } from '../errors.js';
import type { NetlinkConnection } from '../netlink/connection.js';
import { NLMSG_HDRLEN } from '../netlink/constants.js';
import type { NetlinkMessage } from '../netlink/message.js';
import { batchFrames, type BatchMessage } from './message.js';

/** Largest batch sent (frames and bytes): the connection puts at most this much in one sendmsg. */
export const MAX_BATCH_FRAMES = 256;
export const MAX_BATCH_BYTES = 64 * 1024;

/**
 * Send `messages` as one nf_tables transaction and resolve with what each message got back before
 * its ACK (the echoed rule with its handle for NLM_F_ECHO). Rejects with the error of the first
 * failing message; the kernel then applied nothing.
 *
 * The frames reach the kernel in one sendmsg ({@link NetlinkConnection.transaction}): the kernel
 * reads a batch from one skb.
 */
export async function sendBatch(conn: NetlinkConnection, messages: readonly BatchMessage[], operation: string): Promise<NetlinkMessage[][]> {
  const frames = batchFrames(messages);
  const bytes = frames.reduce((n, f) => n + NLMSG_HDRLEN + f.body.length, 0);
  if (frames.length > MAX_BATCH_FRAMES || bytes > MAX_BATCH_BYTES) {
    throw new ValidationError('changes', `${messages.length} messages, ${bytes} bytes`, `exceed one transaction (at most ${MAX_BATCH_FRAMES - 2} messages and ${MAX_BATCH_BYTES} bytes)`);
  }
  const settled = await conn.transaction(frames, operation);
  // The inner messages first: they say which change the kernel refused.
  for (let i = 1; i < settled.length - 1; i++) {
    const r = settled[i];
    if (r.status === 'rejected') throw describe(r.reason, messages[i - 1], i, messages.length, operation);
  }
  for (const r of settled) if (r.status === 'rejected') throw r.reason;
  return settled.slice(1, -1).map((r) => (r as PromiseFulfilledResult<NetlinkMessage[]>).value);
}

/** The kernel's error for one message, with its position and description in the message. */
function describe(err: unknown, m: BatchMessage, index: number, total: number, operation: string): unknown {
  if (!(err instanceof NetlinkError)) return err;
  const ext = { message: err.kernelMessage, offset: err.badAttributeOffset, missingType: err.missingAttributeType };
  const e = new NetlinkError(err.errno, err.request, ext, `${operation}: change ${index} of ${total} (${m.what})`);
  return Object.assign(e, { batchIndex: index - 1, change: m.what });
}

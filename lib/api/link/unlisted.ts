/**
 * Link deletions that settle when the kernel has unlisted the link, not when it answers the request
 * (after an RCU barrier, tens of milliseconds later): the addon sends the RTM_DELLINK from a sender
 * thread and reports on the link's RTM_DELLINK notification (docs/threading.md, "Link deletions:
 * sender threads"). Also the kernel's refusals of those requests, read with the JS codec.
 * @module
 */
import { NetlinkError, RequestAbortedError, fromNative } from '../../errors.js';
import { native } from '../../native.js';
import { NLMSG_DONE, NLM_F_ACK, NLM_F_REQUEST } from '../../netlink/constants.js';
import { parseDatagram, parseDonePayload, parseErrorPayload } from '../../netlink/message.js';
import { RTM_DELLINK } from '../../rtnl/constants.js';
import type { LinkRef } from './view.js';

/** The kernel's refusal (a whole NLMSG_ERROR or NLMSG_DONE message) as the error a connection would make of it. */
export function refusalError(message: Buffer, request: { type: number; flags: number }, operation: string): NetlinkError {
  const m = parseDatagram(message).messages[0];
  const e = m.type === NLMSG_DONE ? parseDonePayload(m) : parseErrorPayload(m);
  return new NetlinkError(-e.error, { ...request, seq: m.seq }, e, operation);
}

/** An addon error of a deletion job: past the job's deadline it is a request timeout, as a connection's. */
export function deletionError(err: Error & { code?: string }, operation: string): Error {
  if (err.code === 'ETIMEDOUT') return new RequestAbortedError('ETIMEDOUT', operation, 'no complete answer from the kernel within the timeout', err);
  return fromNative(err as Parameters<typeof fromNative>[0], operation);
}

/** `ip link delete dev REF` in the namespace behind `nsFd`, settled when the link is unlisted. */
export function deleteUnlisted(nsFd: number, ref: LinkRef, operation: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    native().linkDeleteUnlisted(nsFd, typeof ref === 'number' ? ref : 0, typeof ref === 'string' ? ref : '', (err, r) => {
      if (err) reject(deletionError(err, operation));
      else if (r?.message) reject(refusalError(r.message, { type: RTM_DELLINK, flags: NLM_F_REQUEST | NLM_F_ACK }, operation));
      else resolve();
    });
  });
}

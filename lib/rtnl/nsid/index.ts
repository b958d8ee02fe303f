/**
 * RTM_*NSID messages: struct rtgenmsg and NETNSA_* attributes (<linux/net_namespace.h>).
 * @module
 */
import { AttrWriter, ByteWriter } from '../../netlink/attributes.js';
import { Schema, attr, s32, u32 } from '../../netlink/schema.js';

export const NETNSA_NSID = 1;
export const NETNSA_PID = 2;
export const NETNSA_FD = 3;
export const NETNSA_TARGET_NSID = 4;
export const NETNSA_CURRENT_NSID = 5;
/** Value of NETNSA_NSID when no id is assigned. */
export const NETNSA_NSID_NOT_ASSIGNED = -1;

export const nsidAttrs = new Schema('nsid', {
  nsid: attr(NETNSA_NSID, s32),
  pid: attr(NETNSA_PID, u32),
  fd: attr(NETNSA_FD, u32),
  targetNsid: attr(NETNSA_TARGET_NSID, s32),
  currentNsid: attr(NETNSA_CURRENT_NSID, s32),
});

/** struct rtgenmsg is one byte of family, padded to 4 on the wire. */
export function encodeNsidBody(values: Parameters<typeof nsidAttrs.encode>[1]): Buffer {
  const w = new ByteWriter(32);
  w.u8(0).zeros(3);
  nsidAttrs.encode(new AttrWriter(w), values);
  return w.toBuffer();
}

export function decodeNsidBody(payload: Buffer) {
  return nsidAttrs.decode(payload, 4);
}

/**
 * `NODE_DEBUG=netns-native`: one line on stderr for every netlink request sent and every message
 * received in answer, as users of `ip -d` or `strace -e sendmsg` expect. Through `util.debuglog`,
 * so it follows Node's NODE_DEBUG rules (`netns-*` works too).
 *
 * Decided once, when the module loads: {@link DEBUG} is a constant and the request path only tests
 * it (`if (DEBUG) ...`), so a process that did not ask for the log pays one branch per message and
 * formats nothing (docs/errors.md, "Debug log").
 * @module
 */
import { debuglog } from 'node:util';
import { NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN } from './constants.js';
import { parseDonePayload, parseErrorPayload, type NetlinkMessage } from './message.js';
import { errnoName } from '../errors.js';

const log = debuglog('netns-native');

/** Whether NODE_DEBUG asked for this library's log. */
export const DEBUG: boolean = log.enabled;

const CONTROL: Record<number, string> = { [NLMSG_NOOP]: 'NLMSG_NOOP', [NLMSG_ERROR]: 'NLMSG_ERROR', [NLMSG_DONE]: 'NLMSG_DONE', [NLMSG_OVERRUN]: 'NLMSG_OVERRUN' };

function typeName(type: number): string {
  return CONTROL[type] ?? String(type);
}

/** A request as sent: header fields, what it does, and its bytes (the whole message, in hex). */
export function logRequest(portId: number, msg: Buffer, operation: string | undefined): void {
  log(
    'port %d > seq=%d type=%s flags=0x%s len=%d%s %s',
    portId,
    msg.readUInt32LE(8),
    typeName(msg.readUInt16LE(4)),
    msg.readUInt16LE(6).toString(16),
    msg.readUInt32LE(0),
    operation ? ` (${operation})` : '',
    msg.toString('hex'),
  );
}

/** A message received: header fields, and for an error or a DONE the errno and extended ack. */
export function logAnswer(portId: number, m: NetlinkMessage): void {
  let outcome = '';
  if (m.type === NLMSG_ERROR || (m.type === NLMSG_DONE && m.payload.length >= 4)) {
    const e = m.type === NLMSG_ERROR ? parseErrorPayload(m) : parseDonePayload(m);
    outcome = e.error === 0 ? (m.type === NLMSG_ERROR ? ' ack' : '') : ` error=${e.error} ${errnoName(e.error)}${e.message ? ` "${e.message}"` : ''}`;
  }
  log('port %d < seq=%d type=%s flags=0x%s len=%d%s', portId, m.seq, typeName(m.type), m.flags.toString(16), m.payload.length + 16, outcome);
}

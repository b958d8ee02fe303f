/**
 * `ss -tunap` style text of {@link SocketEntry} values, shared by the tests (which compare it with
 * ss's own output) and the CLI.
 * @module
 */
import type { SocketEndpoint, SocketEntry, SocketState } from '../observe/sockets.js';
import { ValidationError } from '../errors.js';

/** ss's state column (ss.c's sstate_name). */
const SS_STATE: Record<SocketState, string> = {
  established: 'ESTAB',
  'syn-sent': 'SYN-SENT',
  'syn-recv': 'SYN-RECV',
  'fin-wait-1': 'FIN-WAIT-1',
  'fin-wait-2': 'FIN-WAIT-2',
  'time-wait': 'TIME-WAIT',
  close: 'UNCONN',
  'close-wait': 'CLOSE-WAIT',
  'last-ack': 'LAST-ACK',
  listen: 'LISTEN',
  closing: 'CLOSING',
  'new-syn-recv': 'SYN-RECV',
};

/** An endpoint as `ss -n` prints it: `*` for port 0, `[v6]:port`, `*` for a dual-stack IPv6 wildcard. */
export function ssEndpoint(e: SocketEndpoint, family: 4 | 6, v6only: boolean | undefined): string {
  const port = e.port === 0 ? '*' : String(e.port);
  if (family === 4) return `${e.address}:${port}`;
  if (e.address === '::' && !v6only) return `*:${port}`;
  return `[${e.address}]:${port}`;
}

/** ss's users column: users:(("cmd",pid=N,fd=N),...). Empty when no owner is known. */
export function ssUsers(s: SocketEntry): string {
  if (s.processes.length === 0) return '';
  return `users:(${s.processes.map((p) => `("${p.command}",pid=${p.pid},fd=${p.fd})`).join(',')})`;
}

/** The fields of one `ss -tunapH` line: netid, state, recv-q, send-q, local, peer, users. */
export function ssFields(s: SocketEntry): string[] {
  checkEntry(s);
  return [s.protocol, SS_STATE[s.state], String(s.recvQ), String(s.sendQ), ssEndpoint(s.local, s.family, s.v6only), ssEndpoint(s.peer, s.family, s.v6only), ssUsers(s)];
}

/** A value that is not what ns.diag.sockets() returns fails as input, not half-way through a line. */
function checkEntry(s: unknown): asserts s is SocketEntry {
  const e = s as Partial<SocketEntry> | null;
  const endpoint = (v: unknown) => typeof v === 'object' && v !== null && typeof (v as SocketEndpoint).address === 'string' && Number.isInteger((v as SocketEndpoint).port);
  if (typeof e !== 'object' || e === null || typeof e.protocol !== 'string' || !(typeof e.state === 'string' && e.state in SS_STATE) || (e.family !== 4 && e.family !== 6)
    || !endpoint(e.local) || !endpoint(e.peer) || !Array.isArray(e.processes)) {
    throw new ValidationError('socket', s, 'is not a socket entry (from ns.diag.sockets())');
  }
}

/** One line of `ss -tunap -H` (columns separated by single spaces). */
export function formatSsLine(s: SocketEntry): string {
  return ssFields(s).filter((f) => f !== '').join(' ');
}

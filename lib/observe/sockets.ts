/**
 * TCP and UDP sockets of a namespace through NETLINK_SOCK_DIAG, the way `ss -tunap` and `ss -s`
 * get them: one SOCK_DIAG_BY_FAMILY dump per protocol and family on a sock_diag socket the addon
 * opens inside the namespace (a sock_diag socket only ever sees its own namespace's sockets).
 * @module
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { ValidationError } from '../errors.js';
import { NETLINK_SOCK_DIAG } from '../netlink/constants.js';
import {
  ALL_STATES,
  IPPROTO_TCP,
  IPPROTO_UDP,
  SOCK_DIAG_BY_FAMILY,
  TCP_STATES,
  decodeInetDiagMessage,
  encodeInetDiagRequest,
  stateBit,
  type SocketState,
} from '../diag/inet_diag.js';
import { callNative } from '../native_call.js';
import { checkKeys } from '../validate/options.js';
import { contextOf, inNamespace, type NetnsHandle, type NsContext } from './target.js';
import { withJson } from '../api/json.js';

export type { SocketState };

/** One end of a socket. */
export interface SocketEndpoint {
  address: string;
  /** 0 for "any" (ss prints `*`). */
  port: number;
}

/** A process holding a socket (`ss -p`'s users:(("cmd",pid=N,fd=N))). */
export interface SocketOwner {
  pid: number;
  /** /proc/PID/comm. */
  command: string;
  fd: number;
}

/** One TCP or UDP socket, as `ss -tunap` shows it. */
export interface SocketEntry {
  protocol: 'tcp' | 'udp';
  family: 4 | 6;
  /** The kernel's state: UDP sockets are `close` (ss: UNCONN) or `established` (connected). */
  state: SocketState;
  local: SocketEndpoint;
  peer: SocketEndpoint;
  /** Bytes in the receive queue; for a listener, connections waiting for accept(). */
  recvQ: number;
  /** Bytes in the send queue; for a listener, the backlog. */
  sendQ: number;
  uid: number;
  /** Socket inode (`socket:[INODE]` in /proc/PID/fd); 0 for TIME-WAIT entries, which have no socket. */
  inode: number;
  /** The kernel's socket cookie. */
  cookie: bigint;
  /** Interface the socket is bound to (SO_BINDTODEVICE or an IPv6 scope), 0 when none. */
  ifindex: number;
  /** IPV6_V6ONLY of an IPv6 socket. */
  v6only?: boolean;
  /** Processes holding the socket, when owners were looked up (see {@link SocketListOptions.processes}). */
  processes: SocketOwner[];
}

/** Filters of {@link listSockets}. */
export interface SocketListOptions {
  /** 'tcp', 'udp' or both (default both). */
  protocol?: 'tcp' | 'udp' | ReadonlyArray<'tcp' | 'udp'>;
  /** 4, 6 or both (default both). */
  family?: 4 | 6;
  /** Only these states (filtered by the kernel). */
  state?: SocketState | readonly SocketState[];
  /** Local or peer port equal to this. */
  port?: number;
  /** Local port equal to this (`ss sport = :N`). */
  localPort?: number;
  /** Peer port equal to this (`ss dport = :N`). */
  peerPort?: number;
  /**
   * Look up owning processes (`ss -p`) by matching socket inodes against /proc/PID/fd of the
   * processes that live in the namespace and of this process (which makes sockets in namespaces
   * through the addon). Default true.
   */
  processes?: boolean;
}

/** Counts like `ss -s` prints them, computed from one dump. */
export interface SocketSummary {
  tcp: {
    /** Every TCP socket the dump returned, TIME-WAIT included. */
    total: number;
    /** Sockets in the kernel's hash tables (not TIME-WAIT, not CLOSE): ss -s's Transport TCP row. */
    hashed: { total: number; ipv4: number; ipv6: number };
    established: number;
    listen: number;
    timeWait: number;
    closed: number;
    /** Per state. */
    byState: Partial<Record<SocketState, number>>;
  };
  udp: { total: number; ipv4: number; ipv6: number };
}

const AF_INET = 2;
const AF_INET6 = 10;

/**
 * The TCP and UDP sockets of the namespace (IPv4 and IPv6), with state, endpoints, queues, uid,
 * inode and the owning processes. The dumps run on a sock_diag socket made inside the namespace.
 *
 * Equivalent to: `ip netns exec NS ss -tunap` (filters: `ss -t|-u`, `-4|-6`, `state S`, `sport/dport = :N`)
 * @example
 * ```ts
 * import { listSockets } from 'netns-native';
 * const listeners = await listSockets(ns, { protocol: 'tcp', state: 'listen' });
 * for (const s of listeners) console.log(s.local.port, s.processes.map((p) => p.command));
 * ```
 */
export async function listSockets(target: NetnsHandle | NsContext, options: SocketListOptions = {}): Promise<SocketEntry[]> {
  const ctx = contextOf(target);
  const f = checkOptions(options);
  const op = `ss -tuna${f.processes ? 'p' : ''}${inNamespace(ctx)}`;
  const entries = await dumpSockets(ctx, f.protocols, f.families, f.states, op);
  const out = entries.filter(
    (s) =>
      (f.port === undefined || s.local.port === f.port || s.peer.port === f.port) &&
      (f.localPort === undefined || s.local.port === f.localPort) &&
      (f.peerPort === undefined || s.peer.port === f.peerPort),
  );
  if (f.processes) {
    const owners = await socketOwners(ctx);
    for (const s of out) if (s.inode !== 0) s.processes = owners.get(s.inode) ?? [];
  }
  return out;
}

/**
 * Socket counts of the namespace, like the TCP line and the Transport table of `ss -s`.
 *
 * Equivalent to: `ip netns exec NS ss -s`
 * @example
 * ```ts
 * import { socketSummary } from 'netns-native';
 * const { tcp, udp } = await socketSummary(ns);
 * console.log(`TCP: ${tcp.total} (estab ${tcp.established}, timewait ${tcp.timeWait}), UDP: ${udp.total}`);
 * ```
 */
export async function socketSummary(target: NetnsHandle | NsContext): Promise<SocketSummary> {
  const all = await dumpSockets(contextOf(target), ['tcp', 'udp'], [4, 6], ALL_STATES, 'ss -s');
  const s: SocketSummary = {
    tcp: { total: 0, hashed: { total: 0, ipv4: 0, ipv6: 0 }, established: 0, listen: 0, timeWait: 0, closed: 0, byState: {} },
    udp: { total: 0, ipv4: 0, ipv6: 0 },
  };
  for (const e of all) {
    if (e.protocol === 'udp') {
      s.udp.total++;
      if (e.family === 4) s.udp.ipv4++;
      else s.udp.ipv6++;
      continue;
    }
    s.tcp.total++;
    s.tcp.byState[e.state] = (s.tcp.byState[e.state] ?? 0) + 1;
    if (e.state === 'established') s.tcp.established++;
    else if (e.state === 'listen') s.tcp.listen++;
    else if (e.state === 'time-wait') s.tcp.timeWait++;
    else if (e.state === 'close') s.tcp.closed++;
    if (e.state !== 'time-wait' && e.state !== 'close') {
      s.tcp.hashed.total++;
      if (e.family === 4) s.tcp.hashed.ipv4++;
      else s.tcp.hashed.ipv6++;
    }
  }
  return s;
}

async function dumpSockets(
  ctx: NsContext,
  protocols: ReadonlyArray<'tcp' | 'udp'>,
  families: ReadonlyArray<4 | 6>,
  states: number,
  op: string,
): Promise<SocketEntry[]> {
  // The handle's sock_diag connection: opened on first use, closed with the handle.
  const conn = await ctx.connection(NETLINK_SOCK_DIAG);
  const out: SocketEntry[] = [];
  // One dump at a time per socket (the kernel's rule); the connection queues them in order.
  const dumps = protocols.flatMap((protocol) =>
    families.map(async (family) => {
      const proto = protocol === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP;
      const msgs = await conn.dump(SOCK_DIAG_BY_FAMILY, encodeInetDiagRequest(family === 4 ? AF_INET : AF_INET6, proto, states), op);
      return msgs.filter((m) => m.type === SOCK_DIAG_BY_FAMILY).map((m) => toEntry(protocol, decodeInetDiagMessage(m.payload)));
    }),
  );
  for (const list of await Promise.all(dumps)) out.push(...list);
  return out;
}

function toEntry(protocol: 'tcp' | 'udp', m: ReturnType<typeof decodeInetDiagMessage>): SocketEntry {
  const e: SocketEntry = {
    protocol,
    family: m.family === AF_INET ? 4 : 6,
    // NEW_SYN_RECV is the kernel's request socket for a SYN-RECV connection; ss shows it as SYN-RECV.
    state: m.state === 12 ? 'syn-recv' : (TCP_STATES[m.state] ?? 'close'),
    local: { address: m.source, port: m.sourcePort },
    peer: { address: m.destination, port: m.destinationPort },
    recvQ: m.rqueue,
    sendQ: m.wqueue,
    uid: m.uid,
    inode: m.inode,
    cookie: m.cookie,
    ifindex: m.ifindex,
    processes: [],
  };
  if (m.v6only !== undefined) e.v6only = m.v6only;
  return withJson(e);
}

/** socket inode -> holders, over the processes in the namespace and this process. */
async function socketOwners(ctx: NsContext): Promise<Map<number, SocketOwner[]>> {
  const fd = ctx.fd();
  const pids = new Set(await callNative<number[]>('ip netns pids', (a, cb) => a.nsPids(fd, cb)));
  pids.add(process.pid);
  const out = new Map<number, SocketOwner[]>();
  await Promise.all(
    [...pids].map(async (pid) => {
      let command: string;
      let fds: string[];
      try {
        command = (await readFile(`/proc/${pid}/comm`, 'utf8')).trimEnd();
        fds = await readdir(`/proc/${pid}/fd`);
      } catch {
        return; // exited
      }
      for (const n of fds) {
        let link: string;
        try {
          link = await readlink(`/proc/${pid}/fd/${n}`);
        } catch {
          continue;
        }
        const m = /^socket:\[(\d+)\]$/.exec(link);
        if (!m) continue;
        const ino = Number(m[1]);
        const list = out.get(ino) ?? [];
        list.push({ pid, command, fd: Number(n) });
        out.set(ino, list);
      }
    }),
  );
  for (const list of out.values()) list.sort((a, b) => a.pid - b.pid || a.fd - b.fd);
  return out;
}

interface Checked {
  protocols: ReadonlyArray<'tcp' | 'udp'>;
  families: ReadonlyArray<4 | 6>;
  states: number;
  port?: number;
  localPort?: number;
  peerPort?: number;
  processes: boolean;
}

function checkOptions(o: SocketListOptions): Checked {
  checkKeys('', o, ['protocol', 'family', 'state', 'port', 'localPort', 'peerPort', 'processes']);
  const protocols = o.protocol === undefined ? (['tcp', 'udp'] as const) : Array.isArray(o.protocol) ? o.protocol : [o.protocol as 'tcp' | 'udp'];
  if (protocols.length === 0 || protocols.some((p) => p !== 'tcp' && p !== 'udp')) throw new ValidationError('protocol', o.protocol, "must be 'tcp', 'udp' or a list of them");
  if (o.family !== undefined && o.family !== 4 && o.family !== 6) throw new ValidationError('family', o.family, 'must be 4 or 6');
  let states = ALL_STATES;
  if (o.state !== undefined) {
    const list = Array.isArray(o.state) ? o.state : [o.state];
    if (list.length === 0) throw new ValidationError('state', o.state, 'must name at least one state');
    states = 0;
    for (const s of list) {
      if (typeof s !== 'string' || s === 'new-syn-recv' || !TCP_STATES.includes(s as SocketState)) {
        throw new ValidationError('state', s, `is not a socket state (${TCP_STATES.filter((x) => x).join(', ')})`);
      }
      states |= stateBit(s as SocketState);
    }
    // Embryonic connections are listed with their listener's SYN-RECV in ss; the kernel keeps them as NEW_SYN_RECV.
    if (states & stateBit('syn-recv')) states |= stateBit('new-syn-recv');
  }
  for (const k of ['port', 'localPort', 'peerPort'] as const) {
    const v = o[k];
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 65535)) throw new ValidationError(k, v, 'must be a port number 0-65535');
  }
  if (o.processes !== undefined && typeof o.processes !== 'boolean') throw new ValidationError('processes', o.processes, 'must be a boolean');
  return {
    protocols,
    families: o.family === undefined ? [4, 6] : [o.family],
    states: states >>> 0,
    port: o.port,
    localPort: o.localPort,
    peerPort: o.peerPort,
    processes: o.processes ?? true,
  };
}

/**
 * TCP and UDP sockets that live in a namespace, as real Node objects: `net.Server`, `net.Socket`,
 * `dgram.Socket`. The addon creates the fd on a worker thread that has entered the namespace (a
 * socket belongs for life to the namespace it was created in); Node then wraps the fd and does
 * everything else (listen, connect, I/O) on its own threads, which never change namespace.
 *
 * Hosts must be IP literals: a name would be resolved by Node in the process's own namespace (its
 * /etc/resolv.conf and routes), not in the target one.
 * @module
 */
import cluster from 'node:cluster';
import dgram from 'node:dgram';
import { closeSync } from 'node:fs';
import net from 'node:net';
import { NetnsError, RequestAbortedError, SystemError, ValidationError, fromNodeError, withCallerFrames } from '../errors.js';
import type { NativeInetSocketOptions } from '../native.js';
import { parseIp, type IpFamily } from '../validate/ip.js';
import { validateIntRange } from '../validate/link.js';
import { abortSignal, checkKeys } from '../validate/options.js';
import { callNative } from '../native_call.js';
import type { NsContext } from '../api/context.js';

/** Where a server listens inside the namespace (`server.listen()` options that make sense there). */
export interface NsListenOptions {
  /** TCP port; 0 or absent lets the kernel choose (read it back with `server.address()`). */
  port?: number;
  /**
   * IP literal to bind. Absent: `::` dual-stack (IPv4 too), or `0.0.0.0` when IPv6 is unavailable,
   * as Node's own default.
   */
  host?: string;
  /** listen(2) backlog (Node's default 511). */
  backlog?: number;
  /** With an IPv6 host: accept IPv6 only (IPV6_V6ONLY). */
  ipv6Only?: boolean;
  /** SO_REUSEPORT, to share the port with other sockets of the same namespace. */
  reusePort?: boolean;
  /**
   * As `server.listen`'s: when it fires the server is closed. Already aborted: the call rejects with
   * code 'ABORT_ERR' and no socket is made.
   */
  signal?: AbortSignal;
}

/** {@link NsListenOptions} plus the options of `net.createServer`. */
export interface NsServerOptions extends NsListenOptions, net.ServerOpts {}

/** Where a connection goes, from inside the namespace. */
export interface NsConnectOptions {
  /** Remote port (1..65535). */
  port: number;
  /** Remote IP literal (no names: they would resolve in the process's own namespace). */
  host: string;
  /** Local IP literal to bind before connecting (same family as `host`). */
  localAddress?: string;
  /** Local port to bind before connecting. */
  localPort?: number;
  /** Give up connecting after this many milliseconds: the promise rejects with code 'ETIMEDOUT'. */
  connectTimeout?: number;
  /** As `net.Socket`'s option. */
  allowHalfOpen?: boolean;
  /** As `net.connect`'s option: TCP_NODELAY once connected. */
  noDelay?: boolean;
  /** As `net.connect`'s option: SO_KEEPALIVE once connected. */
  keepAlive?: boolean;
  /** As `net.connect`'s option, in milliseconds. */
  keepAliveInitialDelay?: number;
  /**
   * As `net.connect`'s: when it fires the socket is destroyed; while connecting, the promise
   * rejects with code 'ABORT_ERR' (already aborted: before any socket is made).
   */
  signal?: AbortSignal;
}

/** A UDP socket bound inside the namespace. */
export interface NsUdpOptions {
  type: 'udp4' | 'udp6';
  /** IP literal of the socket's family to bind; default `0.0.0.0` / `::`. */
  address?: string;
  /** Port to bind; 0 or absent lets the kernel choose. */
  port?: number;
  /** SO_REUSEADDR before bind. */
  reuseAddr?: boolean;
  /** SO_REUSEPORT before bind. */
  reusePort?: boolean;
  /** For `udp6`: IPv6 only (IPV6_V6ONLY). Default false: dual-stack, as Node's default. */
  ipv6Only?: boolean;
  /** As `dgram.createSocket`'s options. */
  recvBufferSize?: number;
  sendBufferSize?: number;
  /** As `dgram.createSocket`'s: when it fires the socket is closed. Already aborted: rejects with 'ABORT_ERR'. */
  signal?: AbortSignal;
}

interface Endpoint {
  family: IpFamily;
  bytes: Buffer;
  text: string;
}

function ipLiteral(v: unknown, field: string): Endpoint {
  if (typeof v === 'string' && v.includes('%')) {
    throw new ValidationError(field, v, 'must not carry a zone (%ifname): the name would be looked up outside the namespace');
  }
  if (typeof v === 'string' && net.isIP(v) === 0) {
    throw new ValidationError(field, v, 'must be an IP literal: a host name would be resolved in the process\'s own namespace, not this one');
  }
  const { bytes, family } = parseIp(v as string, field);
  return { family, bytes, text: v as string };
}

function optionalBool(v: unknown, field: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new ValidationError(field, v, 'must be a boolean');
  return v;
}

function createFd(ns: NsContext, opts: NativeInetSocketOptions, operation: string): Promise<number> {
  const fd = ns.fd();
  return callNative<number>(operation, (a, cb) => a.inetSocket(fd, opts, cb));
}

const LISTEN_KEYS = ['port', 'host', 'backlog', 'ipv6Only', 'reusePort', 'signal'] as const;

/** Rejection for a signal that has already fired when the call is made. */
function abortedBefore(signal: AbortSignal | undefined, operation: string): void {
  if (signal?.aborted) throw new RequestAbortedError('ABORT_ERR', operation, 'aborted before any socket was made', signal.reason);
}

/** See {@link Netns.listen}. */
export async function listenIn(ns: NsContext, server: net.Server, opts: NsListenOptions = {}): Promise<net.Server> {
  if (!(server instanceof net.Server)) throw new ValidationError('server', server, 'must be a net.Server (or an http/https server)');
  if (typeof opts !== 'object' || opts === null) throw new ValidationError('listen options', opts, 'must be an object');
  checkKeys('', opts, LISTEN_KEYS);
  const port = opts.port === undefined ? 0 : validateIntRange('port', opts.port, 0, 65535);
  const backlog = opts.backlog === undefined ? undefined : validateIntRange('backlog', opts.backlog, 1, 0x7fffffff);
  const ipv6Only = optionalBool(opts.ipv6Only, 'ipv6Only');
  const reusePort = optionalBool(opts.reusePort, 'reusePort');
  const host = opts.host === undefined ? undefined : ipLiteral(opts.host, 'host');
  const signal = abortSignal(opts.signal);
  if (server.listening) throw new NetnsError('the server is already listening', { code: 'ERR_SERVER_ALREADY_LISTEN' });
  if (cluster.isWorker) {
    // Node hands listen({ fd }) of a cluster worker to the primary, where our fd number means nothing.
    throw new NetnsError('listening inside a namespace is not supported in a cluster worker', { code: 'ERR_CLUSTER_WORKER' });
  }

  const label = ns.describe();
  abortedBefore(signal, `listen in ${label}`);
  const make = (h: Endpoint): Promise<number> =>
    createFd(ns, { family: h.family, type: 'stream', address: h.bytes, port, reuseAddr: true, reusePort, ipv6Only }, `listen in ${label} on ${h.family === 6 ? `[${h.text}]` : h.text}:${port}`);
  let fd: number;
  if (host) {
    fd = await make(host);
  } else {
    try {
      fd = await make(ipLiteral('::', 'host'));
    } catch (e) {
      if (!(e instanceof NetnsError) || e.code !== 'EAFNOSUPPORT') throw e;
      fd = await make(ipLiteral('0.0.0.0', 'host'));
    }
  }

  return withCallerFrames(new Promise<net.Server>((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(fromNodeError(err, `listen in ${label}`));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve(server);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    try {
      // Node closes the server when the signal fires, as for any listen({ signal }).
      server.listen({ fd, ...(backlog === undefined ? {} : { backlog }), ...(signal ? { signal } : {}) });
    } catch (e) {
      // Thrown before Node opened a handle on the fd: it is still ours to close.
      server.off('error', onError);
      server.off('listening', onListening);
      closeSync(fd);
      reject(fromNodeError(e, `listen in ${label}`));
    }
  }));
}

/** See {@link Netns.createServer}. */
export async function createServerIn(ns: NsContext, opts: NsServerOptions = {}, connectionListener?: (socket: net.Socket) => void): Promise<net.Server> {
  if (typeof opts !== 'object' || opts === null) throw new ValidationError('server options', opts, 'must be an object');
  const listen: Record<string, unknown> = {};
  const serverOpts: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts)) ((LISTEN_KEYS as readonly string[]).includes(k) ? listen : serverOpts)[k] = v;
  const server = net.createServer(serverOpts as net.ServerOpts, connectionListener);
  return listenIn(ns, server, listen as NsListenOptions);
}

const CONNECT_KEYS = ['port', 'host', 'localAddress', 'localPort', 'connectTimeout', 'allowHalfOpen', 'noDelay', 'keepAlive', 'keepAliveInitialDelay', 'signal'] as const;

/** See {@link Netns.connect}. */
export async function connectIn(ns: NsContext, opts: NsConnectOptions, connectListener?: () => void): Promise<net.Socket> {
  if (typeof opts !== 'object' || opts === null) throw new ValidationError('connect options', opts, 'must be an object');
  checkKeys('', opts, CONNECT_KEYS);
  const remote = ipLiteral(opts.host, 'host');
  const port = validateIntRange('port', opts.port, 1, 65535);
  const local = opts.localAddress === undefined ? undefined : ipLiteral(opts.localAddress, 'localAddress');
  if (local && local.family !== remote.family) throw new ValidationError('localAddress', opts.localAddress, `must be an IPv${remote.family} address like host`);
  const localPort = opts.localPort === undefined ? undefined : validateIntRange('localPort', opts.localPort, 0, 65535);
  const timeout = opts.connectTimeout === undefined ? undefined : validateIntRange('connectTimeout', opts.connectTimeout, 1, 0x7fffffff);
  const allowHalfOpen = optionalBool(opts.allowHalfOpen, 'allowHalfOpen');
  const noDelay = optionalBool(opts.noDelay, 'noDelay');
  const keepAlive = optionalBool(opts.keepAlive, 'keepAlive');
  const keepAliveInitialDelay = opts.keepAliveInitialDelay === undefined ? undefined : validateIntRange('keepAliveInitialDelay', opts.keepAliveInitialDelay, 0, 0x7fffffff);
  const signal = abortSignal(opts.signal);

  const label = ns.describe();
  const operation = `connect from ${label} to ${remote.family === 6 ? `[${remote.text}]` : remote.text}:${port}`;
  abortedBefore(signal, operation);
  const fd = await createFd(ns, { family: remote.family, type: 'stream' }, operation);

  let socket: net.Socket;
  try {
    // manualStart: do not start reading an fd that is not connected yet; Node starts reading once
    // 'connect' fires. (Were the option ignored, connect() below still runs in this same tick.)
    // With `signal`, Node destroys the socket when it fires (an AbortError), connected or not.
    socket = new net.Socket({ fd, allowHalfOpen, manualStart: true, ...(signal ? { signal } : {}) } as net.SocketConstructorOpts);
  } catch (e) {
    closeSync(fd);
    throw fromNodeError(e, operation);
  }
  if (connectListener) socket.once('connect', connectListener);

  return withCallerFrames(new Promise<net.Socket>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      if (timer) clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('error', onError);
    };
    const onConnect = (): void => {
      done();
      resolve(socket);
    };
    const onError = (err: Error): void => {
      done();
      reject(err.name === 'AbortError' ? new RequestAbortedError('ABORT_ERR', operation, 'aborted while connecting', signal?.reason ?? err) : fromNodeError(err, operation));
    };
    socket.once('connect', onConnect);
    socket.once('error', onError);
    if (timeout !== undefined) {
      timer = setTimeout(() => {
        done();
        socket.destroy();
        reject(new SystemError(`${operation}: connection timed out after ${timeout} ms`, { code: 'ETIMEDOUT', errno: 110, syscall: 'connect', operation }));
      }, timeout);
    }
    try {
      // An IP literal: Node connects on the existing handle (no lookup, no happy-eyeballs handles).
      socket.connect({
        port,
        host: remote.text,
        ...(local ? { localAddress: local.text } : {}),
        ...(localPort !== undefined ? { localPort } : {}),
        noDelay,
        keepAlive,
        ...(keepAliveInitialDelay !== undefined ? { keepAliveInitialDelay } : {}),
      });
    } catch (e) {
      done();
      socket.destroy(); // Node owns the fd now: destroying the socket closes it
      reject(fromNodeError(e, operation));
    }
  }));
}

const UDP_KEYS = ['type', 'address', 'port', 'reuseAddr', 'reusePort', 'ipv6Only', 'recvBufferSize', 'sendBufferSize', 'signal'] as const;

/** See {@link Netns.createUdpSocket}. */
export async function createUdpSocketIn(ns: NsContext, opts: NsUdpOptions, messageListener?: (msg: Buffer, rinfo: dgram.RemoteInfo) => void): Promise<dgram.Socket> {
  if (typeof opts !== 'object' || opts === null) throw new ValidationError('udp options', opts, 'must be an object');
  checkKeys('', opts, UDP_KEYS);
  if (opts.type !== 'udp4' && opts.type !== 'udp6') throw new ValidationError('type', opts.type, "must be 'udp4' or 'udp6'");
  const family: IpFamily = opts.type === 'udp4' ? 4 : 6;
  const address = ipLiteral(opts.address ?? (family === 4 ? '0.0.0.0' : '::'), 'address');
  if (address.family !== family) throw new ValidationError('address', opts.address, `must be an IPv${family} address for ${opts.type}`);
  const port = opts.port === undefined ? 0 : validateIntRange('port', opts.port, 0, 65535);
  const reuseAddr = optionalBool(opts.reuseAddr, 'reuseAddr');
  const reusePort = optionalBool(opts.reusePort, 'reusePort');
  const ipv6Only = optionalBool(opts.ipv6Only, 'ipv6Only');
  const sizes: { recvBufferSize?: number; sendBufferSize?: number } = {};
  if (opts.recvBufferSize !== undefined) sizes.recvBufferSize = validateIntRange('recvBufferSize', opts.recvBufferSize, 1, 0x7fffffff);
  if (opts.sendBufferSize !== undefined) sizes.sendBufferSize = validateIntRange('sendBufferSize', opts.sendBufferSize, 1, 0x7fffffff);
  const signal = abortSignal(opts.signal);

  const label = ns.describe();
  const operation = `udp bind in ${label} on ${family === 6 ? `[${address.text}]` : address.text}:${port}`;
  abortedBefore(signal, operation);
  const fd = await createFd(ns, { family, type: 'dgram', address: address.bytes, port, reuseAddr, reusePort, ipv6Only }, operation);
  if (signal?.aborted) {
    // Fired while the fd was being made: dgram would close the socket before bind() could own the fd.
    closeSync(fd);
    throw new RequestAbortedError('ABORT_ERR', operation, 'aborted', signal.reason);
  }
  const socket = dgram.createSocket({ type: opts.type, ...sizes, ...(signal ? { signal } : {}) }, messageListener);
  try {
    // dgram opens the fd and emits 'listening' synchronously; exclusive keeps cluster out of it.
    socket.bind({ fd, exclusive: true });
  } catch (e) {
    closeSync(fd);
    socket.close();
    throw fromNodeError(e, operation);
  }
  return socket;
}

/**
 * The resident CNI agent (docs/cni.md "The agent and its shim"): the "thick plugin" pattern. The
 * executable a runtime runs (native/cni_shim.c, installed as `netns-native-bridge`) is a small
 * native program that hands each invocation over a unix socket to this agent, which runs it
 * in-process ({@link invoke}, what the Node.js executable runs) and sends back what the plugin
 * would print and its exit status. Node.js starts once, not twice per ADD+DEL.
 *
 * Wire format (native/cni_agent_ops.h), integers in the machine's byte order:
 * request  `[magic, version, envLength, stdinLength]` (4 × u32), then the shim's `CNI_*=value\0`
 *          entries, then its stdin; the first bytes carry the shim's network namespace fd
 *          (SCM_RIGHTS), the namespace the runtime ran the plugin in: the host side goes there,
 *          never into the agent's own namespace.
 * reply    `[magic, status, stdoutLength, stderrLength]` (u32, i32, u32, u32), then the bytes. Status
 *          is the exit status, or -1: "run the Node.js plugin yourself" (a delegated IPAM type,
 *          which the executable runs from CNI_PATH in its own namespace).
 * @module
 */
import { closeSync, lstatSync, mkdirSync, statSync, chmodSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { Netns } from '../api/netns/index.js';
import { NetnsError, ValidationError } from '../errors.js';
import { checkKeys } from '../validate/options.js';
import { callNative } from '../native_call.js';
import type { NativeCniShimRequest } from '../native.js';
import { IN_PROCESS_IPAM } from './ipam/index.js';
import { invoke, type PluginOutput } from './main.js';

/** Where the agent listens and the shim connects when NETNS_NATIVE_CNI_SOCKET is not set. */
export const DEFAULT_AGENT_SOCKET = '/run/netns-native/cni.sock';

const MAGIC = 0x41434e4e;
const STATUS_FALLBACK = -1;

/** Options of {@link startAgent}. */
export interface CniAgentOptions {
  /** The socket's path (default {@link DEFAULT_AGENT_SOCKET}); its directory is made 0700 when missing and must be private to this user. */
  socketPath?: string;
  /** How long a shim may take to send its request (default 10 s); a slower one is dropped and runs the Node.js plugin. */
  receiveTimeoutMs?: number;
  /** Called with failures of the agent's own plumbing (a connection that went wrong); default: ignored. */
  onError?: (err: Error) => void;
}

/** A running agent: {@link startAgent}. */
export interface CniAgent {
  readonly socketPath: string;
  /** Invocations answered so far, and how many of them were sent back to the shim to run itself. */
  readonly stats: { requests: number; fallbacks: number };
  /** Stop accepting, unlink the socket, and wait for the invocations in progress to finish. */
  close(): Promise<void>;
}

const ALLOWED_OPTIONS = ['socketPath', 'receiveTimeoutMs', 'onError'] as const;

function reply(status: number, out: PluginOutput | undefined): Buffer {
  const stdout = Buffer.from(out?.stdout ?? '');
  const stderr = Buffer.from(out?.stderr ?? '');
  const head = Buffer.alloc(16);
  const view = new DataView(head.buffer, head.byteOffset, 16);
  const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  view.setUint32(0, MAGIC, le);
  view.setInt32(4, status, le);
  view.setUint32(8, stdout.length, le);
  view.setUint32(12, stderr.length, le);
  return Buffer.concat([head, stdout, stderr]);
}

/**
 * Send the reply and close. The connection was accepted paused and is never read, so Node would
 * never see the shim's end and the half-closed socket would stay open: it is destroyed once the
 * reply is with the kernel (the shim still reads what is queued, then the end).
 */
function answer(sock: Socket, data: Buffer): void {
  sock.end(data, () => sock.destroy());
}

function parseEnv(raw: Buffer): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of raw.toString('utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0 && entry.startsWith('CNI_')) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/** Whether the configuration names an IPAM plugin to execute (the shim runs those itself). */
function delegatesIpam(stdin: Buffer): boolean {
  try {
    const type = (JSON.parse(stdin.toString('utf8')) as { ipam?: { type?: unknown } }).ipam?.type;
    return typeof type === 'string' && type !== '' && !IN_PROCESS_IPAM.has(type);
  } catch {
    return false; // the plugin itself reports the decoding error
  }
}

/** The socket's directory: made 0700 when missing; an existing one must be ours and private. */
function prepareDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = statSync(dir);
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new NetnsError(`CNI agent: ${dir} must be a directory of uid ${uid} with mode 0700 (it holds the socket through which the host namespace is configured)`, { code: 'EPERM', path: dir });
  }
}

/** A socket file left by an agent that died is removed; a live agent's is an error. */
async function removeStaleSocket(path: string): Promise<void> {
  try {
    if (!lstatSync(path).isSocket()) throw new NetnsError(`CNI agent: ${path} exists and is not a socket`, { code: 'EEXIST', path });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  const live = await new Promise<boolean>((resolve) => {
    const s = createConnection(path);
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
  if (live) throw new NetnsError(`CNI agent: another agent listens on ${path}`, { code: 'EADDRINUSE', path });
  unlinkSync(path);
}

/**
 * Start the resident CNI agent: answer the `netns-native-bridge` shim's invocations in this process
 * (docs/cni.md "The agent and its shim"). The `netns-native-cni-agent` executable runs this until
 * SIGTERM.
 *
 * Equivalent to: running the plugin executable for every invocation (`CNI_COMMAND=ADD netns-native-bridge < conf`), without a process per invocation.
 * @example
 * ```ts
 * import { cni } from 'netns-native';
 * const agent = await cni.startAgent({ socketPath: '/run/netns-native/cni.sock' });
 * process.on('SIGTERM', () => void agent.close());
 * ```
 * @throws {@link NetnsError} 'EADDRINUSE' when another agent answers on the socket, 'EPERM' when its directory is not private.
 */
export async function startAgent(options: CniAgentOptions = {}): Promise<CniAgent> {
  checkKeys('options', options, ALLOWED_OPTIONS);
  const socketPath = options.socketPath ?? DEFAULT_AGENT_SOCKET;
  const timeout = options.receiveTimeoutMs ?? 10_000;
  if (!Number.isInteger(timeout) || timeout <= 0 || timeout > 0x7fffffff) throw new ValidationError('receiveTimeoutMs', timeout, 'must be a positive integer (milliseconds)');
  if (typeof socketPath !== 'string' || !socketPath.startsWith('/') || socketPath.includes('\0') || Buffer.byteLength(socketPath) > 107) throw new ValidationError('socketPath', socketPath, 'must be an absolute path of at most 107 bytes');
  const onError = options.onError ?? (() => undefined);
  prepareDirectory(dirname(socketPath));
  await removeStaleSocket(socketPath);

  const stats = { requests: 0, fallbacks: 0 };
  const inFlight = new Set<Promise<void>>();
  const uid = process.getuid?.() ?? 0;

  // Invocations for one attachment (container id, interface) run one after the other, in the order
  // they came. A runtime whose plugin was killed mid-ADD (its timeout) sends DEL at once, while the
  // agent is still finishing that ADD: the DEL must see what the ADD made (docs/cni.md, "The agent
  // and its shim"). Separate processes never overlap that way: a killed plugin stops.
  const lanes = new Map<string, Promise<unknown>>();
  function serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = lanes.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    lanes.set(key, tail);
    void tail.then(() => { if (lanes.get(key) === tail) lanes.delete(key); });
    return run;
  }

  async function serve(sock: Socket): Promise<void> {
    sock.on('error', () => undefined); // a shim that died: nothing to tell it
    const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) {
      sock.destroy();
      return;
    }
    let req: NativeCniShimRequest;
    try {
      req = await callNative<NativeCniShimRequest>(`receive a CNI shim request on ${socketPath}`, (a, cb) => a.cniShimReceive(fd, timeout, cb));
    } catch (e) {
      onError(e as Error);
      sock.destroy();
      return;
    }
    let host: Netns | undefined;
    try {
      // Only our own user (root on a node) may have the host namespace configured for it.
      if (req.uid !== uid) {
        onError(new NetnsError(`CNI agent: refused a request of uid ${req.uid} (pid ${req.pid})`, { code: 'EPERM' }));
        sock.destroy();
        return;
      }
      stats.requests++;
      if (req.nsFd < 0 || delegatesIpam(req.stdin)) {
        stats.fallbacks++;
        answer(sock, reply(STATUS_FALLBACK, undefined));
        return;
      }
      // The fd stays open until the invocation is over, so the handle's path names it throughout.
      host = await Netns.open(`/proc/self/fd/${req.nsFd}`);
      const stdin = req.stdin;
      const env = parseEnv(req.env);
      const hostNs = host;
      const out = await serialized(`${env.CNI_CONTAINERID ?? ''}\0${env.CNI_IFNAME ?? ''}`, () =>
        invoke('bridge', env, { read: async () => stdin, isCharacterDevice: () => false }, hostNs));
      answer(sock, reply(out.code, out));
    } catch (e) {
      // The agent's own failure (not the plugin's: invoke() reports those): the shim runs the plugin.
      onError(e as Error);
      stats.fallbacks++;
      answer(sock, reply(STATUS_FALLBACK, undefined));
    } finally {
      await host?.close().catch(() => undefined);
      if (req.nsFd >= 0) closeSync(req.nsFd);
    }
  }

  const server: Server = createServer({ pauseOnConnect: true }, (sock) => {
    const p = serve(sock).catch((e: unknown) => onError(e as Error));
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(socketPath, 0o600);
  const ino = statSync(socketPath).ino;
  server.on('error', (e) => onError(e));

  let closing: Promise<void> | undefined;
  return {
    socketPath,
    stats,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        // Node unlinks the path when its server closes; a path another agent took over is left alone.
        try {
          if (statSync(socketPath).ino === ino) unlinkSync(socketPath);
        } catch {
          // already gone
        }
        await Promise.all([...inFlight]);
      })();
      return closing;
    },
  };
}

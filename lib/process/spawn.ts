/**
 * Processes inside a namespace with `ip netns exec` semantics and no helper program: the addon forks
 * on one of its worker threads and the child enters the namespace itself (see docs/threading.md).
 * @module
 */
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { NetnsError, RequestAbortedError, ValidationError, fromNative, withCallerFrames } from '../errors.js';
import { native, type NativeError, type NativeSpawned } from '../native.js';
import { abortSignal, checkKeys } from '../validate/options.js';
import type { NsContext } from '../api/context.js';

/** What a child's fd 0, 1 or 2 is connected to. */
export type StdioMode = 'pipe' | 'inherit' | 'ignore';

/** Options of {@link Netns.spawn}. */
export interface SpawnOptions {
  /**
   * Variables for the child, applied over `process.env` (or over nothing with `inheritEnv: false`).
   * A key set to `undefined` is removed.
   */
  env?: Record<string, string | undefined>;
  /** Start from `process.env` (default) or from an empty environment. */
  inheritEnv?: boolean;
  /** Working directory of the child (resolved inside its mount namespace); default: this process's. */
  cwd?: string;
  /**
   * `'pipe'` (default): a stream in the handle; `'inherit'`: this process's own fd; `'ignore'`:
   * /dev/null. One mode for all three, or one per fd.
   */
  stdio?: StdioMode | readonly [StdioMode, StdioMode, StdioMode];
  /** argv[0] of the child; default: `command`. */
  argv0?: string;
  /**
   * As `child_process.spawn`'s: when it fires the child is sent `killSignal` (its exit is still
   * reported by `exited`); already aborted, nothing is started and the call rejects with
   * code 'ABORT_ERR'. `exec` then rejects with 'ABORT_ERR' once the child has been reaped.
   */
  signal?: AbortSignal;
  /** Signal for `signal` (and `exec`'s `timeout` and `maxBuffer`); default `'SIGTERM'`. */
  killSignal?: NodeJS.Signals | number;
}

/** How a child ended: `code` for a normal exit, `signal` when a signal killed it. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Options of {@link Netns.exec}. */
export interface ExecOptions extends Omit<SpawnOptions, 'stdio'> {
  /** Written to the child's stdin, which is then closed. Without it stdin is closed at once. */
  input?: string | Uint8Array;
  /** Kill the child with `killSignal` after this many milliseconds (0: never, the default). */
  timeout?: number;
  /**
   * Most bytes kept of stdout and of stderr each (default 64 MiB). Beyond it the child is killed
   * and `exec` rejects with code `'ERR_CHILD_PROCESS_STDIO_MAXBUFFER'`.
   */
  maxBuffer?: number;
}

/** What {@link Netns.exec} resolves: the output (UTF-8) and how the child ended. */
export interface ExecResult extends ExitStatus {
  stdout: string;
  stderr: string;
  /** True when `timeout` fired and the child was sent `killSignal`. */
  timedOut: boolean;
}

/** PATH when the child's environment has none (glibc's confstr(_CS_PATH) plus the sbin dirs). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const SPAWN_KEYS = ['env', 'inheritEnv', 'cwd', 'stdio', 'argv0', 'signal', 'killSignal'] as const;
const EXEC_KEYS = [...SPAWN_KEYS.filter((k) => k !== 'stdio'), 'input', 'timeout', 'maxBuffer'] as const;
const STDIO_MODES: Record<StdioMode, number> = { pipe: 0, inherit: 1, ignore: 2 };
const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(
  Object.entries(osConstants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);

/**
 * A process running inside a network namespace, returned by {@link Netns.spawn}. Like Node's
 * `ChildProcess`: streams for the piped fds, the PID, a way to signal it; its exit is a promise.
 *
 * @example
 * ```ts
 * const child = await ns.spawn('ping', ['-c', '1', '10.0.0.2']);
 * child.stdout?.pipe(process.stdout);
 * const { code, signal } = await child.exited;
 * ```
 */
export class NetnsProcess {
  /** The child's PID (in this process's PID namespace). */
  readonly pid: number;
  /** The child's stdin when piped; `end()` it to send EOF. */
  readonly stdin: Writable | null;
  /** The child's stdout when piped. */
  readonly stdout: Readable | null;
  /** The child's stderr when piped. */
  readonly stderr: Readable | null;
  /**
   * Resolves when the child has exited and was reaped (its streams may still hold unread output).
   * Rejects only if reaping failed (code 'ECHILD': something else in this process reaped it).
   */
  readonly exited: Promise<ExitStatus>;

  /** @internal */
  constructor(
    private readonly raw: NativeSpawned,
    private readonly life: ChildLife,
    streams: { stdin: Writable | null; stdout: Readable | null; stderr: Readable | null },
  ) {
    this.pid = raw.pid;
    this.stdin = streams.stdin;
    this.stdout = streams.stdout;
    this.stderr = streams.stderr;
    this.exited = life.exited;
  }

  /** How the child ended, once it has (`undefined` while it runs). */
  get exitStatus(): ExitStatus | undefined {
    return this.life.status;
  }

  /**
   * Send a signal, through the child's pidfd: after the child has exited this can never reach
   * another process that got its PID.
   *
   * Equivalent to: `kill -SIGNAL PID`
   * @example
   * ```ts
   * child.kill();          // SIGTERM
   * child.kill('SIGKILL');
   * ```
   * @returns false when the child has already exited.
   */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.life.done) return false;
    return native().spawnKill(this.raw.id, signalNumber(signal, 'signal'));
  }

  /**
   * Let this process exit while the child still runs (its piped streams still hold the process
   * alive while open, as with Node's `ChildProcess.unref`).
   * @example
   * ```ts
   * child.unref();
   * ```
   */
  unref(): void {
    this.life.setRef(false);
  }

  /**
   * Undo {@link unref}: keep this process alive until the child exits (the default).
   * @example
   * ```ts
   * child.ref();
   * ```
   */
  ref(): void {
    this.life.setRef(true);
  }
}

/** Exit bookkeeping that exists before the handle: the exit may be reported before `spawn` resolves. */
class ChildLife {
  done = false;
  status: ExitStatus | undefined;
  readonly exited: Promise<ExitStatus>;
  private holding = false;
  private wanted = true;
  private resolve!: (s: ExitStatus) => void;
  private reject!: (e: unknown) => void;

  constructor(private readonly operation: string) {
    this.exited = new Promise<ExitStatus>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.exited.catch(() => undefined); // nobody awaiting it is not an unhandled rejection
  }

  started(): void {
    if (!this.done) this.setRef(this.wanted);
  }

  setRef(on: boolean): void {
    this.wanted = on;
    const hold = on && !this.done;
    if (hold === this.holding) return;
    this.holding = hold;
    if (hold) native().ref();
    else native().unref();
  }

  onExit(err: NativeError | null, code: number | null, signal: number | null): void {
    this.done = true;
    this.setRef(false);
    if (err) {
      this.reject(fromNative(err, this.operation));
      return;
    }
    this.status = { code, signal: signal === null ? null : (SIGNAL_NAMES.get(signal) ?? (`SIG${signal}` as NodeJS.Signals)) };
    this.resolve(this.status);
  }
}

function signalNumber(signal: NodeJS.Signals | number, field: string): number {
  if (typeof signal === 'number') {
    if (Number.isInteger(signal) && signal >= 0 && signal <= 64) return signal;
  } else if (typeof signal === 'string') {
    const n = (osConstants.signals as Record<string, number | undefined>)[signal];
    if (n !== undefined) return n;
  }
  throw new ValidationError(field, signal, 'is not a signal name (like "SIGTERM") or number');
}

function checkString(field: string, v: unknown, allowEmpty: boolean): string {
  if (typeof v !== 'string') throw new ValidationError(field, v, 'must be a string');
  if (!allowEmpty && v.length === 0) throw new ValidationError(field, v, 'must not be empty');
  if (v.includes('\0')) throw new ValidationError(field, v, 'must not contain NUL');
  return v;
}

function stdioModes(stdio: SpawnOptions['stdio']): [number, number, number] {
  const list = stdio === undefined ? ['pipe', 'pipe', 'pipe'] : typeof stdio === 'string' ? [stdio, stdio, stdio] : stdio;
  if (!Array.isArray(list) || list.length !== 3) throw new ValidationError('stdio', stdio, "must be a mode or an array of 3 modes ('pipe', 'inherit', 'ignore')");
  return list.map((m: unknown) => {
    if (typeof m !== 'string' || !(m in STDIO_MODES)) throw new ValidationError('stdio', m, "must be 'pipe', 'inherit' or 'ignore'");
    return STDIO_MODES[m as StdioMode];
  }) as [number, number, number];
}

function environment(opts: SpawnOptions): Map<string, string> {
  const env = new Map<string, string>();
  if (opts.inheritEnv !== false) {
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env.set(k, v);
  }
  if (opts.env !== undefined) {
    if (typeof opts.env !== 'object' || opts.env === null) throw new ValidationError('env', opts.env, 'must be an object');
    for (const [k, v] of Object.entries(opts.env)) {
      if (k.length === 0 || k.includes('=') || k.includes('\0')) throw new ValidationError('env', k, 'names must be non-empty, without "=" or NUL');
      if (v === undefined) env.delete(k);
      else env.set(k, checkString(`env.${k}`, v, true));
    }
  }
  return env;
}

/** execvpe's search, done before fork: the paths the child tries in order. */
export function pathCandidates(command: string, path: string | undefined): string[] {
  if (command.includes('/')) return [command];
  // An empty PATH entry means the current directory, as for execvp.
  return (path ?? DEFAULT_PATH).split(':').map((dir) => (dir === '' ? command : `${dir.replace(/\/+$/, '')}/${command}`));
}

function wrap(fd: number, readable: boolean): Socket | null {
  if (fd < 0) return null;
  try {
    // libuv makes our end non-blocking; the child's end of the socket pair is its own description.
    return new Socket({ fd, readable, writable: !readable });
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** The words of `ip netns exec` for a handle (anonymous namespaces by inode). */
function operationFor(ns: NsContext, command: string): string {
  return ns.name !== undefined ? `ip netns exec ${ns.name} ${command}` : `spawn ${command} in ${ns.describe()}`;
}

/** Send `killWith` to the child when `signal` fires, until it has exited. */
function killOnAbort(child: NetnsProcess, signal: AbortSignal, killWith: number): void {
  const onAbort = (): void => {
    try {
      child.kill(killWith);
    } catch {
      // Already gone.
    }
  };
  if (signal.aborted) return onAbort(); // fired while the child was being started
  signal.addEventListener('abort', onAbort, { once: true });
  void child.exited.finally(() => signal.removeEventListener('abort', onAbort)).catch(() => undefined);
}

/** Implements {@link Netns.spawn}. */
export async function spawnIn(ns: NsContext, command: string, args: readonly string[], opts: SpawnOptions): Promise<NetnsProcess> {
  checkString('command', command, false);
  if (!Array.isArray(args)) throw new ValidationError('args', args, 'must be an array of strings');
  args.forEach((a, i) => checkString(`args[${i}]`, a, true));
  checkKeys('', opts, SPAWN_KEYS);
  const cwd = opts.cwd === undefined ? null : checkString('cwd', opts.cwd, false);
  const argv0 = opts.argv0 === undefined ? command : checkString('argv0', opts.argv0, true);
  const stdio = stdioModes(opts.stdio);
  const env = environment(opts);
  const signal = abortSignal(opts.signal);
  const killWith = signalNumber(opts.killSignal ?? 'SIGTERM', 'killSignal');
  const fd = ns.fd(); // throws ClosedError for a closed handle
  const operation = operationFor(ns, command);
  if (signal?.aborted) throw new RequestAbortedError('ABORT_ERR', operation, 'aborted before the child was started', signal.reason);
  const life = new ChildLife(operation);

  return withCallerFrames(new Promise<NetnsProcess>((resolve, reject) => {
    native().spawn(
      {
        nsFd: fd,
        etcName: ns.name ?? null,
        sysfsSource: ns.name ?? 'none',
        file: command,
        candidates: pathCandidates(command, env.get('PATH')),
        argv: [argv0, ...args],
        env: [...env].map(([k, v]) => `${k}=${v}`),
        cwd,
        stdio,
        onExit: (err, code, signal) => life.onExit(err, code, signal),
      },
      (err, raw) => {
        if (err || !raw) {
          reject(fromNative(err as NativeError, operation));
          return;
        }
        life.started(); // synchronously: the exit may be delivered before the promise continuation
        try {
          const stdin = wrap(raw.stdin, false);
          const stdout = wrap(raw.stdout, true);
          const stderr = wrap(raw.stderr, true);
          const child = new NetnsProcess(raw, life, { stdin, stdout, stderr });
          if (signal) killOnAbort(child, signal, killWith);
          resolve(child);
        } catch (e) {
          native().spawnKill(raw.id, osConstants.signals.SIGKILL);
          reject(e);
        }
      },
    );
  }));
}

/** Implements {@link Netns.exec}. */
export async function execIn(ns: NsContext, command: string, args: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  checkKeys('', opts, EXEC_KEYS);
  const { input, timeout = 0, maxBuffer = 64 * 1024 * 1024, ...spawnOpts } = opts;
  if (input !== undefined && typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw new ValidationError('input', input, 'must be a string or a Uint8Array');
  }
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout < 0) throw new ValidationError('timeout', timeout, 'must be a number of milliseconds >= 0');
  if (typeof maxBuffer !== 'number' || !(maxBuffer > 0)) throw new ValidationError('maxBuffer', maxBuffer, 'must be a positive number of bytes');
  const killWith = signalNumber(opts.killSignal ?? 'SIGTERM', 'killSignal');

  const child = await spawnIn(ns, command, args, { ...spawnOpts, stdio: 'pipe' });
  // Whether the signal fired before the child ended (spawnIn's listener killed it then).
  const abortedAtExit = child.exited.then(() => opts.signal?.aborted === true, () => false);
  let timedOut = false;
  let overflow: NetnsError | undefined;
  const kill = (): void => {
    try {
      child.kill(killWith);
    } catch {
      // Already gone.
    }
  };
  const collect = (stream: Readable | null, name: string): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      if (!stream) return resolve('');
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBuffer) {
          if (!overflow) {
            overflow = new NetnsError(`${operationFor(ns, command)}: ${name} exceeded maxBuffer (${maxBuffer} bytes)`, {
              code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER',
              operation: operationFor(ns, command),
            });
            kill();
          }
          stream.destroy();
          return;
        }
        chunks.push(chunk);
      });
      stream.on('error', reject);
      stream.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });

  const timer = timeout > 0 ? setTimeout(() => ((timedOut = true), kill()), timeout) : undefined;
  try {
    // The child may exit without reading its input: EPIPE then is not a failure of exec.
    child.stdin?.on('error', () => undefined);
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
    const [stdout, stderr, status] = await Promise.all([collect(child.stdout, 'stdout'), collect(child.stderr, 'stderr'), child.exited]);
    if (overflow) throw overflow;
    if (await abortedAtExit) throw new RequestAbortedError('ABORT_ERR', operationFor(ns, command), `aborted; the child was sent ${status.signal ?? 'its kill signal'} and has exited`, opts.signal?.reason);
    return { stdout, stderr, code: status.code, signal: status.signal, timedOut };
  } catch (e) {
    kill(); // a stream failed: do not leave the child running unobserved
    throw e;
  } finally {
    if (timer) clearTimeout(timer);
  }
}

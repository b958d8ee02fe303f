/**
 * Every error the library throws is a {@link NetnsError} with a stable `code`. System and kernel
 * failures also carry `errno` (positive) and say what was being done (`operation`). See
 * docs/errors.md for the catalogue.
 * @module
 */
import { constants as osConstants } from 'node:os';
import { getSystemErrorMap } from 'node:util';

let names: Record<number, string> | undefined;

/**
 * errno value -> name, from Node's `os.constants.errno` (every name the platform defines; libuv's
 * own map lacks some, such as ENOEXEC and ENOMSG). Where two names share a value the kernel headers'
 * first one wins: EOPNOTSUPP (not ENOTSUP), EAGAIN (not EWOULDBLOCK), EDEADLK (not EDEADLOCK).
 * The addon is given this same table at load (lib/native.ts), so both name errors alike.
 */
export function errnoNames(): Record<number, string> {
  if (names) return names;
  const preferred = new Set(['EOPNOTSUPP', 'EAGAIN', 'EDEADLK']);
  const table: Record<number, string> = {};
  for (const [name, value] of Object.entries(osConstants.errno)) {
    if (table[value] === undefined || preferred.has(name)) table[value] = name;
  }
  names = table;
  return table;
}

/** The errno's symbolic name ('EEXIST'), or `E<number>` when the platform has none. */
export function errnoName(errno: number): string {
  return errnoNames()[Math.abs(errno)] ?? `E${Math.abs(errno)}`;
}

/** strerror(errno) as libuv knows it. */
export function errnoMessage(errno: number): string {
  return getSystemErrorMap().get(-Math.abs(errno))?.[1] ?? `errno ${errno}`;
}

/** Base class of everything thrown by netns-native. */
export class NetnsError extends Error {
  /** Stable machine-readable code: an errno name ('EEXIST') or an 'ERR_*' code of this library. */
  readonly code: string;
  /** Positive errno value when the failure came from the kernel. */
  readonly errno?: number;
  /** The system call that failed, for failures of a syscall made by the addon. */
  readonly syscall?: string;
  /** The file involved, when there is one. */
  readonly path?: string;
  /** What the library was doing, in the words of the equivalent command (`ip link add ...`). */
  readonly operation?: string;

  constructor(message: string, props: { code: string; errno?: number; syscall?: string; path?: string; operation?: string; cause?: unknown }) {
    super(message, props.cause === undefined ? undefined : { cause: props.cause });
    this.name = new.target.name;
    this.code = props.code;
    if (props.errno !== undefined) this.errno = props.errno;
    if (props.syscall !== undefined) this.syscall = props.syscall;
    if (props.path !== undefined) this.path = props.path;
    if (props.operation !== undefined) this.operation = props.operation;
  }
}

/** Input rejected before any system call; nothing was created or changed. */
export class ValidationError extends NetnsError {
  /** Which argument was wrong. */
  readonly field: string;
  /** The value given. */
  readonly value: unknown;

  constructor(field: string, value: unknown, reason: string) {
    super(`invalid ${typeof field === 'string' ? field : safeString(field)} ${safeString(value)}: ${reason}`, { code: 'ERR_INVALID_ARG' });
    this.field = field;
    this.value = value;
  }
}

/** A system call made by the addon failed (shaped like Node's fs errors). */
export class SystemError extends NetnsError {}

/** The path or process given does not lead to a network namespace. */
export class NotANamespaceError extends SystemError {}

/** Request details kept on a {@link NetlinkError}. */
export interface NetlinkRequestInfo {
  /** nlmsg_type, e.g. RTM_NEWLINK (16). */
  type: number;
  /** nlmsg_flags as sent. */
  flags: number;
  /** Sequence number. */
  seq: number;
}

/** The kernel answered a netlink request with an error. */
export class NetlinkError extends NetnsError {
  declare readonly errno: number;
  /** The kernel's extended-ack text ("mtu greater than device maximum"), when it sent one. */
  readonly kernelMessage?: string;
  /** Offset in the request of the attribute the kernel objected to (NLMSGERR_ATTR_OFFS). */
  readonly badAttributeOffset?: number;
  /** Attribute type the kernel reported missing (NLMSGERR_ATTR_MISS_TYPE). */
  readonly missingAttributeType?: number;
  /** The request that failed. */
  readonly request: NetlinkRequestInfo;

  constructor(errno: number, request: NetlinkRequestInfo, ext: { message?: string; offset?: number; missingType?: number }, operation?: string) {
    const code = errnoName(errno);
    const why = ext.message ? `${ext.message} (${code})` : `${errnoMessage(errno)} (${code})`;
    super(operation ? `${operation}: ${why}` : why, { code, errno, operation });
    if (ext.message !== undefined) this.kernelMessage = ext.message;
    if (ext.offset !== undefined) this.badAttributeOffset = ext.offset;
    if (ext.missingType !== undefined) this.missingAttributeType = ext.missingType;
    this.request = request;
  }
}

/**
 * A dump kept being interrupted by concurrent changes (NLM_F_DUMP_INTR) after every retry. `partial`
 * holds the messages of the last attempt: possibly inconsistent, never silently returned as complete.
 */
export class DumpInterruptedError<T = unknown> extends NetnsError {
  readonly partial: T[];
  readonly attempts: number;

  constructor(partial: T[], attempts: number, operation?: string) {
    super(`${operation ?? 'dump'}: interrupted by concurrent changes ${attempts} times; result may be inconsistent`, {
      code: 'ERR_DUMP_INTERRUPTED',
      operation,
    });
    this.partial = partial;
    this.attempts = attempts;
  }
}

/** The handle or connection was closed before the operation finished. */
export class ClosedError extends NetnsError {
  constructor(what: string, operation?: string) {
    super(`${operation ? operation + ': ' : ''}${what} is closed`, { code: 'ERR_CLOSED', operation });
  }
}

/** Codes that mean "the object is not there" for idempotent deletes. */
const MISSING = new Set(['ENOENT', 'ENODEV', 'ESRCH', 'EADDRNOTAVAIL', 'ENXIO']);

/** True when `err` says the object does not exist (what an idempotent delete may ignore). */
export function isNotFound(err: unknown): boolean {
  return err instanceof NetnsError && MISSING.has(err.code);
}

/**
 * A request did not settle in time (code 'ETIMEDOUT') or its `AbortSignal` fired (code
 * 'ABORT_ERR'). What the kernel may still do with a request already sent is described in
 * docs/errors.md ("Every call settles").
 */
export class RequestAbortedError extends NetnsError {
  constructor(code: 'ETIMEDOUT' | 'ABORT_ERR', operation: string | undefined, detail: string, cause?: unknown) {
    super(`${operation ? `${operation}: ` : ''}${detail}`, { code, operation, cause });
  }
}

/** Shape of errors made by the addon (see lib/native.ts). */
interface NativeErrorLike extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
}

/** Wrap an addon error, adding what was being done. */
export function fromNative(err: NativeErrorLike, operation?: string): SystemError {
  const Cls = err.code === 'ENOTNETNS' ? NotANamespaceError : SystemError;
  const msg = operation ? `${operation}: ${err.message}` : err.message;
  return new Cls(msg, { code: err.code, errno: err.errno, syscall: err.syscall, path: err.path, operation });
}

function safeString(v: unknown): string {
  try {
    return typeof v === 'string' ? JSON.stringify(v) : String(v);
  } catch {
    return '<unprintable>';
  }
}

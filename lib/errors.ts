/**
 * Every error the library throws is a {@link NetnsError} with a stable `code`. System and kernel
 * failures also carry `errno` (negative, as in Node's system errors) and say what was being done
 * (`operation`). See docs/errors.md for the catalogue.
 * @module
 */
import { readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { getSystemErrorMap } from 'node:util';

let names: Record<number, string> | undefined;

/**
 * The errno names the library uses as `code`: every name Node's `os.constants.errno` has on Linux,
 * one per value (see `errnoNames` in this module). test/unit/errors.test.ts checks the list against the table.
 */
export const ERRNO_CODES = [
  'E2BIG', 'EACCES', 'EADDRINUSE', 'EADDRNOTAVAIL', 'EAFNOSUPPORT', 'EAGAIN', 'EALREADY', 'EBADF', 'EBADMSG', 'EBUSY',
  'ECANCELED', 'ECHILD', 'ECONNABORTED', 'ECONNREFUSED', 'ECONNRESET', 'EDEADLK', 'EDESTADDRREQ', 'EDOM', 'EDQUOT',
  'EEXIST', 'EFAULT', 'EFBIG', 'EHOSTUNREACH', 'EIDRM', 'EILSEQ', 'EINPROGRESS', 'EINTR', 'EINVAL', 'EIO', 'EISCONN',
  'EISDIR', 'ELOOP', 'EMFILE', 'EMLINK', 'EMSGSIZE', 'EMULTIHOP', 'ENAMETOOLONG', 'ENETDOWN', 'ENETRESET', 'ENETUNREACH',
  'ENFILE', 'ENOBUFS', 'ENODATA', 'ENODEV', 'ENOENT', 'ENOEXEC', 'ENOLCK', 'ENOLINK', 'ENOMEM', 'ENOMSG', 'ENOPROTOOPT',
  'ENOSPC', 'ENOSR', 'ENOSTR', 'ENOSYS', 'ENOTCONN', 'ENOTDIR', 'ENOTEMPTY', 'ENOTSOCK', 'ENOTTY', 'ENXIO', 'EOPNOTSUPP',
  'EOVERFLOW', 'EPERM', 'EPIPE', 'EPROTO', 'EPROTONOSUPPORT', 'EPROTOTYPE', 'ERANGE', 'EROFS', 'ESPIPE', 'ESRCH', 'ESTALE',
  'ETIME', 'ETIMEDOUT', 'ETXTBSY', 'EXDEV',
] as const;

/**
 * An errno name. Errnos Node has no name for (the kernel's EKEYEXPIRED, ERFKILL, its internal
 * ENOTSUPP 524, ...) read `E<number>`, as `errnoName` writes them.
 */
export type ErrnoCode = (typeof ERRNO_CODES)[number] | `E${number}`;

/** The codes of the library's own conditions (docs/errors.md has when each is thrown). */
export const LIBRARY_CODES = [
  'ERR_INVALID_ARG', 'ERR_DUMP_INTERRUPTED', 'ERR_CLOSED', 'ERR_NO_ANSWER', 'ERR_NOT_NAMED', 'ERR_NOT_A_NUMBER',
  'ERR_CHILD_PROCESS_STDIO_MAXBUFFER', 'ERR_SERVER_ALREADY_LISTEN', 'ERR_CLUSTER_WORKER', 'ERR_SOCKET', 'ERR_CNI',
  'ERR_TOPOLOGY', 'ERR_ADDON_MISSING', 'ERR_PLATFORM', 'ERR_INTERNAL', 'ERR_NATIVE_EXCEPTION', 'ENOTNETNS', 'ABORT_ERR',
] as const;

/**
 * Every `code` a {@link NetnsError} can have: an errno name, or one of the library's own codes.
 * A `switch (err.code)` is checked by the compiler against this union.
 */
export type NetnsErrorCode = ErrnoCode | (typeof LIBRARY_CODES)[number];

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
export function errnoName(errno: number): ErrnoCode {
  return (errnoNames()[Math.abs(errno)] as ErrnoCode | undefined) ?? `E${Math.abs(errno)}`;
}

/**
 * Where libuv's wording is about something else than what the library does. libuv names errno 95
 * after ENOTSUP's socket meaning ("operation not supported on socket"), but the kernel answers
 * EOPNOTSUPP to netlink requests about links, qdiscs and rules (docs/errors.md, "Errno names").
 */
const WORDING: Record<number, string> = { 95: 'operation not supported' };

/** strerror(errno) as libuv knows it (with {@link WORDING}'s corrections). */
export function errnoMessage(errno: number): string {
  const n = Math.abs(errno);
  return WORDING[n] ?? getSystemErrorMap().get(-n)?.[1] ?? `errno ${n}`;
}

/** System calls whose EPERM means CAP_SYS_ADMIN is missing (namespace entry, creation, pins). */
const SYS_ADMIN_CALLS = new Set(['setns', 'unshare', 'mount', 'umount2']);
/** Bit numbers in CapEff, as in linux/capability.h. */
const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21;

/** Whether the JS thread (the main thread: /proc/self) holds capability `bit`; true when unknown. */
function hasCapability(bit: number): boolean {
  try {
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return hex === undefined || ((BigInt(`0x${hex}`) >> BigInt(bit)) & 1n) === 1n;
  } catch {
    return true;
  }
}

/**
 * What a permission error lacks, appended to its message (the kernel only says "not permitted"):
 * EPERM anywhere, and EACCES on a /proc/sys file (a sysctl write), when the process really lacks
 * the capability (a root process refused for another reason, such as a table owned by another
 * socket, gets no hint). Read only when such an error happens. Reads of the caller's own namespace
 * need neither (docs/errors.md, "Permissions").
 */
export function privilegeHint(code: string, syscall?: string, path?: string): string {
  if (code !== 'EPERM' && !(code === 'EACCES' && path?.startsWith('/proc/sys/'))) return '';
  const sysAdmin = syscall !== undefined && SYS_ADMIN_CALLS.has(syscall);
  if (hasCapability(sysAdmin ? CAP_SYS_ADMIN : CAP_NET_ADMIN)) return '';
  return `; needs root or ${sysAdmin ? 'CAP_SYS_ADMIN' : 'CAP_NET_ADMIN'}`;
}

/** Base class of everything thrown by netns-native. */
export class NetnsError extends Error {
  /** Stable machine-readable code: an errno name ('EEXIST') or an 'ERR_*' code of this library. */
  readonly code: NetnsErrorCode;
  /**
   * The errno, negative as in Node's own system errors (`-17` for EEXIST;
   * `util.getSystemErrorName(err.errno)` names it), when the failure came from the kernel or a
   * system call. It used to be positive (docs/errors.md, "errno").
   */
  declare readonly errno?: number;
  /** The system call that failed, for failures of a syscall made by the addon. */
  declare readonly syscall?: string;
  /** The file involved, when there is one. */
  declare readonly path?: string;
  /** What the library was doing, in the words of the equivalent command (`ip link add ...`). */
  declare readonly operation?: string;

  constructor(message: string, props: { code: NetnsErrorCode; errno?: number; syscall?: string; path?: string; operation?: string; cause?: unknown }) {
    super(message, props.cause === undefined ? undefined : { cause: props.cause });
    Object.defineProperty(this, 'name', { value: new.target.name, enumerable: false, configurable: true, writable: true });
    this.code = props.code;
    // Given either sign (the addon and the kernel's answers are positive, Node's errors negative).
    if (props.errno !== undefined) this.errno = -Math.abs(props.errno);
    if (props.syscall !== undefined) this.syscall = props.syscall;
    if (props.path !== undefined) this.path = props.path;
    if (props.operation !== undefined) this.operation = props.operation;
  }
}

/** Input rejected before any system call; nothing was created or changed. */
export class ValidationError extends NetnsError {
  declare readonly code: 'ERR_INVALID_ARG';
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
  declare readonly code: ErrnoCode;
  declare readonly errno: number;
  /** The kernel's extended-ack text ("mtu greater than device maximum"), when it sent one. */
  declare readonly kernelMessage?: string;
  /** Offset in the request of the attribute the kernel objected to (NLMSGERR_ATTR_OFFS). */
  declare readonly badAttributeOffset?: number;
  /** Attribute type the kernel reported missing (NLMSGERR_ATTR_MISS_TYPE). */
  declare readonly missingAttributeType?: number;
  /** The request that failed. */
  readonly request: NetlinkRequestInfo;

  constructor(errno: number, request: NetlinkRequestInfo, ext: { message?: string; offset?: number; missingType?: number }, operation?: string) {
    const code = errnoName(errno);
    const why = (ext.message ? `${ext.message} (${code})` : `${errnoMessage(errno)} (${code})`) + privilegeHint(code);
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
  declare readonly code: 'ERR_DUMP_INTERRUPTED';
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
  declare readonly code: 'ERR_CLOSED';
  constructor(what: string, operation?: string) {
    super(`${operation ? operation + ': ' : ''}${what} is closed`, { code: 'ERR_CLOSED', operation });
  }
}

/**
 * Let `promise`'s rejection carry the caller's frames. The kernel's answer (or the addon's callback)
 * arrives in an I/O callback, so an error made there has a stack of library internals only. Taken
 * again in a reaction of the promise the caller awaits, the stack gets V8's async frames: every
 * `async` function awaiting, up to the caller's own code (docs/errors.md, "Stacks"). Costs one
 * promise reaction per call; a stack is captured only on failure.
 */
export function withCallerFrames<T>(promise: Promise<T>): Promise<T> {
  return promise.then(undefined, takeCallerStack);
}

function takeCallerStack(e: unknown): never {
  if (e instanceof NetnsError) Error.captureStackTrace(e, takeCallerStack);
  throw e;
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
  declare readonly code: 'ETIMEDOUT' | 'ABORT_ERR';
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
  const msg = (operation ? `${operation}: ${err.message}` : err.message) + privilegeHint(err.code, err.syscall, err.path);
  return new Cls(msg, { code: err.code as NetnsErrorCode, errno: err.errno, syscall: err.syscall, path: err.path, operation });
}

function safeString(v: unknown): string {
  try {
    return typeof v === 'string' ? JSON.stringify(v) : String(v);
  } catch {
    return '<unprintable>';
  }
}

/**
 * A Node socket or fs error as a typed error (the original stays as `cause`): the kernel's errno
 * name as `code` (Node says ENOTSUP for 95, docs/errors.md "Errno names"); Node's own ERR_* codes
 * stay on `cause`, so `code` is always one of NetnsErrorCode.
 */
export function fromNodeError(err: unknown, operation: string, path?: string): NetnsError {
  if (err instanceof NetnsError) return err;
  const e = err as NodeJS.ErrnoException;
  const errno = typeof e?.errno === 'number' ? Math.abs(e.errno) : undefined;
  const code = errno !== undefined ? errnoName(errno) : 'ERR_SOCKET';
  return new SystemError(`${operation}: ${e?.message ?? String(err)}`, { code, errno, syscall: e?.syscall, path: path ?? e?.path, operation, cause: err });
}

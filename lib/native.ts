/**
 * The addon's whole surface, typed in one place. Everything here is a thin move of bytes or a system
 * call that JavaScript cannot make; protocol logic lives in TypeScript.
 *
 * Threading contract (see docs/threading.md): every function that takes a callback runs its system
 * calls on a thread the addon owns (never the JS thread, never a libuv pool thread) and calls back on
 * the JS thread. Functions without a callback are non-blocking and run on the JS thread.
 * @internal
 * @module
 */
import { createRequire } from 'node:module';
import { NetnsError, errnoNames } from './errors.js';

/** An error shaped like Node's own fs errors. */
export interface NativeError extends Error {
  /** 'EEXIST', 'EPERM', ... or 'ENOTNETNS' for a file that is not a network namespace. */
  code: string;
  /** Positive errno value. */
  errno: number;
  /** The failing system call, e.g. 'unshare', 'mount', 'open'. */
  syscall: string;
  /** The path involved, when there is one. */
  path?: string;
  /** On a socket's onError: the socket is no longer read (its owner must close and reopen it). */
  fatal?: boolean;
}

/** A namespace file descriptor with the identity of the namespace it refers to. */
export interface NativeNsInfo {
  /** Close-on-exec fd owned by the caller (close it with `closeFd`). */
  fd: number;
  /** st_dev of the nsfs inode. */
  dev: number;
  /** st_ino of the nsfs inode (the namespace's inode number, as in `net:[4026531840]`). */
  ino: number;
}

export type Callback<T> = (err: NativeError | null, value?: T) => void;

/** Options of `netlinkOpen`. */
export interface NativeNetlinkOpenOptions {
  /** NETLINK_ROUTE (0), NETLINK_NETFILTER (12), NETLINK_SOCK_DIAG (4), ... */
  protocol: number;
  /** Namespace fd to create the socket in; -1 for the process's own namespace. */
  nsFd: number;
  /** Multicast groups to join (RTNLGRP_* numbers, 1-based). */
  groups: number[];
  /** SO_RCVBUF(FORCE) in bytes; at least 1 MiB for a socket without groups, as given (kernel minimum applies) for a subscription. */
  rcvbuf: number;
  /** Initial size of the receive buffer used to read one datagram; it grows when a datagram is larger. */
  initialReadBuffer: number;
  /**
   * Called on the JS thread with whole datagrams, in arrival order, several per call. A request
   * socket (no groups) hands a datagram that is one plain ACK (NLMSG_ERROR, error 0, no extended-ack
   * attributes) over as the sequence number it answers.
   */
  onData: (datagrams: (Buffer | number)[]) => void;
  /** Called on the JS thread when the socket fails (ENOBUFS overrun, recv error). The socket stays open. */
  onError: (err: NativeError) => void;
  /** Called on the JS thread when sendmsg of the buffer sent with `token` failed. */
  onSendError: (token: number, err: NativeError) => void;
}

/** A netlink socket opened by the addon. */
export interface NativeNetlinkSocket {
  /** Opaque id for netlinkSend/netlinkClose. */
  id: number;
  /** The port id the kernel assigned (nl_pid of the bound address). */
  portId: number;
  /** Whether NETLINK_GET_STRICT_CHK was accepted. */
  strictCheck: boolean;
  /** Whether NETLINK_EXT_ACK was accepted. */
  extAck: boolean;
}

/**
 * One setsockopt(2) call: `value` is the optval bytes (an int option is 4 bytes, host order). For
 * SO_ATTACH_FILTER and SO_ATTACH_REUSEPORT_CBPF, `value` is the array of 8-byte `sock_filter`
 * instructions: the `sock_fprog` (which holds a pointer) is built by the addon.
 */
export interface NativeSockOpt {
  /** SOL_SOCKET (1), SOL_PACKET (263), IPPROTO_IP (0), ... */
  level: number;
  /** SO_ATTACH_FILTER, PACKET_ADD_MEMBERSHIP, ... */
  name: number;
  value: Buffer;
}

/** Options of `dgramOpen`. */
export interface NativeDgramOpenOptions {
  /** Namespace fd to create the socket in; -1 for the process's own namespace. */
  nsFd: number;
  /** AF_INET (2), AF_INET6 (10) or AF_PACKET (17). */
  domain: number;
  /** SOCK_DGRAM (2) or SOCK_RAW (3). */
  type: number;
  /** As socket(2) takes it: IPPROTO_ICMP (1), IPPROTO_ICMPV6 (58), htons(ETH_P_ALL) (0x0300) for AF_PACKET. */
  protocol: number;
  /** setsockopt calls made in order before `bind` (so a filter is attached before any packet is queued). */
  options?: NativeSockOpt[];
  /** A sockaddr (sockaddr_in, sockaddr_in6, sockaddr_ll) to bind to after `options`. */
  bind?: Buffer;
  /** SO_RCVBUF(FORCE) in bytes when > 0. */
  rcvbuf?: number;
  /** Initial size of the read buffer (default 65536); it grows when a datagram is larger. */
  initialReadBuffer?: number;
  /** Called on the JS thread with whole datagrams, in arrival order, several per call. */
  onData: (datagrams: NativeDatagram[]) => void;
  /** Called on the JS thread with a socket error reported by recvmsg (an ICMP error, ...). The socket stays open. */
  onError: (err: NativeError) => void;
  /** Called on the JS thread when sendmsg of the datagram sent with `token` failed. */
  onSendError: (token: number, err: NativeError) => void;
}

/** A datagram read by the I/O thread from a `dgramOpen` socket. */
export interface NativeDatagram {
  /** The datagram (for AF_PACKET/SOCK_RAW the whole frame from the link-layer header on). */
  data: Buffer;
  /** The source sockaddr as recvmsg(2) filled it (sockaddr_in, sockaddr_in6, sockaddr_ll). */
  address: Buffer;
  /** Receive time (SO_TIMESTAMPNS, CLOCK_REALTIME): seconds and nanoseconds. */
  sec: number;
  nsec: number;
  /** AF_PACKET only, from sockaddr_ll: the interface the packet was seen on. */
  ifindex?: number;
  /** AF_PACKET only: PACKET_HOST (0), PACKET_BROADCAST (1), PACKET_MULTICAST (2), PACKET_OTHERHOST (3), PACKET_OUTGOING (4). */
  pkttype?: number;
  /** AF_PACKET only: the frame's ETH_P_* protocol, host order. */
  protocol?: number;
}

/** A socket opened by `dgramOpen`. */
export interface NativeDgramSocket {
  /** Opaque id for the other dgram* functions. */
  id: number;
  /** getsockname() after the bind (or of the unbound socket). */
  local: Buffer;
}

/** Options of `inetSocket`. */
export interface NativeInetSocketOptions {
  family: 4 | 6;
  type: 'stream' | 'dgram';
  /** 4 or 16 bytes: bind to this address (and `port`). Without it the socket is left unbound. */
  address?: Buffer;
  /** Port to bind, host order; 0 or absent lets the kernel choose. */
  port?: number;
  /** SO_REUSEADDR before bind. */
  reuseAddr?: boolean;
  /** SO_REUSEPORT before bind. */
  reusePort?: boolean;
  /** IPV6_V6ONLY on an IPv6 socket that is bound (set to false explicitly otherwise, as libuv does). */
  ipv6Only?: boolean;
}

/** Options of `spawn`. */
export interface NativeSpawnOptions {
  /** The namespace to run in (the addon dups it for the job). */
  nsFd: number;
  /** Bind every file of /etc/netns/<etcName>/ over /etc/ in the child; null: no binds. */
  etcName: string | null;
  /** Source of the child's /sys mount (iproute2 uses the namespace's name). */
  sysfsSource: string;
  /** The command as given, for errors (`path` of an ENOENT). */
  file: string;
  /** Paths execve tries in order (the PATH search, done by the caller). */
  candidates: string[];
  argv: string[];
  /** "KEY=VALUE" entries: the child's whole environment. */
  env: string[];
  /** Working directory of the child; null: this process's. */
  cwd: string | null;
  /** For fds 0, 1, 2: 0 = a new socket pair (our end returned), 1 = inherit ours, 2 = /dev/null. */
  stdio: [number, number, number];
  /**
   * Called once on the JS thread when the child has exited and was reaped (through its pidfd):
   * `code` for a normal exit, `signal` (a number) when a signal killed it; `err` when reaping failed.
   */
  onExit: (err: NativeError | null, code: number | null, signal: number | null) => void;
}

/** A child started by `spawn`. */
export interface NativeSpawned {
  /** Opaque id for `spawnKill`. */
  id: number;
  pid: number;
  /** Our ends of the stdio socket pairs, or -1 (inherit/ignore). Owned by the caller (wrap or close them). */
  stdin: number;
  stdout: number;
  stderr: number;
}

/** Result of `nsSweepDelete` when no system call failed. */
export interface NativeSweepResult {
  veths: number;
  /** Settled on the links' RTM_DELLINK notifications, before the requests' answers. */
  byEvent: boolean;
  refused?: 'dump' | 'delete';
  message?: Buffer;
  index?: number;
  /** The veth dump was interrupted this many times in a row (nothing changed). */
  dumpAttempts?: number;
}

/** One request of the CNI shim (native/cni_shim.c), as the agent receives it. */
export interface NativeCniShimRequest {
  pid: number;
  uid: number;
  gid: number;
  /** The shim's network namespace (close-on-exec), -1 when it passed none. */
  nsFd: number;
  /** `KEY=VALUE\0` entries: the shim's CNI_* variables. */
  env: Buffer;
  stdin: Buffer;
}

export interface NativeAddon {
  // ---- namespaces -------------------------------------------------------------------------------
  /**
   * The iproute2 `netns_add` sequence: mkdir `dir` (0755), flock it, make it a shared mount (bind it
   * onto itself when it is not a mount point), create `dir/name` O_CREAT|O_EXCL, unshare(CLONE_NEWNET)
   * on an addon thread, bind-mount /proc/thread-self/ns/net onto the placeholder, switch back. Any
   * failure rolls back everything it did. Returns an fd to the new namespace. With `netlink`, the
   * same job also makes a netlink socket while it is inside the new namespace and returns it
   * registered as `netlink` (absent when only that failed).
   */
  nsCreate(dir: string, name: string, cb: Callback<NativeNsInfo & { netlink?: NativeNetlinkSocket }>, netlink?: Omit<NativeNetlinkOpenOptions, 'nsFd'>): void;
  /** umount2(path, MNT_DETACH) then unlink(path), retrying EBUSY a bounded number of times. */
  nsDelete(path: string, cb: Callback<void>): void;
  /**
   * `Netns.delete`'s whole sequence as one job (docs/errors.md, "Names after delete"): open the
   * pin, list the namespace's veths, hand their RTM_DELLINKs to a sender thread, unpin, and report
   * once the kernel's RTM_DELLINK notifications say the links are unlisted (or the requests'
   * answers came first). A failed system call is `err` with `stage` ('open' | 'sweep' | 'unpin' |
   * 'delete'); a request the kernel refused is `refused` with its whole netlink `message`.
   */
  nsSweepDelete(path: string, cb: Callback<NativeSweepResult>): void;
  /**
   * `ip link delete dev INDEX|NAME` (`index` 0: by `name`) in the namespace of `nsFd` (-1: home),
   * settled when the kernel's RTM_DELLINK notification says the link is unlisted (or the answer
   * came first: `message` is then a refusal). `err` code ETIMEDOUT past the request deadline.
   */
  linkDeleteUnlisted(nsFd: number, index: number, name: string, cb: Callback<{ byEvent: boolean; message?: Buffer }>): void;
  /** How link deletions settled since load (notification first, or answer), and the sender threads now. For tests. */
  sweepStats(): { byEvent: number; byAnswer: number; sendersLive: number; sendersBusy: number; sendersMax: number };
  /** A new namespace held only by the returned fd. */
  nsAnonymous(cb: Callback<NativeNsInfo>): void;
  /** Open a path; fails with code 'ENOTNETNS' unless it is a network namespace. */
  nsOpenPath(path: string, cb: Callback<NativeNsInfo>): void;
  /** The namespace of a process, through a pidfd so a reused PID never yields another's namespace. */
  nsOpenPid(pid: number, cb: Callback<NativeNsInfo>): void;
  /** Pin the namespace behind `fd` at dir/name (what `ip netns attach` does), same rollback rules. */
  nsPin(fd: number, dir: string, name: string, cb: Callback<void>): void;
  /** The namespace the addon's threads return to (the process's own at load time). */
  homeNs(): NativeNsInfo;
  /** The errno names the addon's errors use as `code` (lib/errors.ts errnoNames), given once at load. */
  setErrnoNames(names: Record<number, string>): void;
  /** close(2) an fd returned by the addon. */
  closeFd(fd: number): void;

  // ---- netlink ---------------------------------------------------------------------------------
  /** Create, configure and bind a netlink socket inside a namespace. */
  netlinkOpen(opts: NativeNetlinkOpenOptions, cb: Callback<NativeNetlinkSocket>): void;
  /**
   * Queue a buffer (one or more whole netlink messages) for one sendmsg on an addon thread. Buffers
   * queued on one socket are sent in order. The bytes are copied; `buf` may be reused at once. With
   * `defer`, no worker is woken until `netlinkFlush`, which the caller must call before it yields.
   * `ackSeq` (0 or omitted: none) promises that `buf` holds no dump and that every message in it
   * asks for an ACK, the last one with sequence number `ackSeq`: the worker then stops reading
   * once that ACK arrived instead of making one more recvmsg to find the socket empty.
   */
  netlinkSend(id: number, buf: Buffer, token: number, defer?: boolean, ackSeq?: number): void;
  /** Close the socket. No callback is made for it afterwards. Idempotent. */
  netlinkClose(id: number): void;
  /**
   * Counters: `dumpRaceErrors` (process-wide) counts the EINVALs recvmsg reported
   * because a dump continuation lost the race with the dump's own start (docs/errors.md, "Concurrent
   * dumps and EINVAL"); they are skipped, not treated as a broken socket.
   */
  netlinkStats(): {
    dumpRaceErrors: number;
    /** `netlinkFlush` polls made, and those that ran a completion (docs/performance.md). */
    polls: number;
    pollHits: number;
    /** Polls not made: more than one job outstanding, or backing off after vain or preempted polls. */
    pollNotOne: number;
    pollSkipped: number;
    /** Worker spins for a next job (NETNS_NATIVE_SPIN_US), those that found one, those cut short as preempted. */
    spins: number;
    spinHits: number;
    spinPreempted: number;
    /** Flushes not polled because a request in them is of a kind that usually outlasts the poll. */
    pollSlow: number;
    /**
     * Results after which a worker was asked to spin on for the JS thread's next job
     * (NETNS_NATIVE_CHAIN_SPIN_US), and of those, the ones that woke a sleeping worker to spin.
     */
    chainSpins: number;
    chainCalls: number;
  };
  /**
   * Switches the request path's levers at run time (NETNS_NATIVE_PREDICT, NETNS_NATIVE_CHAIN_SPIN_US,
   * NETNS_NATIVE_CHAIN_CALL set them at load), so that an A/B measurement can alternate them within one process.
   */
  netlinkTune(opts: { predict?: boolean; chainSpinUs?: number; chainCall?: boolean }): void;

  // ---- generic datagram sockets owned by the I/O loop (native/dgram_ops.cc) --------------------
  /**
   * socket(domain, type, protocol) inside a namespace (a worker enters it for socket() alone), then
   * SO_TIMESTAMPNS, `rcvbuf`, `options` and `bind` from home. Datagrams are read by the I/O thread and
   * delivered to `onData` with their source address and receive time.
   */
  dgramOpen(opts: NativeDgramOpenOptions, cb: Callback<NativeDgramSocket>): void;
  /**
   * Queue one datagram for sendmsg on a worker, to `to` (a sockaddr) or, with null, the connected
   * peer. Datagrams of one socket are sent in order; a failure calls `onSendError(token, err)`.
   * The bytes are copied.
   */
  dgramSend(id: number, buf: Buffer, to: Buffer | null, token: number): void;
  /** bind(2) on a worker; resolves getsockname() afterwards. */
  dgramBind(id: number, addr: Buffer, cb: Callback<Buffer>): void;
  /** setsockopt(2) on a worker (SO_ATTACH_FILTER, PACKET_ADD_MEMBERSHIP, ...). */
  dgramSetOption(id: number, level: number, name: number, value: Buffer, cb: Callback<void>): void;
  /** getsockopt(2) on a worker with a `maxLength`-byte buffer; resolves the bytes the kernel wrote (PACKET_STATISTICS, ...). */
  dgramGetOption(id: number, level: number, name: number, maxLength: number, cb: Callback<Buffer>): void;
  /** Close the socket (its fd is released by the I/O thread a moment later). No callback is made for it afterwards. Idempotent. */
  dgramClose(id: number): void;

  // ---- inside a namespace: sysctl, sockets, PIDs (native/ns_misc_bindings.cc) ------------------
  /**
   * Read a file under /proc/sys/net/ from inside the namespace behind `nsFd` (a worker enters it
   * with setns, opens and reads, and comes back). `path` must be `/proc/sys/net/...` without empty,
   * `.` or `..` components. Resolves the raw contents (with the kernel's trailing newline).
   */
  sysctlRead(nsFd: number, path: string, cb: Callback<string>): void;
  /** Write `value` in one write(2) to a file under /proc/sys/net/, from inside the namespace. */
  sysctlWrite(nsFd: number, path: string, value: string, cb: Callback<void>): void;
  /**
   * socket(2) inside the namespace (SOCK_CLOEXEC|SOCK_NONBLOCK); with `address`, also the options and
   * bind(2) (outside the namespace: the socket keeps it). The fd is the caller's to hand to Node (which
   * then owns and closes it) or to close with fs.closeSync; it is not one `closeFd` accepts.
   */
  inetSocket(nsFd: number, opts: NativeInetSocketOptions, cb: Callback<number>): void;
  /** PIDs whose network namespace is the one behind `nsFd`, checked through pidfds (sorted). */
  nsPids(nsFd: number, cb: Callback<number[]>): void;
  /** flock(fd, LOCK_EX) on a worker (blocks until granted); unlock by closing the fd. */
  fileLock(fd: number, cb: Callback<void>): void;
  /**
   * The CNI agent (lib/cni/agent.ts): read one shim request from the connected unix socket `fd`
   * within `timeoutMs` (native/cni_agent_ops.h), with the peer's SO_PEERCRED and the namespace fd it
   * passed (SCM_RIGHTS; -1 when none; close it with fs.closeSync, not `closeFd`).
   */
  cniShimReceive(fd: number, timeoutMs: number, cb: Callback<NativeCniShimRequest>): void;

  // ---- processes inside a namespace (native/spawn_ops.cc, native/spawn_bindings.cc) -----------------
  /**
   * `ip netns exec` without ip: a worker forks; the child enters the namespace (setns), gets its own
   * mount namespace (unshare, `/` made rslave), a sysfs for the namespace on /sys, the
   * /etc/netns/<etcName>/ binds, its stdio, closes every other fd, resets signals and exec's.
   * Calls back once the child has exec'd, or with the failing step's error (the child is reaped).
   */
  spawn(opts: NativeSpawnOptions, cb: Callback<NativeSpawned>): void;
  /** pidfd_send_signal to a child not yet reported exited. False when it has exited. */
  spawnKill(id: number, signal: number): boolean;

  // ---- process liveness ------------------------------------------------------------------------
  /** Keep the process alive while > 0 (counted): one `ref` per pending operation, matched by `unref`. */
  ref(): void;
  unref(): void;
  /**
   * Wake a worker for the buffers queued with `netlinkSend(..., defer = true)` (one wake-up for all
   * of them). Then, when `pollUs` > 0 and at most one job is outstanding, spin up to `pollUs`
   * microseconds on the JS thread for its completion and run it now instead of after the loop's
   * wake-up; gives up early when no worker has taken the job, and skips polls after vain ones
   * (docs/performance.md, "Levers of the request path"). Returns how many completions ran.
   */
  netlinkFlush(pollUs: number): number;
  /** Number of threads the addon has started and that are alive (bounded, see docs/threading.md). */
  threadCount(): number;
  /** Upper bound on threadCount(): the fixed workers and I/O thread, plus the link-deletion senders. */
  maxThreads(): number;
  /** Bytes the C allocator has handed out and not had back (glibc mallinfo2; -1 elsewhere). For tests. */
  mallocInUse(): number;
  /** malloc_trim(0): give free pages back to the kernel; true when some were. For tests. */
  mallocTrim(): boolean;
}

let cached: NativeAddon | undefined;

/** Load the addon once. Throws a clear error off Linux. */
export function native(): NativeAddon {
  if (cached) return cached;
  if (process.platform !== 'linux') {
    throw new NetnsError(`netns-native works only on Linux (this is ${process.platform})`, { code: 'ERR_PLATFORM' });
  }
  const require = createRequire(import.meta.url);
  // dist/lib/native.js sits two levels below the package root, lib/native.ts (tests) one.
  const root = decodeURIComponent(new URL(import.meta.url.includes('/dist/lib/') ? '../..' : '..', import.meta.url).pathname);
  let addon: NativeAddon;
  try {
    // node-gyp-build: build/Release (a local build) first, then the prebuilt binary shipped in
    // prebuilds/linux-x64/ (docs/packaging.md). The local build is tried directly first, which is
    // what node-gyp-build would pick, without loading it and scanning directories: the CNI plugin
    // and the CLI pay this on every invocation (docs/cni.md "Speed").
    try {
      addon = require(`${root}/build/Release/netns_native.node`) as NativeAddon;
    } catch {
      const load = require('node-gyp-build') as (dir: string) => NativeAddon;
      addon = load(root);
    }
  } catch (e) {
    throw new NetnsError(
      `the netns-native addon is not available for ${process.platform}-${process.arch} (Node ${process.versions.node}): ` +
        `no prebuilt binary matches and it was not built. Build it with \`npm rebuild netns-native\` ` +
        `(needs python3, make and g++), or reinstall without --ignore-scripts. (${(e as Error).message.split('\n')[0]})`,
      { code: 'ERR_ADDON_MISSING', cause: e },
    );
  }
  addon.setErrnoNames(errnoNames());
  cached = addon;
  return cached;
}

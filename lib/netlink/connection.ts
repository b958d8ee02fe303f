/**
 * The netlink protocol over one socket: sequence numbers, matching answers to requests, multipart
 * dumps, ACK/DONE/ERROR handling, NLM_F_DUMP_INTR retries, a bounded window of requests in flight,
 * and coalescing of requests made in the same tick into one sendmsg.
 *
 * The state machine only sees a {@link Transport}, so it can be driven by datagrams recorded from the
 * kernel in unit tests; {@link openNetlink} binds it to a socket made by the addon.
 * @module
 */
import { ClosedError, DumpInterruptedError, NetlinkError, NetnsError, RequestAbortedError, ValidationError, fromNative, withCallerFrames } from '../errors.js';
import { native, type NativeError, type NativeNetlinkOpenOptions, type NativeNetlinkSocket } from '../native.js';
import {
  NETLINK_ROUTE,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  NLM_F_ACK,
  NLM_F_CAPPED,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
} from './constants.js';
import { encodeMessage, parseDatagram, parseDonePayload, parseErrorPayload, type NetlinkMessage } from './message.js';
import { DEBUG, logAnswer, logRequest } from './debug.js';

const EMPTY = Buffer.alloc(0);

/**
 * One datagram from the kernel, or the sequence number of a plain ACK: a datagram holding nothing but
 * one NLMSG_ERROR with error 0 (no extended-ack attributes), which the addon's request sockets hand
 * over as a number instead of a Buffer (docs/performance.md, "Request path (path)").
 */
export type Answer = Buffer | number;

/**
 * The message a plain ACK of `seq` stands for (for logging and `onUnsolicited`): error 0 and an
 * echoed request header of which only the length and sequence number are kept.
 */
function ackMessage(seq: number, pid: number): NetlinkMessage {
  const payload = Buffer.alloc(4 + NLMSG_HDRLEN);
  payload.writeUInt32LE(NLMSG_HDRLEN, 4);
  payload.writeUInt32LE(seq, 4 + 8);
  return { type: NLMSG_ERROR, flags: NLM_F_CAPPED, seq, pid, payload };
}

/** What the connection needs from a socket. */
export interface Transport {
  /** Port id of the socket (nlmsg_pid of the kernel's answers to it). */
  readonly portId: number;
  /**
   * Send one buffer holding whole messages; failures come back through `onSendError(token)`.
   * `ackSeq`, when given, says the buffer holds no dump and every message asks for an ACK, the
   * last one with this sequence number (the addon's transport reads no further than that ACK).
   */
  send(buf: Buffer, token: number, ackSeq?: number): void;
  close(): void;
  /** Keep the process alive while requests are pending. */
  ref(): void;
  /** Called once after a flush handed buffers to `send` (the addon's transport polls for the answer). */
  afterFlush?(): void;
  unref(): void;
}

/** Tuning of a connection. */
export interface ConnectionOptions {
  /** Requests sent but not yet answered, at most (protects the receive buffer from ACK floods). */
  maxInFlight?: number;
  /** How many times a dump interrupted by concurrent changes is restarted before failing. */
  dumpRetries?: number;
  /** Largest buffer handed to one sendmsg. */
  maxBatchBytes?: number;
  /**
   * Milliseconds after which a request that got no complete answer fails with 'ETIMEDOUT' (default
   * 120,000: generous, since a request may wait behind RTNL or an RCU grace period). 0 disables it.
   */
  timeout?: number;
}

/** Per-call options of {@link NetlinkConnection.request} and {@link NetlinkConnection.dump}. */
export interface RequestOptions {
  /** Fail with 'ABORT_ERR' when this signal fires. */
  signal?: AbortSignal;
  /** Overrides the connection's timeout for this call (milliseconds; 0: none). */
  timeout?: number;
}

interface Pending {
  seq: number;
  type: number;
  flags: number;
  body: Uint8Array;
  dump: boolean;
  operation?: string;
  messages: NetlinkMessage[];
  interrupted: boolean;
  attempts: number;
  resolve: (m: NetlinkMessage[]) => void;
  reject: (e: Error) => void;
  /** Members of one transaction: sent in one sendmsg, in order. */
  group?: Pending[];
  /** The error this member failed with (transactions only). */
  failedWith?: Error;
  /** Absolute deadline (ms, performance.now()), or 0 for none. */
  deadline: number;
  /** The sendmsg buffer it went out in (onSendError's token); 0 before it is sent. */
  token: number;
  /** Removes the AbortSignal listener once settled. */
  cleanup?: () => void;
  settled?: boolean;
  /** An aborted dump left to finish in the kernel: its messages are dropped, its DONE frees the socket. */
  draining?: boolean;
  /** Not a request: work of {@link NetlinkConnection.exclusive}, started when it reaches the head of the queue. */
  exclusive?: () => void;
}

const DEFAULTS: Required<ConnectionOptions> = { maxInFlight: 256, dumpRetries: 10, maxBatchBytes: 64 * 1024, timeout: 120_000 };

/** How often deadlines are checked (the timeout's resolution). */
const SWEEP_MS = 250;

/**
 * Datagrams handled per event-loop turn, across every connection of the process. The addon delivers
 * whatever arrived while the JS thread was busy in one callback, and every answer handled there
 * resumes its caller in the same turn (microtasks), which typically encodes and sends the next
 * request: 0.1-0.3 ms of JS each. Handled all at once, 50-150 answers made turns of 10-30 ms in the
 * 200-pod benchmark; the rest now waits for the next turn (setImmediate), so timers and I/O run in
 * between. Measured there: event-loop max 10-13 ms instead of 12-25, p99 6-7 instead of 6-10, at
 * the same throughput (docs/performance.md).
 */
export const DATAGRAMS_PER_TURN = 8;

/**
 * How long (µs) the JS thread may spin for the answer of a request it just handed to a worker when
 * that is the only job outstanding (`netlinkFlush` in lib/native.ts): an awaited request's answer then
 * resolves without the event loop's wake-up. Bounded per poll, at most one poll per microtask
 * checkpoint, and none once the turn's datagram budget is spent, so the loop's other work still gets
 * its turn after {@link DATAGRAMS_PER_TURN} answers (docs/performance.md, "Levers of the request
 * path"). NETNS_NATIVE_POLL_US overrides it; 0 disables.
 */
let POLL_US = pollMicros();

/**
 * Sets the poll bound (µs; 0 disables) at run time, so that an A/B measurement can alternate it
 * within one process. NETNS_NATIVE_POLL_US sets it at load.
 * @internal
 */
export function setPollMicros(us: number): void {
  if (!Number.isInteger(us) || us < 0 || us > 1000) throw new RangeError('poll bound must be an integer 0..1000');
  POLL_US = us;
}
/** NETNS_NATIVE_DEFER=0: every send wakes a worker itself (for A/B measurements). */
const DEFER = process.env.NETNS_NATIVE_DEFER !== '0';

function pollMicros(): number {
  const v = process.env.NETNS_NATIVE_POLL_US;
  const n = v === undefined || v === '' ? NaN : Number(v);
  return Number.isInteger(n) && n >= 0 && n <= 1000 ? n : 100;
}

let pollQueued = false;

/**
 * After a flush: once every flush of this microtask checkpoint has queued its buffers (with
 * `defer`), one worker wake-up for all of them, then the poll.
 */
function scheduleSubmit(): void {
  if (pollQueued) return;
  pollQueued = true;
  queueMicrotask(() => {
    pollQueued = false;
    const poll = POLL_US > 0 && turn.used < DATAGRAMS_PER_TURN && turn.polls < DATAGRAMS_PER_TURN;
    if (poll) {
      turn.polls++;
      if (!turn.renewal) {
        turn.renewal = true;
        setImmediate(renewTurn);
      }
    }
    native().netlinkFlush(poll ? POLL_US : 0);
  });
}

/** The process-wide budget of {@link DATAGRAMS_PER_TURN}, renewed at each turn's check phase. */
const turn = {
  used: 0,
  /** Polls made this turn ({@link scheduleSubmit}); at most DATAGRAMS_PER_TURN. */
  polls: 0,
  renewal: false,
  /** Connections with datagrams left over, in the order they ran out of budget. */
  backlog: [] as NetlinkConnection[],
};

/** How many of `wanted` datagrams may be handled now. */
function grant(wanted: number): number {
  if (!turn.renewal) {
    turn.renewal = true;
    setImmediate(renewTurn);
  }
  const n = Math.min(wanted, DATAGRAMS_PER_TURN - turn.used);
  turn.used += n;
  return n;
}

function renewTurn(): void {
  turn.renewal = false;
  turn.used = 0;
  turn.polls = 0;
  const waiting = turn.backlog.splice(0);
  for (const c of waiting) c.drainInbox();
}

/**
 * A request/response netlink connection. Not for multicast events: a request socket never joins
 * groups (docs/architecture.md, "Protocol"); events use lib/netlink/subscription.ts.
 */
export class NetlinkConnection {
  private readonly opts: Required<ConnectionOptions>;
  private nextSeq = 1;
  private readonly inFlight = new Map<number, Pending>();
  private readonly waiting: Pending[] = [];
  private nextToken = 1;
  private flushScheduled = false;
  private dumpActive = false;
  /** An {@link exclusive} task runs: nothing more is sent until it settles. */
  private holding = false;
  private closed = false;
  private referenced = false;
  /**
   * Datagrams received and not handled yet (over the turn's budget), oldest at `inboxHead`; a number
   * stands for a plain ACK of that sequence number ({@link Answer}).
   */
  private inbox: Answer[] = [];
  private inboxHead = 0;
  private inBacklog = false;
  /** Messages that answer no request of ours (seq 0, or a late answer), for callers that want them. */
  onUnsolicited?: (msg: NetlinkMessage) => void;

  /** Set while a broken or overrun socket is being replaced: nothing is sent meanwhile. */
  private reopening = false;
  private sweeper: ReturnType<typeof setInterval> | undefined;
  /** The sweeper's period (ms). */
  private sweepEvery = SWEEP_MS;

  /**
   * @param reopen makes a fresh socket in the same namespace. With it, a socket that overran
   *   (ENOBUFS) or broke is replaced: what was in flight fails, what was waiting is sent on the new
   *   socket (docs/errors.md, "Every call settles"). Without it such a connection closes itself.
   * @internal {@link openNetlink} makes connections.
   */
  constructor(private transport: Transport, opts: ConnectionOptions = {}, private readonly reopen?: () => Promise<Transport>) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  /** The socket's port id. */
  get portId(): number {
    return this.transport.portId;
  }

  /** Whether `t` is the socket currently in use. @internal */
  isTransport(t: Transport): boolean {
    return this.transport === t;
  }

  /** Requests waiting or in flight. */
  get pending(): number {
    return this.inFlight.size + this.waiting.length;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Send a request with NLM_F_REQUEST|NLM_F_ACK and resolve with the messages it got before its ACK
   * (a GET's answer, an ECHO), or reject with the kernel's error.
   */
  request(type: number, flags: number, body: Uint8Array, operation?: string, options?: RequestOptions): Promise<NetlinkMessage[]> {
    return withCallerFrames(this.enqueue(type, NLM_F_REQUEST | NLM_F_ACK | flags, body, false, operation, options));
  }

  /** Send a dump request and resolve with every message of the dump (NLMSG_DONE excluded). */
  dump(type: number, body: Uint8Array, operation?: string, flags = 0, options?: RequestOptions): Promise<NetlinkMessage[]> {
    return withCallerFrames(this.enqueue(type, NLM_F_REQUEST | NLM_F_DUMP | flags, body, true, operation, options));
  }

  /**
   * Send `messages` in one sendmsg of their own (nothing else shares it: the kernel drops what follows
   * a batch's END in the same skb), in order, each with NLM_F_REQUEST|NLM_F_ACK, and settle each one
   * separately. For nfnetlink batches (NFNL_MSG_BATCH_BEGIN ... NFNL_MSG_BATCH_END), which the kernel
   * reads from one skb. The kernel's answers come in order; two of them may never come, and are then
   * settled with the error that explains why: when the first message (the batch's BEGIN) fails, nothing
   * after it is processed; when any other message fails the batch is aborted and its last message
   * (the END) is not acknowledged.
   */
  transaction(messages: readonly { type: number; flags: number; body: Uint8Array }[], operation?: string): Promise<PromiseSettledResult<NetlinkMessage[]>[]> {
    if (this.closed) return Promise.allSettled(messages.map(() => Promise.reject(new ClosedError('netlink connection', operation))));
    const group: Pending[] = [];
    const done = messages.map(
      (m) =>
        new Promise<NetlinkMessage[]>((resolve, reject) => {
          group.push(this.track({ seq: 0, type: m.type, flags: NLM_F_REQUEST | NLM_F_ACK | m.flags, body: m.body, dump: false, operation, messages: [], interrupted: false, attempts: 0, resolve, reject, group, deadline: 0, token: 0 }));
        }),
    );
    this.waiting.push(...group);
    this.updateRef();
    this.scheduleFlush();
    return Promise.allSettled(done);
  }

  /**
   * Run `fn` once every request made before this call has settled, and hold the requests made after
   * it until `fn` has settled: for a request that goes out on a socket of its own (`links.delete`,
   * docs/threading.md "Link deletions: sender threads") and must still take effect in the order the
   * requests were made. Rejects with {@link ClosedError} if the connection closes before `fn` starts.
   * @internal
   */
  exclusive<T>(fn: () => Promise<T>, operation?: string): Promise<T> {
    if (this.closed) return Promise.reject(new ClosedError('netlink connection', operation));
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        new Promise<T>((r) => r(fn()))
          .then(resolve, reject)
          .finally(() => {
            this.holding = false;
            this.updateRef();
            if (this.waiting.length > 0) this.scheduleFlush();
          });
      };
      this.waiting.push({ seq: 0, type: 0, flags: 0, body: EMPTY, dump: false, operation, messages: [], interrupted: false, attempts: 0, resolve: () => undefined, reject, deadline: 0, token: 0, exclusive: start });
      this.updateRef();
      this.scheduleFlush();
    });
  }

  /** Close the socket and reject everything pending with {@link ClosedError}. Idempotent. */
  close(): void {
    this.shutDown((p) => new ClosedError('netlink connection', p.operation));
  }

  /** Close, failing everything pending with `errorFor(request)`. */
  private shutDown(errorFor: (p: Pending) => Error): void {
    if (this.closed) return;
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const p of this.inFlight.values()) p.reject(errorFor(p));
    for (const p of this.waiting) p.reject(errorFor(p));
    this.inFlight.clear();
    this.waiting.length = 0;
    this.inbox = [];
    this.inboxHead = 0;
    this.updateRef();
    this.transport.close();
  }

  private enqueue(type: number, flags: number, body: Uint8Array, dump: boolean, operation?: string, options: RequestOptions = {}): Promise<NetlinkMessage[]> {
    if (this.closed) return Promise.reject(new ClosedError('netlink connection', operation));
    // Checked here, not when the batch is encoded in a later microtask, where a throw would escape
    // every promise and end the process (docs/errors.md, "Errors are NetnsErrors").
    if (!(body instanceof Uint8Array)) return Promise.reject(new ValidationError('body', body, 'must be a Buffer or Uint8Array'));
    if (!Number.isInteger(type) || type < 0 || type > 0xffff || !Number.isInteger(flags) || flags < 0 || flags > 0xffff) return Promise.reject(new ValidationError('type/flags', [type, flags], 'must be 16-bit integers'));
    if (operation !== undefined && typeof operation !== 'string') return Promise.reject(new ValidationError('operation', operation, 'must be a string'));
    if (options.signal?.aborted) return Promise.reject(new RequestAbortedError('ABORT_ERR', operation, 'aborted before it was sent', options.signal.reason));
    return new Promise((resolve, reject) => {
      const p = this.track({ seq: 0, type, flags, body, dump, operation, messages: [], interrupted: false, attempts: 0, resolve, reject, deadline: 0, token: 0 }, options);
      this.waiting.push(p);
      this.updateRef();
      this.scheduleFlush();
    });
  }

  /**
   * Give a request its deadline and abort listener, and make resolve/reject settle it once (a late
   * answer after a timeout is ignored).
   */
  private track(p: Pending, options: RequestOptions = {}): Pending {
    const timeout = options.timeout ?? this.opts.timeout;
    if (timeout > 0) {
      p.deadline = performance.now() + timeout;
      // A timeout shorter than the running sweep's period gets a faster sweep, or a 1 ms timeout
      // behind a 120 s one would only be checked 250 ms later (docs/errors.md, "Every call settles").
      const every = Math.min(SWEEP_MS, timeout);
      if (!this.sweeper || every < this.sweepEvery) {
        if (this.sweeper) clearInterval(this.sweeper);
        this.sweepEvery = every;
        this.sweeper = setInterval(() => this.sweep(), every);
        this.sweeper.unref();
      }
    }
    const { resolve, reject } = p;
    const settle = () => {
      p.settled = true;
      p.cleanup?.();
    };
    p.resolve = (m) => { if (!p.settled) { settle(); resolve(m); } };
    p.reject = (e) => { if (!p.settled) { settle(); reject(e); } };
    const signal = options.signal;
    if (signal) {
      const onAbort = () => this.abandon(p, new RequestAbortedError('ABORT_ERR', p.operation, 'aborted', signal.reason));
      signal.addEventListener('abort', onAbort, { once: true });
      p.cleanup = () => signal.removeEventListener('abort', onAbort);
    }
    return p;
  }

  /** Fail requests whose deadline passed. */
  private sweep(): void {
    const now = performance.now();
    const late = [...this.waiting, ...this.inFlight.values()].filter((p) => p.deadline > 0 && p.deadline <= now);
    for (const p of late) this.abandon(p, new RequestAbortedError('ETIMEDOUT', p.operation, 'no complete answer from the kernel within the timeout'));
    if (this.pending === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /**
   * Give up on a request (timeout, abort). Not sent yet: it is simply dropped. In flight: its late
   * answer will be ignored; a dump still running in the kernel would make the socket's next dump
   * fail (EBUSY), so the socket is replaced.
   */
  private abandon(p: Pending, err: Error): void {
    if (p.settled) {
      // An aborted dump still not finished at its deadline: now the socket is suspect.
      if (p.draining && this.inFlight.get(p.seq) === p) {
        this.inFlight.delete(p.seq);
        this.dumpActive = false;
        this.recover(err);
      }
      return;
    }
    const i = this.waiting.indexOf(p);
    if (i >= 0) {
      this.waiting.splice(i, 1);
      p.reject(err);
    } else if (this.inFlight.get(p.seq) === p && p.dump && (err as NetnsError).code === 'ABORT_ERR') {
      // The caller gave up, the socket is fine: replacing it would fail every other request in
      // flight on it with this abort (changes the kernel may have made). Let the kernel finish the
      // dump instead; its answers are dropped (docs/errors.md, "Every call settles").
      p.draining = true;
      p.reject(err);
    } else if (this.inFlight.get(p.seq) === p) {
      this.inFlight.delete(p.seq);
      p.reject(err);
      if (p.dump) {
        this.dumpActive = false;
        this.recover(err);
      }
    }
    this.updateRef();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // A microtask: every request made synchronously in this tick shares one sendmsg.
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private allocSeq(): number {
    for (;;) {
      const s = this.nextSeq;
      this.nextSeq = this.nextSeq >= 0xffffffff ? 1 : this.nextSeq + 1;
      if (!this.inFlight.has(s)) return s;
    }
  }

  private flush(): void {
    if (this.closed || this.reopening) return;
    const parts: Buffer[] = [];
    let bytes = 0;
    let sentAny = false;
    let lastSeq = 0;
    /** The buffer being built holds only requests (no dump, no transaction): each asks for an ACK. */
    let acked = true;
    // Every request put into the buffer being built already carries the token it will go out with.
    let token = this.nextToken++;
    let now = 0;
    const send = () => {
      if (parts.length === 0) return;
      this.transport.send(parts.length === 1 ? parts[0] : Buffer.concat(parts, bytes), token, acked ? lastSeq : 0);
      token = this.nextToken++;
      sentAny = true;
      parts.length = 0;
      bytes = 0;
      acked = true;
    };
    // FIFO: a dump waits for the previous dump (the kernel runs one per socket), and what was asked
    // after it waits too, so requests take effect in the order they were made.
    while (this.waiting.length > 0 && this.inFlight.size < this.opts.maxInFlight && !this.holding) {
      const p = this.waiting[0];
      if (p.exclusive) {
        // Starts once what was asked before it has settled; what was asked after it waits.
        if (this.inFlight.size > 0) break;
        this.waiting.shift();
        this.holding = true;
        p.exclusive();
        break;
      }
      if (p.dump && this.dumpActive) break;
      if (p.group && p.group[0] === p) {
        // A transaction goes whole into a sendmsg of its own: the kernel reads one nfnetlink batch
        // per skb and drops whatever follows its END, so nothing may share the buffer.
        if (this.inFlight.size + p.group.length > this.opts.maxInFlight && this.inFlight.size > 0) break;
        send();
        // nfnetlink acknowledges no message after a failed one in a batch: read to EAGAIN.
        acked = false;
        for (const q of p.group) {
          q.seq = this.allocSeq();
          this.inFlight.set(q.seq, q);
          const msg = encodeMessage(q.type, q.flags, q.seq, q.body);
          if (DEBUG) logRequest(this.transport.portId, msg, q.operation);
          q.token = token;
          parts.push(msg);
          bytes += msg.length;
        }
        this.waiting.splice(0, p.group.length);
        send();
        continue;
      }
      this.waiting.shift();
      if (p.deadline > 0 && p.deadline <= (now ||= performance.now())) {
        // Past its deadline before the sweep saw it: not sent (docs/errors.md, "Every call settles").
        p.reject(new RequestAbortedError('ETIMEDOUT', p.operation, 'no complete answer from the kernel within the timeout'));
        continue;
      }
      p.seq = this.allocSeq();
      if (p.dump) this.dumpActive = true;
      this.inFlight.set(p.seq, p);
      const msg = encodeMessage(p.type, p.flags, p.seq, p.body);
      if (DEBUG) logRequest(this.transport.portId, msg, p.operation);
      if (bytes + msg.length > this.opts.maxBatchBytes) send();
      if (p.dump || !(p.flags & NLM_F_ACK)) acked = false;
      p.token = token;
      lastSeq = p.seq;
      parts.push(msg);
      bytes += msg.length;
    }
    send();
    if (sentAny) this.transport.afterFlush?.();
  }

  /**
   * Feed datagrams received from the kernel (in order). Up to the turn's budget
   * (`DATAGRAMS_PER_TURN`) they are handled at once; the rest in later turns, still in order.
   * @internal
   */
  feed(datagrams: readonly Answer[]): void {
    if (this.closed) return;
    for (const d of datagrams) this.inbox.push(d);
    this.drainInbox();
  }

  /** Handle what the turn's budget allows of the inbox; queue the connection for the next turn if more is left. @internal */
  drainInbox(budgeted = true): void {
    this.inBacklog = false;
    const left = this.inbox.length - this.inboxHead;
    const n = budgeted ? grant(left) : left;
    for (let i = 0; i < n && !this.closed; i++) {
      const d = this.inbox[this.inboxHead];
      this.inbox[this.inboxHead++] = EMPTY;
      if (typeof d === 'number') this.onAck(d);
      else for (const m of parseDatagram(d).messages) this.onMessage(m);
    }
    if (this.inboxHead === this.inbox.length) {
      this.inbox.length = 0;
      this.inboxHead = 0;
    } else if (this.inboxHead > 1024) {
      this.inbox = this.inbox.slice(this.inboxHead);
      this.inboxHead = 0;
    }
    if (this.closed) return;
    if (this.inboxHead < this.inbox.length && !this.inBacklog) {
      this.inBacklog = true;
      turn.backlog.push(this);
    }
    this.updateRef();
    if (this.waiting.length > 0) this.scheduleFlush();
  }

  /** A plain ACK, delivered by the addon as the sequence number it answers. */
  private onAck(seq: number): void {
    const p = this.inFlight.get(seq);
    if (!p || DEBUG || this.onUnsolicited) {
      this.onMessage(ackMessage(seq, this.transport.portId));
      return;
    }
    this.finish(p);
  }

  private onMessage(m: NetlinkMessage): void {
    if (DEBUG) logAnswer(this.transport.portId, m);
    const p = m.pid === this.transport.portId || m.pid === 0 ? this.inFlight.get(m.seq) : undefined;
    if (!p) {
      this.onUnsolicited?.(m);
      return;
    }
    if (m.flags & NLM_F_DUMP_INTR) p.interrupted = true;
    switch (m.type) {
      case NLMSG_NOOP:
      case NLMSG_OVERRUN:
        return;
      case NLMSG_ERROR: {
        const e = parseErrorPayload(m);
        if (e.error === 0) this.finish(p);
        else this.fail(p, new NetlinkError(-e.error, { type: p.type, flags: p.flags, seq: p.seq }, e, p.operation));
        return;
      }
      case NLMSG_DONE: {
        if (!p.dump) {
          p.messages.push(m);
          return;
        }
        const e = parseDonePayload(m);
        if (e.error < 0) this.fail(p, new NetlinkError(-e.error, { type: p.type, flags: p.flags, seq: p.seq }, e, p.operation));
        else this.finish(p);
        return;
      }
      default:
        if (!p.draining) p.messages.push(m);
    }
  }

  private finish(p: Pending): void {
    this.inFlight.delete(p.seq);
    if (p.draining) {
      this.dumpActive = false;
      return;
    }
    if (p.group && p.group.some((q) => q.failedWith)) {
      const first = p.group.find((q) => q.failedWith)!;
      this.settleOrphans(p.group, first, first.failedWith!);
    }
    if (p.dump) {
      this.dumpActive = false;
      if (p.interrupted) {
        p.attempts++;
        if (p.attempts <= this.opts.dumpRetries) {
          // Restart from scratch; the kernel's generation counter moved under us.
          p.messages = [];
          p.interrupted = false;
          this.waiting.unshift(p);
          this.scheduleFlush();
          return;
        }
        p.reject(new DumpInterruptedError(p.messages, p.attempts, p.operation));
        return;
      }
    }
    p.resolve(p.messages);
  }

  private fail(p: Pending, err: Error): void {
    this.inFlight.delete(p.seq);
    if (p.dump) this.dumpActive = false;
    p.reject(err);
    if (p.group) {
      p.failedWith = err;
      this.settleOrphans(p.group, p.group.find((q) => q.failedWith) ?? p, err);
    }
  }

  /** Settle the members of a failed transaction that the kernel will not answer (see {@link transaction}). */
  private settleOrphans(group: Pending[], failed: Pending, err: Error): void {
    const last = group[group.length - 1];
    const orphans = failed === group[0] ? group.slice(1) : group.slice(1, -1).every((q) => !this.inFlight.has(q.seq)) ? [last] : [];
    for (const q of orphans) {
      if (!this.inFlight.has(q.seq)) continue;
      this.inFlight.delete(q.seq);
      q.reject(err);
    }
  }

  /** sendmsg failed for a batch: each request in it fails with that error. @internal */
  onSendError(token: number, err: NativeError): void {
    // Rare: a scan of what is in flight (in the order it was sent) instead of a map kept per batch.
    for (const p of [...this.inFlight.values()]) {
      if (p.token === token && this.inFlight.get(p.seq) === p) this.fail(p, fromNative(err, p.operation));
    }
    this.updateRef();
    if (this.waiting.length > 0) this.scheduleFlush();
  }

  /**
   * The socket overran (ENOBUFS): answers may have been dropped by the kernel, so nothing in flight
   * can be trusted to ever complete. Fail those requests; later ones proceed.
   * @internal
   */
  onSocketError(err: NativeError): void {
    // What arrived before the error is handled first, whatever the budget: those answers are real.
    this.drainInbox(false);
    for (const p of [...this.inFlight.values()]) this.fail(p, fromNative(err, p.operation));
    // While a netlink socket stays congested the kernel drops answers without reporting ENOBUFS
    // again (it reports once per congestion), so requests sent now could wait forever: replace the
    // socket. A fatal error means the addon stopped reading it.
    if (err.fatal || err.code === 'ENOBUFS') this.recover(err);
    this.updateRef();
    if (this.waiting.length > 0) this.scheduleFlush();
  }

  /**
   * Replace the socket: everything in flight fails with `why`, waiting requests go out on the new
   * socket. Without a way to reopen, or when reopening fails, the connection closes with the error.
   */
  private recover(why: Error): void {
    if (this.closed || this.reopening) return;
    for (const p of [...this.inFlight.values()]) this.fail(p, why instanceof NetnsError ? why : fromNative(why as NativeError, p.operation));
    if (!this.reopen) {
      this.shutDown((p) => (why instanceof NetnsError ? why : fromNative(why as NativeError, p.operation)));
      return;
    }
    this.reopening = true;
    this.dumpActive = false;
    this.inbox = [];
    this.inboxHead = 0;
    const old = this.transport;
    old.close();
    this.reopen().then(
      (t) => {
        this.reopening = false;
        if (this.closed) {
          t.close();
          return;
        }
        this.transport = t;
        this.flush();
        this.updateRef();
      },
      (e: NativeError) => {
        this.reopening = false;
        this.shutDown((p) => fromNative(e, p.operation));
      },
    );
  }

  private updateRef(): void {
    const want = !this.closed && (this.pending > 0 || this.reopening);
    if (want === this.referenced) return;
    this.referenced = want;
    if (want) this.transport.ref();
    else this.transport.unref();
  }
}

/** Options of {@link openNetlink}. */
export interface OpenNetlinkOptions extends ConnectionOptions {
  /** Netlink protocol; NETLINK_ROUTE by default. */
  protocol?: number;
  /** Namespace fd to open the socket in; the process's own namespace when omitted. */
  nsFd?: number;
  /** SO_RCVBUF in bytes (at least 1 MiB is used). */
  rcvbuf?: number;
  /**
   * Initial receive size for one datagram; it grows when a datagram is larger (the addon peeks at
   * each datagram's size first, so nothing is ever truncated). The kernel sizes dump datagrams after
   * it (at most 32 KiB): a 2,000-address dump took 1.5 ms in 32 KiB datagrams and 2.9 ms in 4 KiB
   * ones. Default 32 KiB, which costs nothing per socket: the addon reads into one buffer per
   * reading thread (docs/threading.md, "The path of one request").
   */
  initialReadBuffer?: number;
}

/** Open a request/response connection on a socket created by the addon inside a namespace. */
export async function openNetlink(opts: OpenNetlinkOptions = {}): Promise<NetlinkConnection> {
  if (typeof opts !== 'object' || opts === null) throw new ValidationError('options', opts, 'must be an object');
  let conn: NetlinkConnection | undefined;
  const open = () => openTransport(opts, () => conn);
  conn = new NetlinkConnection(await open(), opts, open);
  return conn;
}

/**
 * For a job that opens a netlink socket as part of its own work (`nsCreate` makes the new
 * namespace's rtnetlink socket while it is inside it): the addon options to give it, and how to
 * turn the socket it returns into a connection like {@link openNetlink}'s (reopened through
 * `openNetlink`'s path when it breaks). `opts.nsFd` is only used for such a reopen.
 * @internal
 */
export function prepareNetlink(opts: OpenNetlinkOptions = {}): {
  /** Undefined with NETNS_NATIVE_CREATE_SOCKET=0 (for A/B measurements): the job opens none. */
  native: Omit<NativeNetlinkOpenOptions, 'nsFd'> | undefined;
  connect(sock: NativeNetlinkSocket, nsFd: number): NetlinkConnection;
} {
  let conn: NetlinkConnection | undefined;
  const binding = bindSocket(opts, () => conn);
  return {
    native: process.env.NETNS_NATIVE_CREATE_SOCKET === '0' ? undefined : binding.native,
    connect(sock, nsFd) {
      const reopenOpts = { ...opts, nsFd };
      conn = new NetlinkConnection(binding.wrap(sock), opts, () => openTransport(reopenOpts, () => conn));
      return conn;
    },
  };
}

/** One addon socket as a {@link Transport} whose datagrams and errors go to `target()`. */
function openTransport(opts: OpenNetlinkOptions, target: () => NetlinkConnection | undefined): Promise<Transport> {
  const { native: nativeOpts, wrap } = bindSocket(opts, target);
  return new Promise((resolve, reject) => {
    native().netlinkOpen({ ...nativeOpts, nsFd: opts.nsFd ?? -1 }, (err, sock) => {
      if (err || !sock) {
        reject(err ? fromNative(err, 'open netlink socket') : new NetnsError('open netlink socket failed', { code: 'ERR_INTERNAL' }));
        return;
      }
      resolve(wrap(sock));
    });
  });
}

/**
 * The addon options of a request socket whose callbacks reach `target()` only while the socket
 * wrapped by `wrap` is the connection's current one (callbacks of a replaced socket must not reach
 * the connection).
 */
function bindSocket(opts: OpenNetlinkOptions, target: () => NetlinkConnection | undefined): {
  native: Omit<NativeNetlinkOpenOptions, 'nsFd'>;
  wrap(sock: NativeNetlinkSocket): Transport;
} {
  const addon = native();
  let transport: Transport | undefined;
  const current = () => {
    const c = target();
    return c && transport && c.isTransport(transport) ? c : undefined;
  };
  return {
    native: {
      protocol: opts.protocol ?? NETLINK_ROUTE,
      groups: [],
      rcvbuf: opts.rcvbuf ?? 4 * 1024 * 1024,
      initialReadBuffer: opts.initialReadBuffer ?? 32 * 1024,
      onData: (d) => current()?.feed(d),
      onError: (e) => current()?.onSocketError(e),
      onSendError: (t, e) => current()?.onSendError(t, e),
    },
    wrap(sock) {
      let closed = false;
      transport = {
        portId: sock.portId,
        send: (buf, token, ackSeq) => addon.netlinkSend(sock.id, buf, token, DEFER, ackSeq),
        close: () => {
          if (closed) return;
          closed = true;
          addon.netlinkClose(sock.id);
        },
        ref: () => addon.ref(),
        unref: () => addon.unref(),
        afterFlush: scheduleSubmit,
      };
      return transport;
    },
  };
}

/**
 * Network namespace handles: create, open, list, delete.
 * @module
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect, type InspectOptionsStylized } from 'node:util';
import { ClosedError, DumpInterruptedError, NetnsError, ValidationError, fromNative, isNotFound, withCallerFrames } from '../../errors.js';
import { native, type NativeNetlinkSocket, type NativeNsInfo, type NativeSweepResult } from '../../native.js';
import { openNetlink, prepareNetlink, type NetlinkConnection } from '../../netlink/connection.js';
import { NETLINK_ROUTE, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST } from '../../netlink/constants.js';
import { RTM_DELLINK, RTM_GETLINK } from '../../rtnl/constants.js';
import { NS_CONTEXT, type NetnsHandle, type NetnsIdentity, type NsContext } from '../context.js';
import { homeConnection, queryNsid } from '../nsid/query.js';
import { NETNS_RUN_DIR } from './paths.js';
import { validateNetnsName } from '../../validate/names.js';
import { checkKeys } from '../../validate/options.js';
import { callNative } from '../../native_call.js';
import { namespaceLane } from './lane.js';
import { Links } from '../link/index.js';
import { deletionError, refusalError } from '../link/unlisted.js';
import { Addresses } from '../address/index.js';
import { Neighbours } from '../neighbour/index.js';
import { Nsids } from '../nsid/index.js';
import { Routes } from '../route/index.js';
import { Tc } from '../tc/index.js';
import { Dns } from '../../process/dns.js';
import { execIn, spawnIn, type ExecOptions, type ExecResult, type NetnsProcess, type SpawnOptions } from '../../process/spawn.js';
import type dgram from 'node:dgram';
import type net from 'node:net';
import { Sysctl } from '../../process/sysctl.js';
import { Firewall } from '../firewall/index.js';
import { Events } from '../events/index.js';
import { Stats } from '../stats/index.js';
import { Diag } from '../diag/index.js';
import { ping, type PingOptions, type PingResult } from '../../observe/ping.js';
import { capture, captureToFile, type CaptureOptions, type CaptureStream, type CaptureSummary } from '../../observe/capture.js';
import { cleanupOrphans, inventory, type Inventory, type InventoryOptions, type OrphanCleanupOptions, type OrphanRemoval } from '../../observe/inventory.js';
import { pinnedNamesOf } from '../../process/identify.js';
import { connectIn, createServerIn, createUdpSocketIn, listenIn, type NsConnectOptions, type NsListenOptions, type NsServerOptions, type NsUdpOptions } from '../../process/sockets.js';

export { NETNS_RUN_DIR, type NetnsIdentity };

/** The per-namespace families a handle makes on first use. */
type FamilyName = 'links' | 'addresses' | 'routes' | 'neighbours' | 'nsids' | 'dns' | 'sysctl' | 'tc' | 'firewall' | 'events' | 'stats' | 'diag';

/** One entry of {@link Netns.list}. */
export interface NetnsListEntry {
  /** Name under /run/netns. */
  name: string;
  /** Full path of the pin. */
  path: string;
  /** The id the calling namespace assigned to it (`ip netns list` shows `(id: N)`), if any. */
  nsid?: number;
  /** Identity of the namespace, or undefined when the pin is stale (not a namespace any more). */
  identity?: NetnsIdentity;
}

/** Options of {@link Netns.delete}. */
export interface DeleteOptions {
  /** Report a missing namespace by resolving `false` instead of throwing (idempotent teardown). */
  ifExists?: boolean;
}

/**
 * A handle on one network namespace, holding an fd to it. Verbs act inside the namespace:
 * `ns.links`, and the families added on top of it.
 *
 * @example
 * ```ts
 * import { Netns } from 'netns-native';
 * await using ns = await Netns.create('blue');   // ip netns add blue
 * await ns.links.setUp('lo');                    // ip -n blue link set lo up
 * await ns.delete();                             // ip netns delete blue
 * ```
 */
export class Netns implements AsyncDisposable, NetnsHandle {
  /** Name under /run/netns, for named namespaces. */
  readonly name: string | undefined;
  /** Path the handle was opened from (a pin, /proc/PID/ns/net, ...), if any. */
  readonly path: string | undefined;
  /** Device and inode of the namespace. */
  readonly identity: NetnsIdentity;
  /** What the families see of this handle. @internal */
  readonly [NS_CONTEXT]: NsContext;
  private fdValue: number;
  /** Deleted, not just closed, at dispose (see {@link Netns.temporary}). */
  private temporary = false;
  /** Request connections by netlink protocol, opened on first use, closed with the handle. */
  private readonly conns = new Map<number, Promise<NetlinkConnection>>();
  /** The opened connections, once resolved (to see synchronously that one closed itself). */
  private readonly connValues = new Map<number, NetlinkConnection>();

  private constructor(info: NativeNsInfo, name?: string, path?: string) {
    this.fdValue = info.fd;
    this.identity = { dev: info.dev, ino: info.ino };
    this.name = name;
    this.path = path;
    this[NS_CONTEXT] = new HandleContext(this, name, path, this.identity);
  }

  // The families are made on first use: a pod's handle uses two or three of the twelve, and making
  // them all cost each Netns.create tens of µs (docs/performance.md, "Verbs (verbs2)").
  private families: { [K in FamilyName]?: Netns[K] } = {};

  /** Links of this namespace (`ip -n NAME link ...`). */
  get links(): Links {
    return (this.families.links ??= new Links(this[NS_CONTEXT]));
  }

  /** IP addresses of this namespace (`ip -n NAME address ...`). */
  get addresses(): Addresses {
    return (this.families.addresses ??= new Addresses(this[NS_CONTEXT]));
  }

  /** Routes of this namespace (`ip -n NAME route ...`). */
  get routes(): Routes {
    return (this.families.routes ??= new Routes(this[NS_CONTEXT]));
  }

  /** Neighbour (ARP/NDP) table of this namespace (`ip -n NAME neigh ...`). */
  get neighbours(): Neighbours {
    return (this.families.neighbours ??= new Neighbours(this[NS_CONTEXT]));
  }

  /** Ids this namespace gives its peers (`ip -n NAME netns set|list-id`). */
  get nsids(): Nsids {
    return (this.families.nsids ??= new Nsids(this[NS_CONTEXT]));
  }

  /** DNS settings for processes started in this named namespace (/etc/netns/NAME/resolv.conf). */
  get dns(): Dns {
    return (this.families.dns ??= new Dns(this[NS_CONTEXT]));
  }

  /** sysctls under `net.` of this namespace (`ip netns exec NAME sysctl ...`). */
  get sysctl(): Sysctl {
    return (this.families.sysctl ??= new Sysctl(this[NS_CONTEXT]));
  }

  /** Traffic control of this namespace: qdiscs, classes, filters, shaping (`tc -n NAME ...`). */
  get tc(): Tc {
    return (this.families.tc ??= new Tc(this[NS_CONTEXT]));
  }

  /** nf_tables firewall and NAT of the namespace (`nft`, `iptables -t nat`): masquerade, SNAT, DNAT, filters, the whole ruleset read back. */
  get firewall(): Firewall {
    return (this.families.firewall ??= new Firewall(this[NS_CONTEXT]));
  }

  /** Link, address, route and neighbour changes (`ip -n NAME monitor`). */
  get events(): Events {
    return (this.families.events ??= new Events(this[NS_CONTEXT]));
  }

  /** Link counters and rates over time (`watch ip -n NAME -s link`). */
  get stats(): Stats {
    return (this.families.stats ??= new Stats(this[NS_CONTEXT]));
  }

  /** TCP and UDP sockets of the namespace (`ip netns exec NAME ss -tunap`, `ss -s`). */
  get diag(): Diag {
    return (this.families.diag ??= new Diag(this[NS_CONTEXT]));
  }

  /**
   * ICMP echo (IPv4 or IPv6) from inside this namespace, with per-reply RTTs and ping's summary.
   * No process is started: an ICMP socket is made in the namespace (see {@link ping}).
   *
   * Equivalent to: `ip netns exec NAME ping -c 3 ADDRESS`
   * @example
   * ```ts
   * const r = await ns.ping('10.0.0.2', { count: 3, intervalMs: 200 });
   * if (r.lossPercent > 0) console.log(`${r.lossPercent}% loss`);
   * ```
   */
  ping(address: string, options: PingOptions = {}): Promise<PingResult> {
    return ping(this, address, options);
  }

  /**
   * Capture packets on an interface of this namespace (or all), as an async iterator; see
   * {@link capture}.
   *
   * Equivalent to: `ip netns exec NAME tcpdump -i DEV 'EXPR'`
   * @example
   * ```ts
   * const cap = await ns.capture({ dev: 'eth0', count: 10 });
   * for await (const p of cap) console.log(p.length);
   * ```
   */
  capture(options: CaptureOptions = {}): Promise<CaptureStream> {
    return capture(this, options);
  }

  /**
   * Capture packets into a pcap file readable by `tcpdump -r`; see {@link captureToFile}.
   *
   * Equivalent to: `ip netns exec NAME tcpdump -i DEV -w FILE -c COUNT 'EXPR'`
   * @example
   * ```ts
   * const s = await ns.captureToFile('/tmp/eth0.pcap', { dev: 'eth0', durationMs: 5000 });
   * ```
   */
  captureToFile(file: string, options: CaptureOptions = {}): Promise<CaptureSummary> {
    return captureToFile(this, file, options);
  }

  /**
   * Every network namespace of the machine, classified (in use, pinned with no process, held by an
   * fd) with the stale pins; see {@link inventory}.
   *
   * Equivalent to: `lsns -t net` plus `ip netns list`
   * @example
   * ```ts
   * const { namespaces } = await Netns.inventory();
   * ```
   */
  static inventory(options: InventoryOptions = {}): Promise<Inventory> {
    return inventory(options);
  }

  /**
   * Remove orphaned pins chosen by names, prefix or age (dry run available); see {@link cleanupOrphans}.
   *
   * Equivalent to: the tutorial's loop deleting namespaces with no process
   * @example
   * ```ts
   * await Netns.cleanupOrphans({ prefix: 'ci-', olderThanMs: 3600_000, dryRun: true });
   * ```
   */
  static cleanupOrphans(options: OrphanCleanupOptions): Promise<OrphanRemoval[]> {
    return cleanupOrphans(options);
  }

  /**
   * Create a namespace and pin it under /run/netns/NAME.
   *
   * Equivalent to: `ip netns add NAME`
   * @example
   * ```ts
   * const blue = await Netns.create('blue');
   * ```
   * @throws {@link ValidationError} for an invalid name (nothing is created); a {@link SystemError}
   *   with code 'EEXIST' when the name is taken (the existing namespace is untouched), 'EPERM'
   *   without CAP_SYS_ADMIN.
   */
  static async create(name: string): Promise<Netns> {
    validateNetnsName(name);
    // The rtnetlink socket is made by the create job itself while it is inside the new namespace:
    // no job of its own (docs/performance.md, "Levers of the request path").
    const nl = prepareNetlink();
    const info = await namespaceLane.run(() =>
      callNative<NativeNsInfo & { netlink?: NativeNetlinkSocket }>(`ip netns add ${name}`, (a, cb) => a.nsCreate(NETNS_RUN_DIR, name, cb, nl.native)),
    );
    const ns = new Netns(info, name, join(NETNS_RUN_DIR, name));
    if (!info.netlink) return ns.openingRtnl();
    ns.adoptConnection(NETLINK_ROUTE, nl.connect(info.netlink, info.fd));
    return ns;
  }

  /**
   * Open a named namespace (a name under /run/netns) or any nsfs path (`/proc/PID/ns/net`, a bind
   * mount elsewhere).
   *
   * Equivalent to: what `ip -n NAME` and `ip netns exec NAME` open first.
   * @example
   * ```ts
   * const ns = await Netns.open('blue');
   * const same = await Netns.open('/run/netns/blue');
   * ```
   * @throws {@link NotANamespaceError} (code 'ENOTNETNS') when the path is not a network namespace.
   */
  static async open(nameOrPath: string): Promise<Netns> {
    if (typeof nameOrPath === 'string' && nameOrPath.includes('\0')) throw new ValidationError('path', nameOrPath, 'must not contain NUL bytes');
    const isPath = typeof nameOrPath === 'string' && nameOrPath.includes('/');
    const name = isPath ? undefined : validateNetnsName(nameOrPath);
    const path = isPath ? nameOrPath : join(NETNS_RUN_DIR, nameOrPath);
    const info = await callNative<NativeNsInfo>(`open namespace ${path}`, (a, cb) => a.nsOpenPath(path, cb));
    return new Netns(info, name, path);
  }

  /**
   * The network namespace of a process, opened through a pidfd: a PID reused by another process can
   * never yield that other process's namespace.
   *
   * Equivalent to: `nsenter -t PID -n` (the opening part).
   * @example
   * ```ts
   * const ns = await Netns.fromPid(child.pid);
   * ```
   * @throws a {@link SystemError} with code 'ESRCH' when no such process exists.
   */
  static async fromPid(pid: number): Promise<Netns> {
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid > 0x7fffffff) throw new ValidationError('pid', pid, 'must be a positive integer');
    const info = await callNative<NativeNsInfo>(`open namespace of pid ${pid}`, (a, cb) => a.nsOpenPid(pid, cb));
    return new Netns(info, undefined, `/proc/${pid}/ns/net`);
  }

  /**
   * The namespace this process runs in (the one the addon's threads return to).
   * @example
   * ```ts
   * const host = await Netns.current();
   * ```
   */
  static async current(): Promise<Netns> {
    return new Netns(native().homeNs(), undefined, '/proc/self/ns/net');
  }

  /**
   * A new namespace held only by this handle: it disappears when the handle is closed and nothing
   * else (a process, a link's peer, a pin) keeps it. Ideal for tests.
   *
   * Equivalent to: `unshare --net` without a process.
   * @example
   * ```ts
   * await using scratch = await Netns.anonymous();
   * ```
   */
  static async anonymous(): Promise<Netns> {
    const info = await namespaceLane.run(() => callNative<NativeNsInfo>('create anonymous namespace', (a, cb) => a.nsAnonymous(cb)));
    return new Netns(info).openingRtnl();
  }

  /** A connection another job opened in this namespace (Netns.create), used as {@link connection} would open it. */
  private adoptConnection(protocol: number, conn: NetlinkConnection): void {
    this.conns.set(protocol, Promise.resolve(conn));
    this.connValues.set(protocol, conn);
  }

  /**
   * Start opening the rtnetlink connection of a namespace just made: the first thing done with a new
   * namespace is nearly always a link request (`lo` up, a veth's peer), and the caller's next await
   * (typically a request elsewhere) overlaps with the socket's opening on an addon thread instead of
   * the first request waiting for it (docs/performance.md, "Levers of the request path"). A failure
   * is left for the first request to meet again; close() closes what was opened.
   */
  private openingRtnl(): this {
    this.rtnl().catch(() => undefined);
    return this;
  }

  /**
   * The namespaces pinned under /run/netns, with the NSID this process's namespace assigned them.
   *
   * Equivalent to: `ip netns list`
   * @example
   * ```ts
   * for (const { name, nsid } of await Netns.list()) console.log(name, nsid);
   * ```
   */
  static async list(): Promise<NetnsListEntry[]> {
    let names: string[];
    try {
      names = (await readdir(NETNS_RUN_DIR)).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const conn = await homeConnection();
    return Promise.all(
      names.map(async (name): Promise<NetnsListEntry> => {
        const path = join(NETNS_RUN_DIR, name);
        let info: NativeNsInfo;
        try {
          info = await callNative<NativeNsInfo>(`open namespace ${path}`, (a, cb) => a.nsOpenPath(path, cb));
        } catch {
          return { name, path };
        }
        try {
          const nsid = await queryNsid(conn, info.fd);
          const entry: NetnsListEntry = { name, path, identity: { dev: info.dev, ino: info.ino } };
          if (nsid !== undefined) entry.nsid = nsid;
          return entry;
        } finally {
          native().closeFd(info.fd);
        }
      }),
    );
  }

  /**
   * Unpin and delete a named namespace. The namespace itself lives on while anything (a handle, a
   * process) still holds it. /etc/netns/NAME is left in place, as `ip netns delete` leaves it:
   * {@link Dns.clear} removes what {@link Dns.set} wrote.
   *
   * Equivalent to: `ip netns delete NAME`
   * @example
   * ```ts
   * await Netns.delete('blue');
   * await Netns.delete('blue', { ifExists: true }); // false: already gone
   * ```
   * @returns true when a namespace was deleted, false when it did not exist and `ifExists` was set.
   */
  static async delete(name: string, opts: DeleteOptions = {}): Promise<boolean> {
    checkKeys('', opts, ['ifExists']);
    validateNetnsName(name);
    const path = join(NETNS_RUN_DIR, name);
    try {
      await Netns.sweepAndUnpin(name, path);
      return true;
    } catch (e) {
      if (opts.ifExists && isNotFound(e)) return false;
      throw e;
    }
  }

  /**
   * Delete the veths inside a namespace, and unpin it. The kernel removes a dying namespace's links
   * asynchronously (milliseconds after the last reference is gone), so the host ends' names would
   * still be taken when delete() resolves; RTM_DELLINK removes a pair at once. CNI plugins delete
   * the veth before the namespace for the same reason (docs/errors.md, "Names after delete").
   *
   * One addon job does it all: it lists the veths (nothing has changed if that fails), hands their
   * RTM_DELLINKs to a sender thread, waits until the kernel's RTM_DELLINK notifications say the
   * links are unlisted, not for the request's answer, which comes after the kernel's rcu_barrier(),
   * and then unpins (docs/threading.md, "Link deletions: sender threads").
   */
  private static async sweepAndUnpin(name: string, path: string): Promise<void> {
    const op = (words: string) => words.replace(/^ip /, `ip -n ${name} `);
    // Through the namespace lane like the other namespace jobs: all at once, the kernel serializes
    // the deletions anyway (200 pods: the same time either way), and one job at a time leaves the
    // other workers to other requests instead of waiting for notifications.
    const result = await withCallerFrames(
      namespaceLane.run(
        () =>
          new Promise<NativeSweepResult>((resolve, reject) => {
            native().nsSweepDelete(path, (err, value) => {
              if (!err) return resolve(value as NativeSweepResult);
              const stage = (err as { stage?: string }).stage;
              const what = stage === 'open' ? `open namespace ${path}` : stage === 'sweep' ? op('ip link show type veth') : stage === 'delete' ? op('ip link delete type veth') : `ip netns delete ${name}`;
              reject(stage === 'delete' ? deletionError(err, what) : fromNative(err as Parameters<typeof fromNative>[0], what));
            });
          }),
      ),
    );
    if (result.dumpAttempts !== undefined) throw new DumpInterruptedError([], result.dumpAttempts, op('ip link show type veth'));
    if (result.message) {
      if (result.refused === 'dump') throw refusalError(result.message, { type: RTM_GETLINK, flags: NLM_F_REQUEST | NLM_F_DUMP }, op('ip link show type veth'));
      throw refusalError(result.message, { type: RTM_DELLINK, flags: NLM_F_REQUEST | NLM_F_ACK }, op(`ip link delete dev ${result.index}`));
    }
  }

  /** The namespace fd (close-on-exec). Valid until {@link close}. */
  get fd(): number {
    if (this.fdValue < 0) throw new ClosedError(`namespace handle${this.name ? ' ' + this.name : ''}`);
    return this.fdValue;
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.fdValue < 0;
  }

  /**
   * The rtnetlink connection inside this namespace, opened on first use and shared by all verbs.
   * @internal
   */
  rtnl(): Promise<NetlinkConnection> {
    return this.connection(NETLINK_ROUTE);
  }

  /**
   * A request connection of any netlink protocol inside this namespace (NETLINK_NETFILTER,
   * NETLINK_SOCK_DIAG, ...), opened on first use and closed with the handle.
   * @internal
   */
  connection(protocol: number): Promise<NetlinkConnection> {
    // `fd` throws ClosedError once close() has begun, so a request made in the same tick as close()
    // can never open a socket that nobody would close (docs/errors.md, "After close()").
    const fd = this.fd;
    if (this.connValues.get(protocol)?.isClosed) {
      // The connection closed itself (its socket broke and could not be replaced): start afresh.
      this.conns.delete(protocol);
      this.connValues.delete(protocol);
    }
    let conn = this.conns.get(protocol);
    if (!conn) {
      const p = openNetlink({ nsFd: fd, protocol });
      conn = p;
      this.conns.set(protocol, p);
      p.then(
        (c) => {
          if (this.conns.get(protocol) === p) this.connValues.set(protocol, c);
        },
        () => {
          if (this.conns.get(protocol) === p) this.conns.delete(protocol);
        },
      );
    }
    return conn;
  }

  /**
   * Pin the network namespace of a running process under /run/netns/NAME. The namespace is opened
   * through a pidfd, so a PID reused by another process can never pin that other's namespace.
   *
   * Equivalent to: `ip netns attach NAME PID`
   * @example
   * ```ts
   * const pod = await Netns.attach('pod1', containerPid);
   * ```
   * @throws {@link ValidationError} for a bad name or PID (nothing is created); a {@link SystemError}
   *   with code 'ESRCH' when the process does not exist (or is a zombie), 'EEXIST' when the name is
   *   taken.
   */
  static async attach(name: string, pid: number): Promise<Netns> {
    validateNetnsName(name);
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid > 0x7fffffff) throw new ValidationError('pid', pid, 'must be a positive integer');
    const info = await callNative<NativeNsInfo>(`ip netns attach ${name} ${pid}`, (a, cb) => a.nsOpenPid(pid, cb));
    try {
      await namespaceLane.run(() => callNative<void>(`ip netns attach ${name} ${pid}`, (a, cb) => a.nsPin(info.fd, NETNS_RUN_DIR, name, cb)));
    } catch (e) {
      native().closeFd(info.fd);
      throw e;
    }
    return new Netns(info, name, join(NETNS_RUN_DIR, name));
  }

  /**
   * The names under /run/netns that pin the network namespace of a process (or of a handle). Empty
   * when the namespace is not pinned (e.g. the host's own). The process's namespace is opened
   * through a pidfd, so a reused PID never answers for another process. Every name is listed (when
   * several pin the namespace, iproute2 prints only the last one it reads).
   *
   * Equivalent to: `ip netns identify PID`
   * @example
   * ```ts
   * const [name] = await Netns.identify(pid); // 'blue'
   * ```
   * @throws a {@link SystemError} with code 'ESRCH' when the process does not exist.
   */
  static async identify(target: number | Netns): Promise<string[]> {
    if (target instanceof Netns) return pinnedNamesOf(target.identity, NETNS_RUN_DIR);
    const ns = await Netns.fromPid(target);
    try {
      return await pinnedNamesOf(ns.identity, NETNS_RUN_DIR);
    } finally {
      await ns.close();
    }
  }

  /**
   * PIDs of the processes in this namespace (by the namespace of each process's main thread, as
   * `ip netns pids` reports them), sorted. Each PID is checked through a pidfd opened before its
   * namespace is looked at, so a PID that was freed and reused during the scan is never reported for
   * the new process. The scan of /proc runs on an addon thread.
   *
   * Equivalent to: `ip netns pids NAME`
   * @example
   * ```ts
   * for (const pid of await ns.pids()) console.log(pid);
   * ```
   */
  async pids(): Promise<number[]> {
    const fd = this.fd;
    return callNative<number[]>(`ip netns pids ${this.name ?? this.path ?? ''}`.trim(), (a, cb) => a.nsPids(fd, cb));
  }

  /**
   * Make `server` listen inside this namespace: a real `net.Server` (or `http.Server`, ...) whose
   * socket was created in the namespace by an addon thread and handed to `server.listen({ fd })`.
   * Servers in many namespaces may use the same address and port at once. The host must be an IP
   * literal. Not in cluster workers.
   *
   * Equivalent to: `ip netns exec NAME <a server listening on HOST:PORT>`
   * @example
   * ```ts
   * const server = await ns.listen(http.createServer(handler), { port: 8080, host: '10.0.0.1' });
   * ```
   * @returns the same server, once it is listening.
   * @throws {@link ValidationError} for bad options; a {@link SystemError} with code 'EADDRINUSE',
   *   'EADDRNOTAVAIL' (the address is not on any interface of the namespace), ...
   */
  listen(server: net.Server, options: NsListenOptions = {}): Promise<net.Server> {
    return listenIn(this[NS_CONTEXT], server, options);
  }

  /**
   * Create a `net.Server` listening inside this namespace (`net.createServer` + {@link Netns.listen}).
   *
   * Equivalent to: `ip netns exec NAME <a TCP server on HOST:PORT>`
   * @example
   * ```ts
   * const server = await ns.createServer({ port: 7000, host: '127.0.0.1' }, (s) => s.end('hello\n'));
   * ```
   */
  createServer(options: NsServerOptions = {}, connectionListener?: (socket: net.Socket) => void): Promise<net.Server> {
    return createServerIn(this[NS_CONTEXT], options, connectionListener);
  }

  /**
   * Open a TCP connection that originates inside this namespace (its routes, addresses and
   * firewall apply): a real `net.Socket` over a socket created in the namespace by an addon thread.
   * Resolves once connected. The host must be an IP literal.
   *
   * Equivalent to: `ip netns exec NAME <a client connecting to HOST:PORT>`
   * @example
   * ```ts
   * const sock = await lan.connect({ host: '192.168.1.10', port: 80, connectTimeout: 2000 });
   * sock.end('GET / HTTP/1.0\r\n\r\n');
   * ```
   * @throws {@link ValidationError} for bad options; a {@link SystemError} with code
   *   'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', or 'ETIMEDOUT' after `connectTimeout` ms.
   */
  connect(options: NsConnectOptions, connectListener?: () => void): Promise<net.Socket> {
    return connectIn(this[NS_CONTEXT], options, connectListener);
  }

  /**
   * Create a UDP socket bound inside this namespace: a real `dgram.Socket` (Node wraps the fd with
   * `socket.bind({ fd })`), already bound when the promise resolves.
   *
   * Equivalent to: `ip netns exec NAME <a UDP socket bound to ADDRESS:PORT>`
   * @example
   * ```ts
   * const udp = await ns.createUdpSocket({ type: 'udp4', port: 5353 }, (msg, rinfo) => console.log(msg));
   * ```
   */
  createUdpSocket(options: NsUdpOptions, messageListener?: (msg: Buffer, rinfo: dgram.RemoteInfo) => void): Promise<dgram.Socket> {
    return createUdpSocketIn(this[NS_CONTEXT], options, messageListener);
  }

  /**
   * Start a process inside this namespace, as `ip netns exec` does, without running `ip`: the child
   * enters the namespace, gets its own mount namespace (nothing propagates back to the host) with a
   * /sys that shows this namespace's links and, for a named namespace, every file of
   * /etc/netns/NAME/ bind-mounted over its /etc counterpart (so {@link Netns.dns} applies). It gets
   * no fd of this process but its stdio, default signal handling and this process's environment
   * (overridable). The command is searched in the child's PATH.
   *
   * Equivalent to: `ip netns exec NAME COMMAND ARGS...`
   * @example
   * ```ts
   * const child = await ns.spawn('tcpdump', ['-ni', 'eth0'], { stdio: ['ignore', 'pipe', 'inherit'] });
   * child.stdout?.on('data', (d) => console.log(String(d)));
   * child.kill('SIGINT');
   * console.log(await child.exited); // { code: 0, signal: null }
   * ```
   * @returns once the child has exec'd the command.
   * @throws {@link ValidationError} for bad arguments (nothing is started); a {@link SystemError} when
   *   the child could not start: code 'ENOENT' with syscall 'execve' and `path` = the command for a
   *   command not found, 'EACCES' for one not executable, 'ENOENT' with syscall 'chdir' for a
   *   missing `cwd`; nothing is left running and no zombie remains.
   */
  spawn(command: string, args: readonly string[] = [], options: SpawnOptions = {}): Promise<NetnsProcess> {
    return spawnIn(this[NS_CONTEXT], command, args, options);
  }

  /**
   * Run a command inside this namespace to completion and collect its output (UTF-8), like
   * `execFile`, with {@link Netns.spawn}'s semantics. A non-zero exit status or a signal is *not* an
   * error: it is in `code`/`signal` of the result.
   *
   * Equivalent to: `ip netns exec NAME COMMAND ARGS...` with output captured
   * @example
   * ```ts
   * const { stdout, code } = await ns.exec('ip', ['-j', 'addr']);
   * const addrs = JSON.parse(stdout);
   * const r = await ns.exec('sh', ['-c', 'exit 7']); // r.code === 7
   * ```
   * @throws as {@link Netns.spawn}; a {@link NetnsError} with code 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER'
   *   when output exceeds `maxBuffer` (the child is killed).
   */
  exec(command: string, args: readonly string[] = [], options: ExecOptions = {}): Promise<ExecResult> {
    return execIn(this[NS_CONTEXT], command, args, options);
  }

  /** True when both handles refer to the same namespace. */
  equals(other: Netns | NetnsIdentity): boolean {
    const id = other instanceof Netns ? other.identity : other;
    if (id === null || typeof id !== 'object') throw new ValidationError('other', other, 'must be a Netns or a { dev, ino } identity');
    return id.dev === this.identity.dev && id.ino === this.identity.ino;
  }

  /**
   * Unpin this namespace (when it is named) and close the handle.
   *
   * Equivalent to: `ip netns delete NAME`
   * @example
   * ```ts
   * await ns.delete();
   * ```
   */
  async delete(opts: DeleteOptions = {}): Promise<boolean> {
    if (!this.name) throw new NetnsError('only a named namespace can be deleted; close() releases an anonymous one', { code: 'ERR_NOT_NAMED' });
    try {
      return await Netns.delete(this.name, opts);
    } finally {
      await this.close();
    }
  }

  /** Release the fd and the netlink connection. Idempotent. */
  async close(): Promise<void> {
    if (this.fdValue < 0) return;
    // Closed from this moment: later calls (even in this tick) reject with ClosedError instead of
    // reopening a connection.
    const fd = this.fdValue;
    this.fdValue = -1;
    const conns = [...this.conns.values()];
    this.conns.clear();
    this.connValues.clear();
    for (const conn of conns) {
      try {
        (await conn).close();
      } catch {
        // The connection never opened; nothing to close.
      }
    }
    native().closeFd(fd);
  }

  /**
   * Dispose: a handle from {@link Netns.temporary} deletes its namespace; any other closes the handle.
   * (`await using` is TypeScript 5.2+ or Node 24+ syntax: in plain JavaScript on Node 20, call
   * `await ns[Symbol.asyncDispose]()` or `ns.delete()` in a `finally`.)
   */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.temporary && this.name) await this.delete({ ifExists: true });
    else await this.close();
  }

  /**
   * A named namespace that is deleted when the handle is disposed: for tests and scratch work.
   * The name is `PREFIX-PID-RANDOM`, valid and unique.
   *
   * Equivalent to: `ip netns add PREFIX-...` now and `ip netns delete PREFIX-...` at dispose.
   * @example
   * ```ts
   * const ns = await Netns.temporary('test');
   * try {
   *   await ns.links.setUp('lo');
   * } finally {
   *   await ns[Symbol.asyncDispose](); // deletes it (or: await using ns = ... in TypeScript)
   * }
   * ```
   */
  static async temporary(prefix = 'netns-native'): Promise<Netns> {
    if (typeof prefix !== 'string') throw new ValidationError('prefix', prefix, 'must be a string');
    const name = validateNetnsName(`${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`, 'prefix');
    const ns = await Netns.create(name);
    ns.temporary = true;
    return ns;
  }

  /** What `console.log(ns)` prints: `Netns { name, inode, closed }`, not the internal state. */
  [inspect.custom](depth: number, options: InspectOptionsStylized, insp: typeof inspect): string {
    const shown = { name: this.name, inode: this.identity.ino, closed: this.closed };
    return depth < 0 ? `Netns ${this.name ?? `net:[${this.identity.ino}]`}` : `Netns ${insp(shown, { ...options, depth: (options.depth ?? 2) - 1 })}`;
  }

  /** JSON of a handle: what identifies it. */
  toJSON(): { name: string | undefined; path: string | undefined; dev: number; inode: number; closed: boolean } {
    return { name: this.name, path: this.path, dev: this.identity.dev, inode: this.identity.ino, closed: this.closed };
  }
}

/**
 * What the families see of a handle: one object whose methods reach the handle, made with it (an
 * object literal with a closure per method cost every Netns.create more: docs/performance.md,
 * "Verbs (verbs2)").
 */
class HandleContext implements NsContext {
  /** `ip -n NAME` for a named namespace, '' otherwise. */
  readonly label: string;

  constructor(
    private readonly handle: Netns,
    readonly name: string | undefined,
    readonly path: string | undefined,
    readonly identity: NetnsIdentity,
  ) {
    this.label = name ? `ip -n ${name}` : '';
  }

  op(words: string): string {
    return this.label ? words.replace(/^ip /, `${this.label} `) : words;
  }

  describe(): string {
    return this.name ?? this.path ?? `net:[${this.identity.ino}]`;
  }

  fd(): number {
    return this.handle.fd;
  }

  rtnl(): Promise<NetlinkConnection> {
    return this.handle.rtnl();
  }

  connection(protocol: number): Promise<NetlinkConnection> {
    return this.handle.connection(protocol);
  }

  linkIndex(ref: string | number, operation?: string): Promise<number> {
    return this.handle.links.index(ref, operation);
  }
}

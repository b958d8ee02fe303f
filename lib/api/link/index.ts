/**
 * Links of one namespace (`ip link`): list, get, add, set, move, delete.
 * @module
 */
import { SystemError, ValidationError, errnoMessage, isNotFound } from '../../errors.js';
import { checkKeys } from '../../validate/options.js';
import { NLM_F_CREATE, NLM_F_ECHO, NLM_F_EXCL } from '../../netlink/constants.js';
import { AF_UNSPEC, RTM_GETLINK, RTM_NEWLINK } from '../../rtnl/constants.js';
import { encodeLinkBody, ifinfomsg, readLinkMessage } from '../../rtnl/link/index.js';
import { validateBoolean, validateLinkRef } from '../../validate/link.js';
import { validateIfname } from '../../validate/names.js';
import { toLink, type Link, type LinkRef } from './view.js';
import {
  describeAdd,
  describeSet,
  encodeAddBody,
  encodeMoveBody,
  encodeSetBody,
  specRefs,
  validateChanges,
  validateSpec,
  type LinkChanges,
  type LinkSpec,
} from './spec.js';
import { NS_CONTEXT, type NetnsHandle, type NsContext } from '../context.js';
import { LINK_EXT_MASK as EXT_MASK, fetchLinkMessage, requestLinkMessage } from './resolve.js';
import { forgetIndex, rememberIndex, withIndexes } from './index_cache.js';
import { deleteUnlisted } from './unlisted.js';
import type { NetlinkMessage } from '../../netlink/message.js';
import type { KnownKind } from '../../rtnl/link/kinds/index.js';

export { toLink };
export type { Link, LinkInfo, KnownLinkInfo, OtherLinkInfo, LinkStats, OperState } from './view.js';
export type { LinkRef };


/**
 * A link kind as the kernel names it (IFLA_INFO_KIND): the kinds this library models, plus the
 * other kinds `ip link help` lists (iproute2 6.1) and the common out-of-`ip link` ones (`tun`,
 * `wireguard`, `openvswitch`). A misspelt kind does not compile; a kind missing from the list can
 * still be passed with a cast (`'batadv' as LinkKindName`).
 */
export type LinkKindName =
  | KnownKind
  | 'amt' | 'bareudp' | 'bond_slave' | 'bridge_slave' | 'dsa' | 'erspan' | 'geneve' | 'gre' | 'gretap' | 'gtp'
  | 'ip6erspan' | 'ip6gre' | 'ip6gretap' | 'ip6tnl' | 'ipip' | 'ipoib' | 'ipvtap' | 'macsec' | 'macvtap'
  | 'netdevsim' | 'nlmon' | 'rmnet' | 'sit' | 'team' | 'team_slave' | 'vcan' | 'vti' | 'vxcan' | 'wwan' | 'xfrm'
  | 'virt_wifi' | 'tun' | 'wireguard' | 'openvswitch';

/** Options of {@link Links.list}. */
export interface LinkListOptions {
  /** Only links of this kind (`ip link show type bridge`). */
  kind?: LinkKindName;
  /** Only ports of this master (`ip link show master br0`). */
  master?: LinkRef;
}

/** Options of {@link Links.delete}. */
export interface LinkDeleteOptions {
  /** Resolve `false` instead of throwing when the link does not exist (idempotent teardown, CNI DEL). */
  ifExists?: boolean;
}

/** Options of {@link Links.add}. */
export interface LinkAddOptions {
  /**
   * Resolve with the link read back once it is created (and, with `peer.up`, once the peer is up):
   * the link as `links.get` shows it right then, with `master`, the port's promiscuity and
   * `info.slaveKind`, and the flags and operstate the link watcher derived from the carrier. Costs
   * a second request (RTM_GETLINK, in the creation's sendmsg when no peer has to come up first),
   * and for a link created with `master` and `up` the kernel runs the link's pending link-watch
   * event for it at once, an RCU grace period (docs/performance.md, "Veth creation (veth2)").
   * Without it, `add` resolves with the creation's own answer ({@link CreatedLink}). Default false.
   */
  read?: boolean;
}

/**
 * What {@link Links.add} resolves with unless asked to read the link back: the kernel's own answer
 * to the creating RTM_NEWLINK (NLM_F_ECHO), the notification rtnetlink sends once the link is
 * registered and its flags are applied. Every field is the kernel's, as of that moment:
 * - final from the start: `index`, `name`, `kind` and `info.data`, `mtu`, `mac`, `txqueuelen`,
 *   the queue counts, `up`, and for a veth `peerIndex`/`linkNetnsid`;
 * - not yet when the spec names a `master` (the kernel joins it right after that notification):
 *   `master` is absent, `promiscuity` and `info.slaveKind`/`slaveData` are those of before (a bridge
 *   port is promiscuous and has port data once joined);
 * - not yet when the link was created `up`: `flags`/`flagNames` (RUNNING), `lowerUp` and
 *   `operState` (UNKNOWN) are what the driver set, before the link watcher handled the carrier (a
 *   veth whose peer is down reads LOWERLAYERDOWN, or DOWN on a bridge port, a moment later);
 * - not after `peer.up`: that is a second request, sent afterwards.
 * Without `master` and `up` it is what a read right after shows. Where the answer cannot carry the
 * link (with `spec.netns` the notification goes to the other namespace; a kernel before 6.3 answers
 * with the ACK alone), the link is read back after the creation, which is at least as recent.
 * `links.get(name)` (or `add(spec, { read: true })`) gives the state now.
 */
export type CreatedLink = Link;

/** Options of {@link Links.moveTo}. */
export interface LinkMoveOptions {
  /** New name in the target namespace, applied in the same request (`ip link set dev X netns NS name Y`). */
  name?: string;
}

/** `ip link` verbs acting inside one namespace; reach it as `ns.links`. */
export class Links {
  /** @internal The handle makes it (users reach it as `ns.links`, `ns.tc`, ...). */
  constructor(private readonly ns: NsContext) {}

  /**
   * Every link of the namespace, with kind-specific data decoded and 64-bit counters.
   *
   * Equivalent to: `ip -n NS -d -s link show [type KIND] [master BR]`
   * @example
   * ```ts
   * const names = (await ns.links.list()).map((l) => l.name);
   * const ports = await ns.links.list({ master: 'br0' });
   * const bridges = await ns.links.list({ kind: 'bridge' });
   * ```
   */
  async list(opts: LinkListOptions = {}): Promise<Link[]> {
    checkKeys('', opts, ['kind', 'master']);
    if (opts.kind !== undefined && (typeof opts.kind !== 'string' || (opts.kind as string) === '')) throw new ValidationError('kind', opts.kind, 'must be a link kind name');
    const op = this.op('ip link show');
    const master = opts.master === undefined ? undefined : await this.index(validateLinkRef(opts.master, 'master'), op);
    const conn = await this.ns.rtnl();
    const body = encodeLinkBody({ family: AF_UNSPEC }, { extMask: EXT_MASK });
    const msgs = await conn.dump(RTM_GETLINK, body, op);
    return msgs
      .filter((m) => m.type === RTM_NEWLINK)
      .map((m) => toLink(readLinkMessage(m.payload)))
      .filter((l) => (opts.kind === undefined || l.kind === opts.kind) && (master === undefined || l.master === master));
  }

  /**
   * One link by name or ifindex.
   *
   * Equivalent to: `ip -n NS -d -s link show dev NAME`
   * @example
   * ```ts
   * const veth = await ns.links.get('veth0');
   * console.log(veth.mtu, veth.peerIndex, veth.stats?.rxBytes);
   * const br = await ns.links.get('br0');
   * if (br.info?.kind === 'bridge') console.log(br.info.data?.stp);
   * ```
   * @throws a {@link NetlinkError} with code 'ENODEV' when there is no such link.
   */
  async get(ref: LinkRef): Promise<Link> {
    return this.fetch(validateLinkRef(ref, 'dev'), this.op(`ip link show dev ${ref}`));
  }

  /**
   * Like {@link get}, but resolves `undefined` when the link does not exist.
   *
   * Equivalent to: `ip -n NS link show dev NAME 2>/dev/null`
   * @example
   * ```ts
   * if (!(await ns.links.find('eth0'))) await ns.links.add({ kind: 'veth', name: 'eth0', peer: { name: 'p0' } });
   * ```
   */
  async find(ref: LinkRef): Promise<Link | undefined> {
    try {
      return await this.get(ref);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /**
   * Create a link as {@link Links.add} does, then read it back: resolves with the link as a read
   * right after shows it (`master`, the port's promiscuity, the carrier as the link watcher saw it),
   * at the cost of a second request ({@link LinkAddOptions.read}).
   *
   * Equivalent to: `ip -n NS link add NAME ... && ip -n NS -d -s link show dev NAME`
   * @example
   * ```ts
   * const port = await host.links.add({ kind: 'veth', name: 'veth-c2', master: 'br0', up: true, peer: { name: 'p2' } }, { read: true });
   * console.log(port.master, port.operState); // the bridge's ifindex; the carrier as the link watcher saw it
   * ```
   */
  add(spec: LinkSpec, opts: LinkAddOptions & { read: true }): Promise<Link>;
  /**
   * Create a link. Creation is exclusive: an existing name fails with EEXIST and is left alone.
   * Everything in the spec goes in one RTM_NEWLINK, so a rejected request creates nothing.
   *
   * The veth fast path (what CNI plugins do): the peer is created directly inside the container's
   * namespace, and the host end joins its bridge and comes up, all in the same request.
   *
   * What it resolves with is the kernel's own answer to that request (a {@link CreatedLink}: the link
   * as the kernel announced it once created and its flags applied, before it joined `master` and
   * before the link watcher saw its carrier); no second request is sent for it. Pass
   * `{ read: true }` for the link as a read right after shows it (a second request; see
   * {@link LinkAddOptions.read}).
   *
   * Equivalent to: `ip -n NS link add NAME [mtu M] [address MAC] [master BR] [up] type KIND ...`
   * (with `{ read: true }`, followed by `ip -n NS -d -s link show dev NAME`)
   * @example
   * ```ts
   * // ip -n host link add veth-c1 master br0 up type veth peer name eth0 netns c1
   * const hostEnd = await host.links.add({
   *   kind: 'veth', name: 'veth-c1', master: 'br0', up: true,
   *   peer: { name: 'eth0', netns: c1, mtu: 1450, up: true },
   * });
   * console.log(hostEnd.index, hostEnd.mac, hostEnd.peerIndex); // final from the start
   * const port = await host.links.add({ kind: 'veth', name: 'veth-c2', master: 'br0', up: true, peer: { name: 'p2' } }, { read: true });
   * console.log(port.master, port.operState); // the bridge's ifindex; the carrier as the link watcher saw it
   * await ns.links.add({ kind: 'bridge', name: 'br0', stp: false, up: true });
   * await ns.links.add({ kind: 'vxlan', name: 'vx0', vni: 42, remote: '10.0.0.2', port: 4789, link: 'eth0' });
   * await ns.links.add({ kind: 'macvlan', name: 'mv0', link: 'eth0', mode: 'bridge' });
   * await ns.links.add({ kind: 'ifb', name: 'ifb0' });
   * ```
   * @returns the created link as the kernel answered the creation (for a veth: this end; `peerIndex`
   *   is the other, in the peer's namespace); with `{ read: true }`, as read back afterwards.
   * @throws {@link ValidationError} for a bad spec or option (nothing is sent); a {@link NetlinkError}
   *   with the kernel's text for a rejection ('EEXIST', 'EOPNOTSUPP' "Unknown device type" for a kind
   *   the kernel lacks, ...).
   */
  add(spec: LinkSpec, opts?: LinkAddOptions): Promise<CreatedLink>;
  async add(spec: LinkSpec, opts: LinkAddOptions = {}): Promise<Link> {
    checkKeys('', opts, ['read']);
    const read = opts.read === undefined ? false : validateBoolean('read', opts.read);
    validateSpec(spec);
    const op = this.op(describeAdd(spec));
    // Parents (macvlan/vlan `link`, vxlan `dev`) are looked up where the request is sent; the master
    // where the link will live.
    const refs = new Map<LinkRef, number>();
    for (const r of specRefs(spec)) refs.set(r, await this.index(r, op));
    const homeCtx = spec.netns ? spec.netns[NS_CONTEXT] : this.ns;
    const home = spec.netns ? new Links(homeCtx) : this;
    const conn = await this.ns.rtnl();
    const peerUp = spec.kind === 'veth' && spec.peer.up === true;
    // The creation's own answer carries the link: the kernel honours NLM_F_ECHO on RTM_NEWLINK
    // (Linux 6.3+) with the notification rtnl_configure_link sends once the link is registered and
    // its flags applied. Never with `spec.netns`: that notification is addressed to our port id in
    // the other namespace, so the link is read there instead. It is what a read right after shows
    // unless the request names a master (applied after it: no master, the promiscuity of before) or
    // brings the link up (it predates the link watcher: a veth whose peer is down shows RUNNING and
    // operstate UNKNOWN where a read says LOWERLAYERDOWN). A caller asking for the read gets the echo
    // only when it is that read (docs/performance.md, "Pod verbs (veth3, 17:53 UTC session)").
    const echo = !spec.netns && (!read || (spec.master === undefined && spec.up !== true && !peerUp));
    // A read-back asked for travels in the creation's sendmsg when nothing has to happen in between
    // (no peer to bring up first): it is queued in the same tick and the kernel answers it right after
    // the creation (docs/performance.md, "Levers of the request path"). With a master and `up` it
    // also makes the kernel run the link's pending link-watch event at once (an RCU grace period).
    const sameTrip = read && !echo && !spec.netns && !peerUp;
    let readBack: Promise<NetlinkMessage> | undefined;
    const send = (master: number | undefined) => {
      const body = encodeAddBody(spec, { master, index: (r) => (typeof r === 'number' ? r : (refs.get(r) as number)) });
      const created = conn.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | (echo ? NLM_F_ECHO : 0), body, op);
      if (sameTrip) {
        readBack = requestLinkMessage(conn, spec.name, this.op(`ip link show dev ${spec.name}`));
        readBack.catch(() => undefined); // only read once the creation succeeded
      }
      return created;
    };
    let answers: NetlinkMessage[];
    if (spec.master === undefined) answers = await send(undefined);
    else {
      const masterRef = spec.master;
      answers = await withIndexes(homeCtx, [masterRef], op, (index) => send(index(masterRef)));
    }
    // A kernel before 6.3 answers an echo with the ACK alone: the link is then read below.
    const echoed = echo ? answers.find((m) => m.type === RTM_NEWLINK) : undefined;
    if (peerUp) {
      // The kernel cannot open the peer inside the creating request (ENOTCONN), so this is a
      // second request; if it fails, the pair goes away again rather than stay half configured.
      try {
        await (spec.peer.netns ? new Links(spec.peer.netns[NS_CONTEXT]) : this).setUp(spec.peer.name);
      } catch (e) {
        await home.delete(spec.name, { ifExists: true }).catch(() => undefined);
        throw e;
      }
    }
    // (After a retry in withIndexes, `readBack` is the one sent with the retried creation.)
    const answer = echoed ?? (readBack ? await readBack : undefined);
    const link = answer ? toLink(readLinkMessage(answer.payload)) : await home.get(spec.name);
    rememberIndex(homeCtx, spec.name, link.index);
    // A veth's IFLA_LINK (in the echo as in a read) is its peer's ifindex in the peer's namespace:
    // the pod's first address then needs no lookup.
    if (spec.kind === 'veth' && link.peerIndex !== undefined) rememberIndex(spec.peer.netns ? spec.peer.netns[NS_CONTEXT] : this.ns, spec.peer.name, link.peerIndex);
    return link;
  }

  /**
   * Apply several changes to a link in one RTM_NEWLINK: up/down, MTU, MAC, name, alias, txqueuelen,
   * master/nomaster. The kernel applies them in its own order and stops at the first it refuses.
   *
   * Equivalent to: `ip -n NS link set dev NAME [up|down] [mtu M] [address MAC] [name NEW] [alias TEXT] [txqueuelen N] [master BR|nomaster]`
   * @example
   * ```ts
   * await ns.links.set('veth0', { mtu: 1450, mac: '02:00:00:00:00:01', master: 'br0', up: true });
   * await ns.links.set('veth0', { master: null }); // nomaster
   * ```
   * @throws {@link ValidationError} for bad values (nothing is sent); a {@link NetlinkError} with the
   *   kernel's text otherwise (MTU 70000 on a veth: "mtu greater than device maximum").
   */
  async set(ref: LinkRef, changes: LinkChanges): Promise<void> {
    validateLinkRef(ref, 'dev');
    validateChanges(changes);
    const op = this.op(describeSet(ref, changes));
    // Without ifindex the kernel finds the device by IFLA_IFNAME, saving a lookup. A rename needs
    // IFLA_IFNAME for the new name, so the device is named by its ifindex, looked up afresh (a stale
    // index would rename whatever link has it now). A master's index comes from the handle's cache,
    // kept true by retry-on-failure (docs/performance.md, "Levers of the request path").
    let index = 0;
    if (typeof ref === 'number') index = ref;
    else if (changes.name !== undefined && changes.name !== ref) index = await this.index(ref, op);
    const ifname = index === 0 ? (ref as string) : changes.name;
    const conn = await this.ns.rtnl();
    if (changes.name !== undefined) forgetIndex(this.ns, ref);
    const master = changes.master;
    if (master === undefined || master === null) {
      await conn.request(RTM_NEWLINK, 0, encodeSetBody(index, changes, master === null ? 0 : undefined, ifname), op);
      return;
    }
    await withIndexes(this.ns, [master], op, (ifindex) => conn.request(RTM_NEWLINK, 0, encodeSetBody(index, changes, ifindex(master), ifname), op));
  }

  /**
   * Bring a link up.
   *
   * Equivalent to: `ip -n NS link set dev NAME up`
   * @example
   * ```ts
   * await ns.links.setUp('lo');
   * ```
   */
  setUp(ref: LinkRef): Promise<void> {
    return this.set(ref, { up: true });
  }

  /**
   * Bring a link down.
   *
   * Equivalent to: `ip -n NS link set dev NAME down`
   * @example
   * ```ts
   * await ns.links.setDown('veth0');
   * ```
   */
  setDown(ref: LinkRef): Promise<void> {
    return this.set(ref, { up: false });
  }

  /**
   * Set the MTU (68 or more; the device's own maximum is the kernel's call and its refusal
   * carries its text).
   *
   * Equivalent to: `ip -n NS link set dev NAME mtu MTU`
   * @example
   * ```ts
   * await ns.links.setMtu('veth0', 1450);
   * ```
   */
  setMtu(ref: LinkRef, mtu: number): Promise<void> {
    return this.set(ref, { mtu });
  }

  /**
   * Set the Ethernet address.
   *
   * Equivalent to: `ip -n NS link set dev NAME address MAC`
   * @example
   * ```ts
   * await ns.links.setMac('veth0', '02:42:ac:11:00:02');
   * ```
   */
  setMac(ref: LinkRef, mac: string): Promise<void> {
    return this.set(ref, { mac });
  }

  /**
   * Rename a link (it must be down: the kernel answers EBUSY otherwise).
   *
   * Equivalent to: `ip -n NS link set dev NAME name NEWNAME`
   * @example
   * ```ts
   * await ns.links.rename('veth1a2b', 'eth0');
   * ```
   */
  rename(ref: LinkRef, name: string): Promise<void> {
    return this.set(ref, { name });
  }

  /**
   * Set the alias ('' removes it).
   *
   * Equivalent to: `ip -n NS link set dev NAME alias TEXT`
   * @example
   * ```ts
   * await ns.links.setAlias('veth0', 'pod web-1');
   * ```
   */
  setAlias(ref: LinkRef, alias: string): Promise<void> {
    return this.set(ref, { alias });
  }

  /**
   * Set the transmit queue length.
   *
   * Equivalent to: `ip -n NS link set dev NAME txqueuelen N`
   * @example
   * ```ts
   * await ns.links.setTxqueuelen('veth0', 500);
   * ```
   */
  setTxqueuelen(ref: LinkRef, txqueuelen: number): Promise<void> {
    return this.set(ref, { txqueuelen });
  }

  /**
   * Make a link a port of a bridge, bond or vrf.
   *
   * Equivalent to: `ip -n NS link set dev NAME master BRIDGE`
   * @example
   * ```ts
   * await ns.links.setMaster('veth0', 'br0');
   * ```
   */
  setMaster(ref: LinkRef, master: LinkRef): Promise<void> {
    return this.set(ref, { master });
  }

  /**
   * Release a link from its master (IFLA_MASTER 0).
   *
   * Equivalent to: `ip -n NS link set dev NAME nomaster`
   * @example
   * ```ts
   * await ns.links.setNoMaster('veth0');
   * ```
   */
  setNoMaster(ref: LinkRef): Promise<void> {
    return this.set(ref, { master: null });
  }

  /**
   * Move a link into another namespace, optionally renaming it on the way, in one request that
   * carries the target's fd (IFLA_NET_NS_FD): no thread ever enters either namespace. The link
   * arrives down. Creating a veth peer directly in place (`add` with `peer.netns`) is much cheaper
   * than creating it here and moving it.
   *
   * Equivalent to: `ip -n NS link set dev NAME netns TARGET [name NEWNAME]`
   * @example
   * ```ts
   * await host.links.moveTo('veth1', container, { name: 'eth0' });
   * ```
   */
  async moveTo(ref: LinkRef, target: NetnsHandle, opts: LinkMoveOptions = {}): Promise<void> {
    checkKeys('', opts, ['name']);
    validateLinkRef(ref, 'dev');
    if (opts.name !== undefined) validateIfname(opts.name, 'name');
    const fd = target?.fd;
    if (typeof fd !== 'number') throw new ValidationError('target', target, 'must be an open Netns handle');
    const op = this.op(`ip link set dev ${ref} netns ${target.name ?? 'fd:' + fd}${opts.name !== undefined ? ` name ${opts.name}` : ''}`);
    const renamed = opts.name !== undefined && opts.name !== ref;
    const there = renamed ? new Links(target[NS_CONTEXT]) : undefined;
    // A rename names the link by ifindex (IFLA_IFNAME carries the new name), looked up afresh, not
    // from the cache: a stale index would move whatever link now has it, and a move cannot simply be
    // retried. The kernel moves the link first and renames it afterwards: with the new name taken in
    // the target it answers EEXIST with the link already moved under its old name. Check first, so a
    // failed move changes nothing (docs/errors.md, "A failed move"). Both lookups go out together,
    // on the two namespaces' connections (one round trip instead of two).
    const [index, taken] = await Promise.all([
      typeof ref === 'string' && renamed ? this.index(ref, op) : undefined,
      there ? there.exists(opts.name!) : false,
    ]);
    let body: Buffer;
    if (typeof ref === 'number') body = encodeMoveBody(ref, fd, opts.name);
    else if (index === undefined) body = encodeMoveBody(0, fd, ref);
    else body = encodeMoveBody(index, fd, opts.name);
    if (taken) {
      throw new SystemError(`${op}: ${errnoMessage(17)} (EEXIST): ${opts.name} exists in the target namespace`, { code: 'EEXIST', errno: 17, operation: op });
    }
    const conn = await this.ns.rtnl();
    forgetIndex(this.ns, ref);
    try {
      await conn.request(RTM_NEWLINK, 0, body, op);
    } catch (e) {
      // Lost a race with a link created meanwhile: put the link back where it was.
      if (there && typeof ref === 'string' && (e as { code?: string }).code === 'EEXIST' && (await there.exists(ref))) {
        await (await target[NS_CONTEXT].rtnl()).request(RTM_NEWLINK, 0, encodeMoveBody(0, this.ns.fd(), ref), op);
      }
      throw e;
    }
  }

  /** Whether a link of that name exists here. */
  private async exists(name: string): Promise<boolean> {
    forgetIndex(this.ns, name); // a cached index could name a link deleted since
    try {
      await this.ns.linkIndex(name);
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  /**
   * Delete a link. Deleting either end of a veth deletes the pair. Resolves once the kernel has
   * unlisted the link (its name, and a veth peer's, are free), without waiting for the RCU barrier
   * the kernel runs before it answers (docs/threading.md, "Link deletions: sender threads").
   *
   * Equivalent to: `ip -n NS link delete dev NAME`
   * @example
   * ```ts
   * await ns.links.delete('veth0');
   * const existed = await ns.links.delete('veth0', { ifExists: true }); // false, no throw
   * ```
   * @returns true when a link was deleted; false when it did not exist and `ifExists` was set.
   */
  async delete(ref: LinkRef, opts: LinkDeleteOptions = {}): Promise<boolean> {
    checkKeys('', opts, ['ifExists']);
    validateLinkRef(ref, 'dev');
    const op = this.op(`ip link delete dev ${ref}`);
    const conn = await this.ns.rtnl();
    forgetIndex(this.ns, ref);
    try {
      // Settles when the link is unlisted, not after the kernel's RCU barrier that delays the
      // answer; in its place among the connection's requests (docs/threading.md, "Link deletions").
      await conn.exclusive(() => deleteUnlisted(this.ns.fd(), ref, op), op);
      return true;
    } catch (e) {
      if (opts.ifExists && isNotFound(e)) return false;
      throw e;
    }
  }

  /**
   * The ifindex of a link (a number is returned as is).
   *
   * Equivalent to: `ip -n NS -j link show dev NAME | jq .[0].ifindex`
   * @example
   * ```ts
   * const ifindex = await ns.links.index('eth0');
   * ```
   * @throws a {@link NetlinkError} with code 'ENODEV' when there is no such link.
   */
  async index(ref: LinkRef, operation?: string): Promise<number> {
    // `operation` ends up in an error built on the I/O callback path: a non-string there would throw
    // outside any promise (docs/errors.md, "Errors are NetnsErrors").
    if (operation !== undefined && typeof operation !== 'string') throw new ValidationError('operation', operation, 'must be a string');
    if (typeof ref === 'number') return ref;
    // A name (or an altname: up to ALTIFNAMSIZ - 1 bytes); longer would not even fit an attribute.
    if (typeof ref !== 'string' || ref.length === 0 || Buffer.byteLength(ref) > 127) throw new ValidationError('dev', ref, 'must be an interface name or an ifindex');
    // Only the header is read: a bridge's full read-back (its options, counters) costs ~10x more JS.
    return ifinfomsg.decode((await fetchLinkMessage(this.ns, ref, operation ?? this.op(`ip link show dev ${ref}`))).payload, 0).index;
  }

  private async fetch(ref: LinkRef, op: string): Promise<Link> {
    return toLink(readLinkMessage((await fetchLinkMessage(this.ns, ref, op)).payload));
  }

  /** An operation in `ip` words, with `-n NAME` when the namespace has a name. */
  private op(words: string): string {
    return this.ns.op(words);
  }
}

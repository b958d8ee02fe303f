/**
 * Traffic control of one namespace (`tc`): qdiscs, classes and filters with their statistics, and
 * `shape`/`clear` for the common case of limiting a link's bandwidth both ways.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { NetnsError, ValidationError, isNotFound } from '../../errors.js';
import { NLM_F_CREATE, NLM_F_ECHO, NLM_F_EXCL, NLM_F_REPLACE } from '../../netlink/constants.js';
import type { NsContext } from '../context.js';
import type { NetlinkMessage } from '../../netlink/message.js';
import {
  AF_UNSPEC,
  RTM_DELLINK,
  RTM_DELQDISC,
  RTM_DELTCLASS,
  RTM_DELTFILTER,
  RTM_GETQDISC,
  RTM_GETTCLASS,
  RTM_GETTFILTER,
  RTM_NEWLINK,
  RTM_NEWQDISC,
  RTM_NEWTCLASS,
  RTM_NEWTFILTER,
} from '../../rtnl/constants.js';
import {
  DEFAULT_CLOCK,
  TC_H_CLSACT,
  TC_H_INGRESS,
  TC_H_MAKE,
  TC_H_MIN_EGRESS,
  TC_H_MIN_INGRESS,
  TC_H_ROOT,
  encodeTcBody,
  parseClassId,
  parseFilterParent,
  parseParent,
  parsePsched,
  type PschedClock,
} from '../../rtnl/tc/index.js';
import { validateLinkRef } from '../../validate/link.js';
import { parseRate, parseSize, parseTime, type Rate, type Size, type Time } from '../../validate/units.js';
import { encodeAddBody, encodeDeleteBody } from '../link/spec.js';
import { checkKeys } from '../../validate/options.js';
import type { LinkRef } from '../link/index.js';
import { classRequest, filterDeleteRequest, filterRequest, qdiscRequest, type ClassSpec, type TcFilterRef, type TcFilterSpec, type QdiscSpec, type TcHandle } from './spec.js';
import { isIngressHook, toClass, toFilter, toQdisc, type TcFilter, type Qdisc, type TcClass } from './view.js';

export type * from './spec.js';
export type { Qdisc, TcClass, TcFilter, TcFilterAction, TcStats, TbfOptions, HtbOptions, HtbClassXstats, U32Key } from './view.js';

/** What the tc family uses of its namespace's context. @internal */
export type TcContext = Pick<NsContext, 'label' | 'rtnl' | 'linkIndex'>;

let clockPromise: Promise<PschedClock> | undefined;

/**
 * The scheduler clock, read once from /proc/net/psched (asynchronously, off the JS thread) as tc
 * reads it at start-up; every kernel since 2.6.31 reports the same, which is the fallback.
 */
export function pschedClock(): Promise<PschedClock> {
  clockPromise ??= readFile('/proc/net/psched', 'utf8').then((t) => parsePsched(t) ?? DEFAULT_CLOCK, () => DEFAULT_CLOCK);
  return clockPromise;
}

type Verb = 'add' | 'replace' | 'change';
const QDISC_FLAGS: Record<Verb, number> = { add: NLM_F_CREATE | NLM_F_EXCL, replace: NLM_F_CREATE | NLM_F_REPLACE, change: 0 };
// tc's class and filter `replace` send NLM_F_CREATE alone: the kernel replaces an existing one.
const CLASS_FLAGS: Record<Verb, number> = { add: NLM_F_CREATE | NLM_F_EXCL, replace: NLM_F_CREATE, change: 0 };

/** Where `qdiscs.delete` finds the qdisc: `'root'`, `'ingress'`, `'clsact'`, or `{ parent?, handle? }`. */
export type QdiscRef = 'root' | 'ingress' | 'clsact' | { parent?: TcHandle; handle?: TcHandle };

/** Options of {@link Tc.shape}. */
export interface ShapeOptions {
  /** Rate of what the link sends (a tbf as its root qdisc). */
  egress?: Rate;
  /** Rate of what the link receives (redirected to an ifb whose root qdisc is a tbf). */
  ingress?: Rate;
  /** Bucket size; default the larger of 32kbit (4096 bytes, the tutorial's) and 4 ms at the rate. */
  burst?: Size;
  /** Queueing delay allowed; default 25 ms, as the CNI bandwidth plugin uses. */
  latency?: Time;
}

/** What {@link Tc.shape} made. */
export interface ShapeResult {
  egress?: Qdisc;
  /** The ifb carrying the link's incoming traffic, and its tbf. */
  ingress?: { ifb: string; qdisc: Qdisc };
}

/** The ifb {@link Tc.shape} makes for a link's ingress: named after the link's ifindex. */
export function ingressIfbName(ifindex: number): string {
  if (!Number.isSafeInteger(ifindex) || ifindex < 1) throw new ValidationError('ifindex', ifindex, 'must be a positive integer');
  return `nnifb${ifindex}`;
}

function tcLabel(label: string): string {
  return label.startsWith('ip ') ? `tc ${label.slice(3)}` : 'tc';
}

/** Shared plumbing of the three object kinds. */
class TcBase {
  /** @internal The handle makes it (users reach it as `ns.links`, `ns.tc`, ...). */
  constructor(protected readonly ctx: TcContext) {}

  protected op(words: string): string {
    return `${tcLabel(this.ctx.label)} ${words}`;
  }

  protected async send(type: number, flags: number, body: Buffer, op: string): Promise<NetlinkMessage[]> {
    const conn = await this.ctx.rtnl();
    return conn.request(type, flags, body, op);
  }

  /**
   * Send a NEW request with NLM_F_ECHO, so the kernel answers with the object as it made it (handle
   * filled in) before its ACK; read it back with a dump if no echo came.
   */
  protected async sendAndRead<T>(
    type: number, flags: number, body: Buffer, op: string,
    how: { decode: (m: NetlinkMessage) => T; isIt: (x: T) => boolean; reread: () => Promise<T[]>; what: string },
  ): Promise<T> {
    const answers = await this.send(type, flags | NLM_F_ECHO, body, op);
    const found = answers.filter((m) => m.type === type).map(how.decode).find(how.isIt) ?? (await how.reread()).find(how.isIt);
    if (found === undefined) throw new NetnsError(`${op}: the kernel acknowledged but the ${how.what} is not there`, { code: 'ERR_NO_ANSWER', operation: op });
    return found;
  }

  protected async dump(type: number, ifindex: number, parent: number, op: string): Promise<NetlinkMessage[]> {
    const conn = await this.ctx.rtnl();
    return conn.dump(type, encodeTcBody({ family: AF_UNSPEC, ifindex, parent }, {}), op);
  }
}

/** `tc qdisc`: reach it as `ns.tc.qdiscs`. */
export class Qdiscs extends TcBase {
  /**
   * Attach a qdisc; fails with EEXIST when the place is taken (use {@link replace}).
   *
   * Equivalent to: `tc -n NS qdisc add dev DEV [root | parent CLASSID | ingress | clsact] [handle H] KIND OPTIONS`
   * @example
   * ```ts
   * // The tutorial: tc qdisc add dev veth-limited root tbf rate 10mbit burst 32kbit latency 400ms
   * await ns.tc.qdiscs.add('veth-limited', { kind: 'tbf', rate: '10mbit', burst: '32kbit', latency: '400ms' });
   * await ns.tc.qdiscs.add('eth0', { kind: 'htb', handle: '1:', defaultClass: 0x20 });
   * await ns.tc.qdiscs.add('eth0', { kind: 'pfifo', parent: '1:10', limit: 100 });
   * await ns.tc.qdiscs.add('eth0', { kind: 'ingress' });
   * ```
   * @returns the qdisc as the kernel reports it (handle filled in when the kernel chose it).
   * @throws {@link ValidationError} for bad units, handles or keys (nothing is sent); a
   *   {@link NetlinkError} with the kernel's text otherwise ("Specified qdisc kind is unknown." for
   *   netem, fq_codel, sfq, prio on this kernel; "Failed to find specified qdisc" for a bad parent).
   */
  add(dev: LinkRef, spec: QdiscSpec): Promise<Qdisc> {
    return this.modify('add', dev, spec);
  }

  /**
   * Attach a qdisc, replacing whatever is at that place (creating it when nothing is).
   *
   * Equivalent to: `tc -n NS qdisc replace dev DEV ... KIND OPTIONS`
   * @example
   * ```ts
   * await ns.tc.qdiscs.replace('eth0', { kind: 'tbf', rate: '20mbit', burst: '64kb', latency: '50ms' });
   * ```
   */
  replace(dev: LinkRef, spec: QdiscSpec): Promise<Qdisc> {
    return this.modify('replace', dev, spec);
  }

  /**
   * Change the options of an existing qdisc of the same kind (ENOENT when there is none).
   *
   * Equivalent to: `tc -n NS qdisc change dev DEV ... KIND OPTIONS`
   * @example
   * ```ts
   * await ns.tc.qdiscs.change('eth0', { kind: 'tbf', rate: '5mbit', burst: '32kbit', latency: '400ms' });
   * ```
   */
  change(dev: LinkRef, spec: QdiscSpec): Promise<Qdisc> {
    return this.modify('change', dev, spec);
  }

  private async modify(verb: Verb, dev: LinkRef, spec: QdiscSpec): Promise<Qdisc> {
    validateLinkRef(dev, 'dev');
    const r = qdiscRequest(spec);
    const op = this.op(`qdisc ${verb} dev ${dev} ${r.words}`);
    const [ifindex, clock] = await Promise.all([this.ctx.linkIndex(dev), pschedClock()]);
    return this.sendAndRead(RTM_NEWQDISC, QDISC_FLAGS[verb], r.body(ifindex, clock), op, {
      decode: (m) => toQdisc(m, clock), isIt: (q) => q.parentId === r.parent, reread: () => this.listIndex(ifindex, op, clock), what: 'qdisc',
    });
  }

  /**
   * Remove a qdisc (and everything under it): the root one by default.
   *
   * Equivalent to: `tc -n NS qdisc del dev DEV [root | ingress | clsact | parent P | handle H]`
   * @example
   * ```ts
   * await ns.tc.qdiscs.delete('eth0');            // tc qdisc del dev eth0 root
   * await ns.tc.qdiscs.delete('eth0', 'ingress');
   * await ns.tc.qdiscs.delete('eth0', { parent: '1:10' });
   * ```
   * @throws a {@link NetlinkError} with the kernel's text when there is nothing to delete
   *   ("Cannot delete qdisc with handle of zero." for a device's default qdisc).
   */
  async delete(dev: LinkRef, which: QdiscRef = 'root'): Promise<void> {
    validateLinkRef(dev, 'dev');
    let parent: number;
    let handle = 0;
    if (which === 'root') parent = TC_H_ROOT;
    else if (which === 'ingress' || which === 'clsact') {
      parent = TC_H_INGRESS;
      handle = TC_H_MAKE(TC_H_INGRESS, 0);
    } else {
      checkKeys('which', which, ['parent', 'handle']);
      parent = which.parent === undefined ? 0 : parseParent('parent', which.parent);
      if (which.handle !== undefined) handle = parseParent('handle', which.handle);
      if (!parent && !handle) parent = TC_H_ROOT;
    }
    const words = typeof which === 'string' ? which
      : [which.parent === undefined ? '' : `parent ${which.parent}`, which.handle === undefined ? '' : `handle ${which.handle}`].filter(Boolean).join(' ') || 'root';
    const op = this.op(`qdisc del dev ${dev} ${words}`);
    const ifindex = await this.ctx.linkIndex(dev);
    await this.send(RTM_DELQDISC, 0, encodeTcBody({ family: AF_UNSPEC, ifindex, parent, handle }, {}), op);
  }

  /**
   * The qdiscs of one device, or of every device, with their statistics.
   *
   * Equivalent to: `tc -n NS -s -d qdisc show [dev DEV]`
   * @example
   * ```ts
   * for (const q of await ns.tc.qdiscs.list('eth0')) console.log(q.kind, q.handle, q.parent, q.stats?.bytes);
   * ```
   */
  async list(dev?: LinkRef): Promise<Qdisc[]> {
    if (dev !== undefined) validateLinkRef(dev, 'dev');
    const op = this.op(`-s qdisc show${dev === undefined ? '' : ` dev ${dev}`}`);
    const [ifindex, clock] = await Promise.all([dev === undefined ? 0 : this.ctx.linkIndex(dev), pschedClock()]);
    return this.listIndex(ifindex, op, clock);
  }

  /** @internal */
  async listIndex(ifindex: number, op: string, clock: PschedClock): Promise<Qdisc[]> {
    const msgs = await this.dump(RTM_GETQDISC, ifindex, 0, op);
    return msgs.filter((m) => m.type === RTM_NEWQDISC).map((m) => toQdisc(m, clock)).filter((q) => !ifindex || q.ifindex === ifindex);
  }
}

/** `tc class`: reach it as `ns.tc.classes`. */
export class Classes extends TcBase {
  /**
   * Create an htb class under an htb qdisc or class.
   *
   * Equivalent to: `tc -n NS class add dev DEV parent P classid C htb rate R [ceil C] [burst B] [cburst B] [prio N] [quantum Q]`
   * @example
   * ```ts
   * await ns.tc.qdiscs.add('eth0', { kind: 'htb', handle: '1:', defaultClass: 0x20 });
   * await ns.tc.classes.add('eth0', { kind: 'htb', parent: '1:', classid: '1:10', rate: '5mbit', ceil: '10mbit' });
   * ```
   * @throws {@link ValidationError} before anything is sent; the kernel's text otherwise.
   */
  add(dev: LinkRef, spec: ClassSpec): Promise<TcClass> {
    return this.modify('add', dev, spec);
  }

  /**
   * Create or replace a class.
   *
   * Equivalent to: `tc -n NS class replace dev DEV parent P classid C htb ...`
   * @example
   * ```ts
   * await ns.tc.classes.replace('eth0', { kind: 'htb', classid: '1:10', rate: '8mbit' });
   * ```
   */
  replace(dev: LinkRef, spec: ClassSpec): Promise<TcClass> {
    return this.modify('replace', dev, spec);
  }

  /**
   * Change an existing class.
   *
   * Equivalent to: `tc -n NS class change dev DEV parent P classid C htb ...`
   * @example
   * ```ts
   * await ns.tc.classes.change('eth0', { kind: 'htb', classid: '1:10', rate: '2mbit', ceil: '4mbit' });
   * ```
   */
  change(dev: LinkRef, spec: ClassSpec): Promise<TcClass> {
    return this.modify('change', dev, spec);
  }

  private async modify(verb: Verb, dev: LinkRef, spec: ClassSpec): Promise<TcClass> {
    validateLinkRef(dev, 'dev');
    const r = classRequest(spec);
    const op = this.op(`class ${verb} dev ${dev} ${r.words}`);
    const [ifindex, clock] = await Promise.all([this.ctx.linkIndex(dev), pschedClock()]);
    return this.sendAndRead(RTM_NEWTCLASS, CLASS_FLAGS[verb], r.body(ifindex, clock), op, {
      decode: (m) => toClass(m, clock), isIt: (c) => c.classidId === r.classid, reread: () => this.listIndex(ifindex, op, clock), what: 'class',
    });
  }

  /**
   * Delete a class (the kernel refuses while filters or child classes use it, with its text).
   *
   * Equivalent to: `tc -n NS class del dev DEV classid C`
   * @example
   * ```ts
   * await ns.tc.classes.delete('eth0', '1:10');
   * ```
   */
  async delete(dev: LinkRef, classid: TcHandle): Promise<void> {
    validateLinkRef(dev, 'dev');
    const id = parseClassId('classid', classid);
    const op = this.op(`class del dev ${dev} classid ${classid}`);
    const ifindex = await this.ctx.linkIndex(dev);
    await this.send(RTM_DELTCLASS, 0, encodeTcBody({ family: AF_UNSPEC, ifindex, handle: id }, {}), op);
  }

  /**
   * The classes of a device with their statistics (htb: lends, borrows, tokens in `xstats`).
   *
   * Equivalent to: `tc -n NS -s -d class show dev DEV`
   * @example
   * ```ts
   * const c = (await ns.tc.classes.list('eth0')).find((x) => x.classid === '1:10');
   * console.log(c?.options?.rate, c?.stats?.packets);
   * ```
   */
  async list(dev: LinkRef): Promise<TcClass[]> {
    validateLinkRef(dev, 'dev');
    const op = this.op(`-s class show dev ${dev}`);
    const [ifindex, clock] = await Promise.all([this.ctx.linkIndex(dev), pschedClock()]);
    return this.listIndex(ifindex, op, clock);
  }

  private async listIndex(ifindex: number, op: string, clock: PschedClock): Promise<TcClass[]> {
    const msgs = await this.dump(RTM_GETTCLASS, ifindex, 0, op);
    return msgs.filter((m) => m.type === RTM_NEWTCLASS).map((m) => toClass(m, clock));
  }
}

/** `tc filter`: reach it as `ns.tc.filters`. */
export class Filters extends TcBase {
  /** @internal The handle makes it (users reach it as `ns.links`, `ns.tc`, ...). */
  constructor(ctx: TcContext, private readonly qdiscs: Qdiscs) {
    super(ctx);
  }

  /**
   * Attach a u32 filter sending matching packets to a class, or through a mirred action.
   *
   * Equivalent to: `tc -n NS filter add dev DEV parent P protocol PROTO prio N u32 match ... (flowid C | action mirred ...)`
   * @example
   * ```ts
   * // tc filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst 10.0.0.0/24 match ip dport 80 0xffff flowid 1:10
   * await ns.tc.filters.add('eth0', { kind: 'u32', parent: '1:', protocol: 'ip', prio: 1,
   *   match: { ip: { dst: '10.0.0.0/24', dport: 80 } }, classid: '1:10' });
   * // tc filter add dev eth0 parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev ifb0
   * await ns.tc.filters.add('eth0', { kind: 'u32', parent: 'ffff:', match: {},
   *   action: { kind: 'mirred', direction: 'egress', mode: 'redirect', dev: 'ifb0' } });
   * ```
   * @returns every filter of that parent after the change (u32 also lists its hash tables).
   */
  add(dev: LinkRef, spec: TcFilterSpec): Promise<TcFilter[]> {
    return this.modify('add', dev, spec);
  }

  /**
   * Create or replace a filter (give `prio` and `handle` to replace one).
   *
   * Equivalent to: `tc -n NS filter replace dev DEV parent P protocol PROTO prio N handle H u32 ...`
   * @example
   * ```ts
   * await ns.tc.filters.replace('eth0', { kind: 'u32', parent: '1:', prio: 1, handle: 0x800800, match: { ip: { dst: '10.0.1.0/24' } }, classid: '1:20' });
   * ```
   */
  replace(dev: LinkRef, spec: TcFilterSpec): Promise<TcFilter[]> {
    return this.modify('replace', dev, spec);
  }

  /**
   * Change an existing filter. For u32 the kernel changes the class and actions of the filter
   * named by `prio` and `handle` but keeps its match keys (as with tc); to match something else,
   * delete it and add another.
   *
   * Equivalent to: `tc -n NS filter change dev DEV parent P protocol PROTO prio N handle H u32 ...`
   * @example
   * ```ts
   * await ns.tc.filters.change('eth0', { kind: 'u32', parent: '1:', protocol: 'ip', prio: 1, handle: 0x800800, match: { ip: { dst: '10.0.2.0/24' } }, classid: '1:10' });
   * ```
   */
  change(dev: LinkRef, spec: TcFilterSpec): Promise<TcFilter[]> {
    return this.modify('change', dev, spec);
  }

  private async modify(verb: Verb, dev: LinkRef, spec: TcFilterSpec): Promise<TcFilter[]> {
    validateLinkRef(dev, 'dev');
    const r = filterRequest(spec);
    const op = this.op(`filter ${verb} dev ${dev} ${r.words}`);
    const [ifindex, mirred, clock] = await Promise.all([
      this.ctx.linkIndex(dev),
      r.mirredDev === undefined ? undefined : this.ctx.linkIndex(r.mirredDev),
      pschedClock(),
    ]);
    await this.send(RTM_NEWTFILTER, CLASS_FLAGS[verb], r.body(ifindex, mirred), op);
    return this.listParent(ifindex, r.parent, op, clock);
  }

  /**
   * Delete filters: every filter of a parent, those of one priority, or one u32 filter by handle.
   *
   * Equivalent to: `tc -n NS filter del dev DEV parent P [protocol PROTO] [prio N] [handle H u32]`
   * @example
   * ```ts
   * await ns.tc.filters.delete('eth0', { parent: '1:', prio: 1 });
   * ```
   */
  async delete(dev: LinkRef, which: TcFilterRef): Promise<void> {
    validateLinkRef(dev, 'dev');
    const r = filterDeleteRequest(which);
    const op = this.op(`filter del dev ${dev} ${r.words}`);
    const ifindex = await this.ctx.linkIndex(dev);
    await this.send(RTM_DELTFILTER, 0, r.body(ifindex), op);
  }

  /**
   * Filters of a device: of one parent, or (by default) of every qdisc of the device, including
   * the ingress hook and both clsact hooks. Action statistics come with them.
   *
   * Equivalent to: `tc -n NS -s -d filter show dev DEV [parent P]`
   * @example
   * ```ts
   * const [f] = (await ns.tc.filters.list('eth0', 'ffff:')).filter((x) => x.options?.keys.length);
   * console.log(f.options?.actions[0].mirred, f.options?.actions[0].stats?.packets);
   * ```
   */
  async list(dev: LinkRef, parent?: TcHandle | 'ingress' | 'egress'): Promise<TcFilter[]> {
    validateLinkRef(dev, 'dev');
    const p = parent === undefined ? undefined : parseFilterParent('parent', parent);
    const op = this.op(`-s filter show dev ${dev}${parent === undefined ? '' : ` parent ${parent}`}`);
    const [ifindex, clock] = await Promise.all([this.ctx.linkIndex(dev), pschedClock()]);
    if (p !== undefined) return this.listParent(ifindex, p, op, clock);
    const parents: number[] = [];
    for (const q of await this.qdiscs.listIndex(ifindex, op, clock)) {
      if (q.kind === 'clsact') parents.push(TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS), TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS));
      else if (q.handleId) parents.push(q.handleId);
    }
    const out: TcFilter[] = [];
    for (const parentId of parents) out.push(...(await this.listParent(ifindex, parentId, op, clock)));
    return out;
  }

  private async listParent(ifindex: number, parent: number, op: string, clock: PschedClock): Promise<TcFilter[]> {
    const msgs = await this.dump(RTM_GETTFILTER, ifindex, parent, op);
    return msgs.filter((m) => m.type === RTM_NEWTFILTER).map((m) => toFilter(m, clock));
  }
}

/**
 * `tc` verbs acting inside one namespace; reach it as `ns.tc`. Everything goes through rtnetlink:
 * no `tc` process. Rates, sizes and times take numbers (bits/s, bytes, µs) or tc's strings.
 */
export class Tc {
  /** `tc qdisc`. */
  readonly qdiscs: Qdiscs;
  /** `tc class`. */
  readonly classes: Classes;
  /** `tc filter`. */
  readonly filters: Filters;

  /** @internal The handle makes it (users reach it as `ns.links`, `ns.tc`, ...). */
  constructor(private readonly ctx: TcContext) {
    this.qdiscs = new Qdiscs(ctx);
    this.classes = new Classes(ctx);
    this.filters = new Filters(ctx, this.qdiscs);
  }

  /**
   * Limit a link's bandwidth: egress with a tbf as its root qdisc, ingress by redirecting what it
   * receives to an ifb (created in the same namespace, named `nnifb<ifindex>`) shaped by a tbf, as
   * the CNI bandwidth plugin does. Existing root/ingress qdiscs of the link are replaced. If a step
   * fails, what this call made is removed again.
   *
   * Equivalent to:
   * ```sh
   * tc qdisc replace dev LINK root tbf rate EGRESS burst B latency L
   * ip link add nnifbN type ifb && ip link set nnifbN up
   * tc qdisc replace dev nnifbN root tbf rate INGRESS burst B latency L
   * tc qdisc add dev LINK ingress
   * tc filter add dev LINK parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev nnifbN
   * ```
   * @example
   * ```ts
   * await ns.tc.shape('eth0', { egress: '10mbit', ingress: '5mbit' });
   * await ns.tc.clear('eth0');
   * ```
   */
  async shape(link: LinkRef, opts: ShapeOptions): Promise<ShapeResult> {
    validateLinkRef(link, 'link');
    if (opts === null || typeof opts !== 'object') throw new ValidationError('opts', opts, 'must be an object with egress, ingress or both');
    checkKeys('', opts, ['egress', 'ingress', 'burst', 'latency']);
    if (opts.egress === undefined && opts.ingress === undefined) {
      throw new ValidationError('opts', opts, 'needs egress, ingress or both');
    }
    const egress = opts.egress === undefined ? undefined : parseRate('egress', opts.egress);
    const ingress = opts.ingress === undefined ? undefined : parseRate('ingress', opts.ingress);
    const burst = opts.burst === undefined ? undefined : parseSize('burst', opts.burst);
    const latency = opts.latency === undefined ? 25000 : parseTime('latency', opts.latency);
    const tbf = (rateBytes: number) => ({
      kind: 'tbf' as const,
      rate: rateBytes * 8,
      burst: burst ?? Math.max(4096, Math.ceil(rateBytes / 250)),
      latency,
    });
    const ifindex = await this.ctx.linkIndex(link);
    const ifb = ingressIfbName(ifindex);
    const out: ShapeResult = {};
    const undo: Array<() => Promise<unknown>> = [];
    try {
      if (egress !== undefined) {
        out.egress = await this.qdiscs.replace(ifindex, tbf(egress));
        undo.push(() => this.qdiscs.delete(ifindex));
      }
      if (ingress !== undefined) {
        await this.linkRequest(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, encodeAddBody({ kind: 'ifb', name: ifb, up: true }, { index: () => 0 }), `ip link add ${ifb} up type ifb`);
        undo.push(() => this.linkRequest(RTM_DELLINK, 0, encodeDeleteBody(ifb), `ip link del ${ifb}`));
        const qdisc = await this.qdiscs.replace(ifb, tbf(ingress));
        await this.qdiscs.replace(ifindex, { kind: 'ingress' });
        undo.push(() => this.qdiscs.delete(ifindex, 'ingress'));
        await this.filters.add(ifindex, {
          kind: 'u32', parent: 'ffff:', protocol: 'all', match: {},
          action: { kind: 'mirred', direction: 'egress', mode: 'redirect', dev: ifb },
        });
        out.ingress = { ifb, qdisc };
      }
      return out;
    } catch (e) {
      for (const step of undo.reverse()) await step().catch(() => undefined);
      throw e;
    }
  }

  /**
   * Remove what {@link shape} made on a link: its root qdisc (back to the kernel's default), its
   * ingress qdisc with the redirect filter, and the ifb. Resolves `false` when there was nothing.
   *
   * Equivalent to: `tc qdisc del dev LINK root; tc qdisc del dev LINK ingress; ip link del nnifbN`
   * @example
   * ```ts
   * await ns.tc.clear('eth0');
   * ```
   */
  async clear(link: LinkRef): Promise<boolean> {
    validateLinkRef(link, 'link');
    const ifindex = await this.ctx.linkIndex(link);
    const qdiscs = await this.qdiscs.listIndex(ifindex, `tc qdisc show dev ${link}`, await pschedClock());
    let removed = false;
    if (qdiscs.some((q) => q.root && q.handleId !== 0)) {
      await this.qdiscs.delete(ifindex, 'root');
      removed = true;
    }
    if (qdiscs.some((q) => isIngressHook(q))) {
      await this.qdiscs.delete(ifindex, 'ingress');
      removed = true;
    }
    try {
      await this.linkRequest(RTM_DELLINK, 0, encodeDeleteBody(ingressIfbName(ifindex)), `ip link del ${ingressIfbName(ifindex)}`);
      removed = true;
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    return removed;
  }

  private async linkRequest(type: number, flags: number, body: Buffer, words: string): Promise<void> {
    const conn = await this.ctx.rtnl();
    const label = this.ctx.label;
    await conn.request(type, flags, body, label ? words.replace(/^ip /, `${label} `) : words);
  }
}

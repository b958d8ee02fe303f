/**
 * Qdiscs, classes and filters read back from the kernel, in the shape of `tc -s -d -j ... show`:
 * kind, handle and parent in tc notation, typed options for the modelled kinds (raw bytes kept for
 * the others), and statistics.
 * @module
 */
import type { NetlinkMessage } from '../../netlink/message.js';
import {
  ETH_P_ALL,
  ETH_P_IP,
  ETH_P_IPV6,
  TCA_EGRESS_MIRROR,
  TCA_EGRESS_REDIR,
  TCA_INGRESS_REDIR,
  TC_H_INGRESS,
  TC_H_ROOT,
  decodeHtbXstats,
  decodeKindOptions,
  decodeStats2,
  decodeTcMessage,
  formatHandle,
  u32Hash,
  u32Htid,
  u32Node,
  type HtbClassXstats,
  type HtbOptions,
  type PschedClock,
  type TbfOptions,
  type TcStats,
  type U32Key,
} from '../../rtnl/tc/index.js';
import { withJson } from '../json.js';

export type { TcStats, TbfOptions, HtbOptions, HtbClassXstats, U32Key };

/** A qdisc as `tc -s -d qdisc show` reports it. */
export interface Qdisc {
  /** ifindex of the device. */
  ifindex: number;
  kind: string;
  /** `'1:'`, `'8001:'` (kernel-chosen), `'ffff:'` (ingress/clsact), `'0:'` for the default qdisc. */
  handle: string;
  /** `'root'`, a class (`'1:10'`), or `'ffff:fff1'` for ingress/clsact. */
  parent: string;
  /** The same two as numbers. */
  handleId: number;
  parentId: number;
  /** True for the device's root qdisc. */
  root: boolean;
  /**
   * Options of the modelled kinds: tbf (`rate` bytes/s, `burst`, `limit` bytes, `latency` µs...),
   * htb (`r2q`, `defaultClass`), pfifo/bfifo (`limit`), pfifo_fast (`bands`, `priomap`).
   */
  options?: TbfOptions | HtbOptions | { limit: number } | { bands: number; priomap: number[] };
  /** TCA_OPTIONS as the kernel sent it. */
  rawOptions?: Buffer;
  stats?: TcStats;
}

/** A class as `tc -s -d class show` reports it. */
export interface TcClass {
  ifindex: number;
  kind: string;
  classid: string;
  parent: string;
  classidId: number;
  parentId: number;
  /** Handle of the qdisc attached under a leaf class (`'10:'`), when there is one. */
  leaf?: string;
  /** htb: `rate`, `ceil` (bytes/s), `burst`, `cburst` (bytes), `prio`, `quantum`, `level`. */
  options?: HtbOptions;
  rawOptions?: Buffer;
  stats?: TcStats;
  /** htb: lends, borrows, tokens, ctokens. */
  xstats?: HtbClassXstats;
}

/** An action of a filter, read back. */
export interface TcFilterAction {
  /** 1-based position. */
  order: number;
  kind: string;
  index?: number;
  /** For mirred: what `tc` prints as `mirred (Egress Redirect to device ifb0) stolen`. */
  mirred?: { direction: 'egress' | 'ingress'; mode: 'redirect' | 'mirror'; ifindex: number; verdict: number };
  stats?: TcStats;
}

/** A filter as `tc -s -d filter show` reports it. The kernel also lists u32's hash tables (no `keys`). */
export interface TcFilter {
  ifindex: number;
  kind: string;
  parent: string;
  parentId: number;
  /** `ip`, `ipv6`, `all`, or the ethertype in hex. */
  protocol: string;
  /** tc's `pref`. */
  prio: number;
  /** u32: `htid:hash:node` as tc prints it (`800::800`); other kinds: hex. */
  handle: string;
  handleId: number;
  chain?: number;
  /** u32 options: the class, the match keys (value/mask in network order at byte offsets), actions. */
  options?: {
    classid?: string;
    keys: U32Key[];
    terminal?: boolean;
    hashTable?: string;
    divisor?: number;
    actions: TcFilterAction[];
  };
  rawOptions?: Buffer;
}

function parentName(h: number): string {
  return h === TC_H_ROOT ? 'root' : formatHandle(h);
}

export function toQdisc(m: NetlinkMessage, clock: PschedClock): Qdisc {
  const { header, attrs } = decodeTcMessage(m.payload);
  const kind = attrs.kind ?? '';
  const q: Qdisc = {
    ifindex: header.ifindex,
    kind,
    handle: header.handle === 0 ? '0:' : formatHandle(header.handle),
    parent: parentName(header.parent),
    handleId: header.handle,
    parentId: header.parent,
    root: header.parent === TC_H_ROOT,
  };
  const opts = decodeKindOptions(kind, attrs.options, clock);
  if (opts?.options) q.options = opts.options as Qdisc['options'];
  if (attrs.options) q.rawOptions = attrs.options;
  const stats = decodeStats2(attrs.stats2, attrs.stats);
  if (stats) q.stats = stats;
  return withJson(q);
}

export function toClass(m: NetlinkMessage, clock: PschedClock): TcClass {
  const { header, attrs } = decodeTcMessage(m.payload);
  const kind = attrs.kind ?? '';
  const c: TcClass = {
    ifindex: header.ifindex,
    kind,
    classid: formatHandle(header.handle),
    parent: parentName(header.parent),
    classidId: header.handle,
    parentId: header.parent,
  };
  // For classes tcm_info carries the handle of the leaf qdisc.
  if (header.info) c.leaf = formatHandle(header.info);
  const opts = decodeKindOptions(kind, attrs.options, clock);
  if (opts?.options) c.options = opts.options as HtbOptions;
  if (attrs.options) c.rawOptions = attrs.options;
  const stats = decodeStats2(attrs.stats2, attrs.stats);
  if (stats) c.stats = stats;
  if (kind === 'htb') {
    const x = decodeHtbXstats(attrs.xstats);
    if (x) c.xstats = x;
  }
  return withJson(c);
}

function protocolName(p: number): string {
  if (p === ETH_P_ALL) return 'all';
  if (p === ETH_P_IP) return 'ip';
  if (p === ETH_P_IPV6) return 'ipv6';
  return `0x${p.toString(16).padStart(4, '0')}`;
}

/** A u32 handle as tc prints it: `800:` for a hash table, `800::800` for a filter. */
export function formatU32Handle(h: number): string {
  if (h === 0) return 'none';
  let s = '';
  if (u32Htid(h)) s += `${(u32Htid(h) >>> 20).toString(16)}:`;
  if (u32Hash(h) || u32Node(h)) {
    if (u32Hash(h)) s += u32Hash(h).toString(16);
    if (u32Node(h)) s += `:${u32Node(h).toString(16)}`;
  }
  return s;
}

export function toFilter(m: NetlinkMessage, clock: PschedClock): TcFilter {
  const { header, attrs } = decodeTcMessage(m.payload);
  const kind = attrs.kind ?? '';
  const proto = header.info & 0xffff;
  const f: TcFilter = {
    ifindex: header.ifindex,
    kind,
    parent: parentName(header.parent),
    parentId: header.parent,
    protocol: protocolName(((proto & 0xff) << 8) | (proto >> 8)),
    prio: header.info >>> 16,
    handle: kind === 'u32' ? formatU32Handle(header.handle) : header.handle.toString(16),
    handleId: header.handle,
  };
  if (attrs.chain !== undefined) f.chain = attrs.chain;
  const opts = decodeKindOptions(kind, attrs.options, clock);
  if (opts?.kind === 'u32' && opts.options) {
    const o = opts.options;
    f.options = {
      keys: o.keys,
      actions: o.actions.map((a) => {
        const out: TcFilterAction = { order: a.order, kind: a.kind };
        if (a.index !== undefined) out.index = a.index;
        if (a.mirred) {
          const e = a.mirred.eaction;
          out.mirred = {
            direction: e === TCA_EGRESS_REDIR || e === TCA_EGRESS_MIRROR ? 'egress' : 'ingress',
            mode: e === TCA_EGRESS_REDIR || e === TCA_INGRESS_REDIR ? 'redirect' : 'mirror',
            ifindex: a.mirred.ifindex,
            verdict: a.mirred.action,
          };
        }
        if (a.stats) out.stats = a.stats;
        return out;
      }),
    };
    if (o.classid !== undefined) f.options.classid = formatHandle(o.classid);
    if (o.terminal !== undefined) f.options.terminal = o.terminal;
    if (o.hashTable !== undefined) f.options.hashTable = formatU32Handle(o.hashTable);
    if (o.divisor !== undefined) f.options.divisor = o.divisor;
  }
  if (attrs.options) f.rawOptions = attrs.options;
  return withJson(f);
}

/** True for the ingress/clsact pseudo-qdisc (parent ffff:fff1). */
export function isIngressHook(q: Qdisc): boolean {
  return q.parentId === TC_H_INGRESS;
}

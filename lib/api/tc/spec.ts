/**
 * What callers ask of traffic control: qdisc, class and filter specs, their validation (every
 * unit, handle and key checked before any system call) and their encoding into RTM_*QDISC,
 * RTM_*TCLASS and RTM_*TFILTER bodies. Pure functions apart from the ifindexes the caller resolves.
 * @module
 */
import { ValidationError } from '../../errors.js';
import { AF_UNSPEC } from '../../rtnl/constants.js';
import {
  ETH_P_ALL,
  ETH_P_IP,
  ETH_P_IPV6,
  TCA_EGRESS_MIRROR,
  TCA_EGRESS_REDIR,
  TCA_INGRESS_MIRROR,
  TCA_INGRESS_REDIR,
  TC_ACT_PIPE,
  TC_ACT_STOLEN,
  TC_H_INGRESS,
  TC_H_MAKE,
  TC_H_ROOT,
  encodeFifo,
  encodeHtbClass,
  encodeHtbQdisc,
  encodeTbf,
  encodeTcBody,
  encodeU32,
  packKey,
  packKey16,
  packKey8,
  packPrefix,
  parseClassId,
  parseFilterParent,
  parseParent,
  parseQdiscHandle,
  type ActionParams,
  type PschedClock,
  type TbfParams,
  type TcHandle,
  type U32Key,
} from '../../rtnl/tc/index.js';
import { parseRoutePrefix } from '../../validate/ip.js';
import { validateIntRange, validateLinkRef } from '../../validate/link.js';
import { parseRate, parseSize, parseTime, type Rate, type Size, type Time } from '../../validate/units.js';
import type { LinkRef } from '../link/index.js';
import { checkKeys } from '../../validate/options.js';

export type { Rate, Size, Time, TcHandle };

/** Where a qdisc goes: `root` (the default), under a class (`'1:10'`), or the `ingress`/`clsact` hook. */
interface QdiscCommon {
  /** `root` (default), or the class it hangs under (`'1:10'`). Ignored for ingress/clsact. */
  parent?: TcHandle;
  /** Its own handle (`'1:'`); the kernel picks one when omitted. */
  handle?: TcHandle;
}

/** Token bucket filter (`tc qdisc add ... tbf rate R burst B latency L`). */
export interface TbfSpec extends QdiscCommon {
  kind: 'tbf';
  rate: Rate;
  /** Bucket size (`'32kbit'` is 4096 bytes, as in tc). */
  burst: Size;
  /** Longest queueing delay; exactly one of `latency` and `limit`. */
  latency?: Time;
  /** Queue size in bytes; exactly one of `latency` and `limit`. */
  limit?: Size;
  peakrate?: Rate;
  /** Peak-rate bucket (tc's `mtu`/`minburst`); required with `peakrate`. */
  mtu?: Size;
  mpu?: Size;
  overhead?: number;
}

/** Hierarchical token bucket root (`tc qdisc add ... htb default 20 r2q 10`). */
export interface HtbQdiscSpec extends QdiscCommon {
  kind: 'htb';
  /**
   * Class for unclassified traffic: its minor number (a number), a class id (`'1:20'`), or the
   * minor in hex as tc reads `default 20` (`'20'` is 0x20). Omitted: such traffic is not shaped.
   */
  defaultClass?: number | string;
  /** Rate-to-quantum divisor (tc's default 10). */
  r2q?: number;
  directQlen?: number;
}

/** pfifo (limit in packets) or bfifo (limit in bytes). */
export interface FifoSpec extends QdiscCommon {
  kind: 'pfifo' | 'bfifo';
  limit?: Size;
}

/** Qdiscs with no options here: pfifo_fast, ingress, clsact. */
export interface PlainQdiscSpec extends QdiscCommon {
  kind: 'pfifo_fast' | 'ingress' | 'clsact';
}

/**
 * A kind the library does not model (netem, fq_codel, sfq, prio, ...), created with the kernel's
 * defaults. Kernels built without it answer with their own text ("Specified qdisc kind is unknown.").
 */
export interface OtherQdiscSpec extends QdiscCommon {
  kind: 'netem' | 'fq_codel' | 'sfq' | 'prio' | 'fq' | 'cake' | 'noqueue' | 'mq';
}

/** What `tc.qdiscs.add/replace/change` take, one variant per kind. */
export type QdiscSpec = TbfSpec | HtbQdiscSpec | FifoSpec | PlainQdiscSpec | OtherQdiscSpec;

/** An htb class (`tc class add ... parent 1: classid 1:10 htb rate R ceil C`). */
export interface HtbClassSpec {
  kind: 'htb';
  /** `'1:10'`. */
  classid: TcHandle;
  /** The qdisc (`'1:'`, the default: the class id's major) or a parent class (`'1:1'`). */
  parent?: TcHandle;
  rate: Rate;
  /** Most it may borrow up to (default: `rate`). */
  ceil?: Rate;
  burst?: Size;
  cburst?: Size;
  /** Lower is served first when borrowing (0..7). */
  prio?: number;
  quantum?: number;
  /** Packet size the default bursts and tables assume (tc's default 1600). */
  mtu?: number;
}

export type ClassSpec = HtbClassSpec;

/** Fields of an IPv4/IPv6 header a u32 filter matches, as tc's `match ip ...`/`match ip6 ...`. */
export interface U32IpMatch {
  /** Source prefix (`'10.0.0.0/24'`, or an address for /32, /128). */
  src?: string;
  dst?: string;
  /** IP protocol number, or `tcp`, `udp`, `icmp`, `icmpv6`. */
  protocol?: number | 'tcp' | 'udp' | 'icmp' | 'icmpv6';
  /** TCP/UDP source port (tc reads it right after a 20-byte IPv4 header, or a 40-byte IPv6 one). */
  sport?: number;
  dport?: number;
}

/** The u32 match: `ip` or `ip6` fields; `{}` (or `all: true`) matches every packet (`match u32 0 0`). */
export interface U32Match {
  ip?: U32IpMatch;
  ip6?: U32IpMatch;
  all?: boolean;
}

/** A mirred action: send the packet to another device (`action mirred egress redirect dev ifb0`). */
export interface MirredAction {
  kind: 'mirred';
  /** Where on the target device: its egress (what ingress shaping through an ifb uses) or ingress. */
  direction: 'egress' | 'ingress';
  /** Take the packet (`redirect`) or copy it (`mirror`). */
  mode: 'redirect' | 'mirror';
  dev: LinkRef;
}

/** A u32 filter (`tc filter add ... protocol ip prio 1 u32 match ... flowid 1:10`). */
export interface U32FilterSpec {
  kind: 'u32';
  /** The qdisc or class it attaches to (`'1:'`), `'ffff:'` for an ingress qdisc, `ingress`/`egress` of clsact. */
  parent: TcHandle | 'ingress' | 'egress';
  /** `all` (the default, as tc), `ip`, `ipv6`, or an ethertype number. */
  protocol?: 'all' | 'ip' | 'ipv6' | number;
  /** tc's `pref`/`prio`, 1..65535 (the kernel picks one when omitted). */
  prio?: number;
  match: U32Match;
  /** Class matching packets go to (tc's `classid`/`flowid`). */
  classid?: TcHandle;
  action?: MirredAction;
  /** The filter's own u32 handle (`800::801`, as a number), for change/replace. */
  handle?: number;
}

export type TcFilterSpec = U32FilterSpec;

/** Which filter `filters.delete` removes: all of a priority, or one by handle (then kind too). */
export interface TcFilterRef {
  parent: TcHandle | 'ingress' | 'egress';
  prio?: number;
  protocol?: 'all' | 'ip' | 'ipv6' | number;
  handle?: number;
  kind?: 'u32';
}

const MODELLED = ['tbf', 'htb', 'pfifo', 'bfifo', 'pfifo_fast', 'ingress', 'clsact'];
const UNMODELLED = ['netem', 'fq_codel', 'sfq', 'prio', 'fq', 'cake', 'noqueue', 'mq'];
const COMMON_KEYS = ['kind', 'parent', 'handle'];
const QDISC_KEYS: Record<string, string[]> = {
  tbf: ['rate', 'burst', 'latency', 'limit', 'peakrate', 'mtu', 'mpu', 'overhead'],
  htb: ['defaultClass', 'r2q', 'directQlen'],
  pfifo: ['limit'],
  bfifo: ['limit'],
};

/** A validated qdisc request: header fields and the TCA_OPTIONS writer. */
export interface QdiscRequest {
  kind: string;
  parent: number;
  handle: number;
  /** Encode the body once the ifindex is known. */
  body(ifindex: number, clock: PschedClock): Buffer;
  /** `root tbf rate 10mbit ...` for the operation text. */
  words: string;
}

function object(field: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ValidationError(field, v, 'must be an object');
  return v as Record<string, unknown>;
}

/** The tc words of a spec, for error messages (`tbf rate 10mbit burst 32kbit latency 400ms`). */
function describe(spec: Record<string, unknown>, skip: string[]): string {
  const words = [String(spec.kind)];
  for (const [k, v] of Object.entries(spec)) if (!skip.includes(k) && v !== undefined && typeof v !== 'object') words.push(k, String(v));
  return words.join(' ');
}

function parentWords(parent: number): string {
  if (parent === TC_H_ROOT) return 'root';
  if (parent === TC_H_INGRESS) return 'ingress';
  return `parent ${formatParent(parent)}`;
}

function formatParent(h: number): string {
  const maj = (h >>> 16).toString(16);
  const min = h & 0xffff;
  return min ? `${maj}:${min.toString(16)}` : `${maj}:`;
}

/** Validate a qdisc spec (nothing sent yet) and prepare its request. */
export function qdiscRequest(input: QdiscSpec): QdiscRequest {
  const spec = object('spec', input);
  const kind = spec.kind;
  if (typeof kind !== 'string' || (!MODELLED.includes(kind) && !UNMODELLED.includes(kind))) {
    throw new ValidationError('kind', kind, `must be one of ${[...MODELLED, ...UNMODELLED].join(', ')}`);
  }
  checkKeys('', spec, [...COMMON_KEYS, ...(QDISC_KEYS[kind] ?? [])]);
  let parent: number;
  let handle: number;
  if (kind === 'ingress' || kind === 'clsact') {
    // As tc: the hook is the parent and ffff: the handle, whatever else was given.
    if (spec.parent !== undefined && spec.parent !== kind) throw new ValidationError('parent', spec.parent, `a ${kind} qdisc has no parent to choose`);
    if (spec.handle !== undefined && spec.handle !== 'ffff:') throw new ValidationError('handle', spec.handle, `a ${kind} qdisc's handle is always ffff:`);
    parent = TC_H_INGRESS;
    handle = TC_H_MAKE(TC_H_INGRESS, 0);
  } else {
    parent = spec.parent === undefined ? TC_H_ROOT : parseParent('parent', spec.parent);
    handle = spec.handle === undefined ? 0 : parseQdiscHandle('handle', spec.handle);
  }
  let options: ((clock: PschedClock) => Parameters<typeof encodeTcBody>[1]) | undefined;
  if (kind === 'tbf') {
    const p = tbfParams(spec as unknown as TbfSpec);
    options = (clock) => ({ options: (a) => encodeTbf(a, p, clock) });
  } else if (kind === 'htb') {
    const s = spec as unknown as HtbQdiscSpec;
    const p = {
      defaultClass: s.defaultClass === undefined ? 0 : defaultClass(s.defaultClass),
      r2q: s.r2q === undefined ? 10 : validateIntRange('r2q', s.r2q, 1, 0xffffffff),
      directQlen: s.directQlen === undefined ? undefined : validateIntRange('directQlen', s.directQlen, 0, 0xffffffff),
    };
    options = () => ({ options: (a) => encodeHtbQdisc(a, p) });
  } else if (kind === 'pfifo' || kind === 'bfifo') {
    const limit = spec.limit === undefined ? undefined : parseSize('limit', spec.limit);
    if (limit !== undefined) options = () => ({ rawOptions: encodeFifo(limit) });
  }
  const words = `${parentWords(parent)}${handle && kind !== 'ingress' && kind !== 'clsact' ? ` handle ${formatParent(handle)}` : ''} ${describe(spec, COMMON_KEYS)}`;
  return {
    kind,
    parent,
    handle,
    words: kind === 'ingress' || kind === 'clsact' ? kind : words,
    body: (ifindex, clock) => encodeTcBody({ family: AF_UNSPEC, ifindex, parent, handle }, { kind, ...options?.(clock) }),
  };
}

function defaultClass(v: unknown): number {
  if (typeof v === 'number') return validateIntRange('defaultClass', v, 0, 0xffff);
  if (typeof v === 'string' && v.includes(':')) return parseClassId('defaultClass', v) & 0xffff;
  if (typeof v === 'string' && /^[0-9a-fA-F]{1,4}$/.test(v)) return parseInt(v, 16);
  throw new ValidationError('defaultClass', v, "must be a minor number, a class id ('1:20') or tc's hex minor ('20')");
}

function tbfParams(s: TbfSpec): TbfParams {
  const rate = parseRate('rate', s.rate);
  if (s.burst === undefined) throw new ValidationError('burst', s.burst, 'is required for tbf');
  const burst = parseSize('burst', s.burst);
  if (burst === 0) throw new ValidationError('burst', s.burst, 'must be more than 0 bytes');
  if ((s.latency === undefined) === (s.limit === undefined)) {
    throw new ValidationError(s.latency === undefined ? 'latency' : 'limit', s.latency ?? s.limit, 'tbf needs exactly one of latency and limit');
  }
  const p: TbfParams = { rate, burst };
  if (s.latency !== undefined) p.latency = parseTime('latency', s.latency);
  if (s.limit !== undefined) p.limit = parseSize('limit', s.limit);
  if (s.peakrate !== undefined) {
    p.peakrate = parseRate('peakrate', s.peakrate);
    if (s.mtu === undefined) throw new ValidationError('mtu', s.mtu, 'is required with peakrate');
    if (p.peakrate <= rate) throw new ValidationError('peakrate', s.peakrate, 'must be greater than rate');
  }
  if (s.mtu !== undefined) p.mtu = parseSize('mtu', s.mtu);
  if (s.mpu !== undefined) p.mpu = parseSize('mpu', s.mpu, 0xffff);
  if (s.overhead !== undefined) p.overhead = validateIntRange('overhead', s.overhead, 0, 0xffff);
  // tc refuses a burst that takes longer than 2^32 ticks to send ("burst out of range").
  if ((burst / Math.min(rate, 0xffffffff)) * 1e6 * (1000 / 64) >= 0xffffffff) throw new ValidationError('burst', s.burst, 'takes too long to send at this rate');
  return p;
}

const CLASS_KEYS = ['kind', 'classid', 'parent', 'rate', 'ceil', 'burst', 'cburst', 'prio', 'quantum', 'mtu'];

/** A validated class request. */
export interface ClassRequest {
  classid: number;
  parent: number;
  words: string;
  body(ifindex: number, clock: PschedClock): Buffer;
}

export function classRequest(input: ClassSpec): ClassRequest {
  const s = object('spec', input) as unknown as HtbClassSpec;
  if (s.kind !== 'htb') throw new ValidationError('kind', s.kind, 'must be htb (the only classful qdisc this kernel has)');
  checkKeys('', s, CLASS_KEYS);
  const classid = parseClassId('classid', s.classid);
  const parent = s.parent === undefined ? (classid & 0xffff0000) >>> 0 : parseParent('parent', s.parent);
  if (parent === TC_H_ROOT) throw new ValidationError('parent', s.parent, "an htb class hangs under its qdisc ('1:') or another class");
  if (((parent & 0xffff0000) >>> 0) !== ((classid & 0xffff0000) >>> 0)) {
    throw new ValidationError('classid', s.classid, `must have the major number of its parent ${formatParent(parent)}`);
  }
  const rate = parseRate('rate', s.rate);
  const p = {
    rate,
    ceil: s.ceil === undefined ? undefined : parseRate('ceil', s.ceil),
    burst: s.burst === undefined ? undefined : parseSize('burst', s.burst),
    cburst: s.cburst === undefined ? undefined : parseSize('cburst', s.cburst),
    prio: s.prio === undefined ? undefined : validateIntRange('prio', s.prio, 0, 7),
    quantum: s.quantum === undefined ? undefined : validateIntRange('quantum', s.quantum, 1, 0xffffffff),
    mtu: s.mtu === undefined ? undefined : validateIntRange('mtu', s.mtu, 68, 0xffff),
  };
  if (p.ceil !== undefined && p.ceil < rate) throw new ValidationError('ceil', s.ceil, 'must not be below rate');
  return {
    classid,
    parent,
    words: `parent ${formatParent(parent)} classid ${formatParent(classid)} ${describe(s as unknown as Record<string, unknown>, ['kind', 'classid', 'parent'])}`,
    body: (ifindex, clock) => encodeTcBody({ family: AF_UNSPEC, ifindex, parent, handle: classid }, { kind: 'htb', options: (a) => encodeHtbClass(a, p, clock) }),
  };
}

const FILTER_KEYS = ['kind', 'parent', 'protocol', 'prio', 'match', 'classid', 'action', 'handle'];
const IP_PROTOCOLS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58 };

function protocolOf(v: unknown, field = 'protocol'): number {
  if (v === undefined || v === 'all') return ETH_P_ALL;
  if (v === 'ip') return ETH_P_IP;
  if (v === 'ipv6') return ETH_P_IPV6;
  if (typeof v === 'number') return validateIntRange(field, v, 1, 0xffff);
  throw new ValidationError(field, v, "must be 'all', 'ip', 'ipv6' or an ethertype number");
}

const htons = (x: number): number => ((x & 0xff) << 8) | (x >> 8);

/** The u32 keys for a match, as tc/f_u32.c packs them. */
export function u32Keys(m: U32Match): U32Key[] {
  const match = object('match', m);
  checkKeys('match', match, ['ip', 'ip6', 'all']);
  if (match.all !== undefined && match.all !== true) throw new ValidationError('match.all', match.all, 'must be true when given');
  if (match.ip && match.ip6) throw new ValidationError('match', m, 'ip and ip6 fields cannot match the same packet');
  const keys: U32Key[] = [];
  const family = match.ip ? 4 : match.ip6 ? 6 : undefined;
  if (family === undefined) {
    packKey(keys, 0, 0, 0);
    return keys;
  }
  if (match.all) throw new ValidationError('match.all', true, 'cannot be combined with ip/ip6 fields');
  const f = family === 4 ? 'match.ip' : 'match.ip6';
  const ip = object(f, family === 4 ? match.ip : match.ip6) as U32IpMatch;
  checkKeys(f, ip, ['src', 'dst', 'protocol', 'sport', 'dport']);
  if (Object.keys(ip).length === 0) throw new ValidationError(f, ip, 'must name at least one field');
  // Offsets in the IPv4 / IPv6 header (tc's parse_ip / parse_ip6).
  const at = family === 4 ? { src: 12, dst: 16, protocol: 9, sport: 20, dport: 22 } : { src: 8, dst: 24, protocol: 6, sport: 40, dport: 42 };
  const ok = (field: string, done: boolean): void => {
    if (!done) throw new ValidationError(`${f}.${field}`, (ip as Record<string, unknown>)[field], 'contradicts another match on the same bytes');
  };
  for (const side of ['src', 'dst'] as const) {
    const v = ip[side];
    if (v === undefined) continue;
    const p = parseRoutePrefix(v, `${f}.${side}`, family);
    ok(side, packPrefix(keys, p.bytes, p.prefixLength, at[side]));
  }
  if (ip.protocol !== undefined) {
    const n = typeof ip.protocol === 'string' ? IP_PROTOCOLS[ip.protocol] : ip.protocol;
    if (n === undefined) throw new ValidationError(`${f}.protocol`, ip.protocol, `must be a number 0..255 or one of ${Object.keys(IP_PROTOCOLS).join(', ')}`);
    ok('protocol', packKey8(keys, validateIntRange(`${f}.protocol`, n, 0, 255), 0xff, at.protocol));
  }
  for (const port of ['sport', 'dport'] as const) {
    const v = ip[port];
    if (v === undefined) continue;
    ok(port, packKey16(keys, validateIntRange(`${f}.${port}`, v, 0, 65535), 0xffff, at[port]));
  }
  return keys;
}

/** A validated filter request; the mirred target is resolved to an ifindex by the caller. */
export interface FilterRequest {
  parent: number;
  info: number;
  words: string;
  mirredDev?: LinkRef;
  body(ifindex: number, mirredIfindex?: number): Buffer;
}

export function filterRequest(input: TcFilterSpec): FilterRequest {
  const s = object('spec', input) as unknown as U32FilterSpec;
  if (s.kind !== 'u32') throw new ValidationError('kind', s.kind, 'must be u32 (this kernel has no matchall, flower or bpf filters modelled here)');
  checkKeys('', s, FILTER_KEYS);
  const parent = parseFilterParent('parent', s.parent);
  const protocol = protocolOf(s.protocol);
  const prio = s.prio === undefined ? 0 : validateIntRange('prio', s.prio, 1, 0xffff);
  const keys = u32Keys(s.match);
  const classid = s.classid === undefined ? undefined : parseClassId('classid', s.classid);
  const handle = s.handle === undefined ? 0 : validateIntRange('handle', s.handle, 1, 0xffffffff);
  let action: Omit<ActionParams, 'ifindex'> | undefined;
  let mirredDev: LinkRef | undefined;
  if (s.action !== undefined) {
    const a = object('action', s.action) as unknown as MirredAction;
    checkKeys('action', a, ['kind', 'direction', 'mode', 'dev']);
    if (a.kind !== 'mirred') throw new ValidationError('action.kind', a.kind, "must be 'mirred' (this kernel has no police action)");
    if (a.direction !== 'egress' && a.direction !== 'ingress') throw new ValidationError('action.direction', a.direction, "must be 'egress' or 'ingress'");
    if (a.mode !== 'redirect' && a.mode !== 'mirror') throw new ValidationError('action.mode', a.mode, "must be 'redirect' or 'mirror'");
    mirredDev = validateLinkRef(a.dev, 'action.dev');
    const eaction = a.direction === 'egress'
      ? (a.mode === 'redirect' ? TCA_EGRESS_REDIR : TCA_EGRESS_MIRROR)
      : (a.mode === 'redirect' ? TCA_INGRESS_REDIR : TCA_INGRESS_MIRROR);
    action = { kind: 'mirred', eaction, action: a.mode === 'redirect' ? TC_ACT_STOLEN : TC_ACT_PIPE };
  }
  const info = TC_H_MAKE(prio << 16, htons(protocol));
  const words = [
    `parent ${s.parent}`, `protocol ${s.protocol ?? 'all'}`, ...(prio ? [`prio ${prio}`] : []), 'u32',
    ...(classid !== undefined ? [`classid ${formatParent(classid)}`] : []),
    ...(action ? [`action mirred ${s.action!.direction} ${s.action!.mode} dev ${mirredDev}`] : []),
  ].join(' ');
  return {
    parent,
    info,
    words,
    mirredDev,
    body: (ifindex, mirredIfindex) => encodeTcBody({ family: AF_UNSPEC, ifindex, parent, handle, info }, {
      kind: 'u32',
      options: (a) => encodeU32(a, { keys, classid, actions: action ? [{ ...action, ifindex: mirredIfindex ?? 0 } as ActionParams] : undefined }),
    }),
  };
}

/** The body of a filter delete (`tc filter del dev X parent P [protocol T] [prio N] [handle H u32]`). */
export function filterDeleteRequest(input: TcFilterRef): { words: string; body(ifindex: number): Buffer } {
  const r = object('filter', input) as unknown as TcFilterRef;
  checkKeys('filter', r, ['parent', 'prio', 'protocol', 'handle', 'kind']);
  const parent = parseFilterParent('parent', r.parent);
  const prio = r.prio === undefined ? 0 : validateIntRange('prio', r.prio, 1, 0xffff);
  const protocol = r.protocol === undefined ? 0 : protocolOf(r.protocol);
  const handle = r.handle === undefined ? 0 : validateIntRange('handle', r.handle, 1, 0xffffffff);
  if (handle && (!prio || r.kind !== 'u32')) throw new ValidationError('handle', r.handle, "deleting one filter by handle needs its prio and kind 'u32'");
  if (r.kind !== undefined && r.kind !== 'u32') throw new ValidationError('kind', r.kind, "must be 'u32'");
  return {
    words: `parent ${r.parent}${prio ? ` prio ${prio}` : ''}${handle ? ` handle 0x${handle.toString(16)} u32` : ''}`,
    body: (ifindex) => encodeTcBody({ family: AF_UNSPEC, ifindex, parent, handle, info: TC_H_MAKE(prio << 16, htons(protocol)) }, { kind: handle ? 'u32' : undefined }),
  };
}

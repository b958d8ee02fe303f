/**
 * Firewall input: validation of rule specs and their translation into nf_tables expressions, laid
 * out as nft itself lays them out (a dependency `meta nfproto` before the first address match in an
 * inet table, `meta l4proto` before port matches, byte-aligned prefixes compared on their leading
 * bytes, others masked with bitwise, 128-bit registers NFT_REG_1..4), so `nft list ruleset` shows
 * the library's rules exactly as it shows the same rules typed with `nft add rule`.
 * @module
 */
import { ValidationError } from '../../errors.js';
import * as C from '../../nfnl/constants.js';
import type { Expr } from '../../nfnl/expr.js';
import { hostBitsZero, parseCidr, parseIp, type IpFamily } from '../../validate/ip.js';
import { IFNAME_MAX_BYTES } from '../../validate/names.js';
import { checkKeys } from '../../validate/options.js';

/** A port or an inclusive range `[first, last]`. */
export type PortSpec = number | readonly [number, number];
/** Layer-4 protocols a rule can match by name. */
export type Protocol = 'tcp' | 'udp' | 'icmp' | 'icmpv6';
/** Conntrack states (`ct state`). */
export type CtState = 'new' | 'established' | 'related' | 'invalid' | 'untracked';

/** What a rule matches; every field is optional and all given fields must match. */
export interface MatchSpec {
  /** Source prefix (`10.0.0.0/24`, `fd00::/64`) or address (`ip saddr`). */
  source?: string;
  /** Destination prefix or address (`ip daddr`). */
  destination?: string;
  /** Destination prefixes the packet must NOT go to (`ip daddr != ...`), one match each. */
  exceptDestinations?: readonly string[];
  /** Input interface by name (`iifname`); `eth*` matches a name prefix. The interface need not exist. */
  inInterface?: string;
  /** Output interface by name (`oifname`); `eth*` matches a name prefix. The interface need not exist. */
  outInterface?: string;
  /** Layer-4 protocol (`meta l4proto`); required by port matches. */
  protocol?: Protocol;
  /** Source port or range (`tcp sport`). */
  sourcePort?: PortSpec;
  /** Destination port or range (`tcp dport`). */
  destinationPort?: PortSpec;
  /** Conntrack states, any of which matches (`ct state established,related`). */
  state?: readonly CtState[];
  /** A comment stored with the rule (nft shows it as `comment "..."`). */
  comment?: string;
}

const MATCH_KEYS = ['source', 'destination', 'exceptDestinations', 'inInterface', 'outInterface', 'protocol', 'sourcePort', 'destinationPort', 'state', 'comment'] as const;

/** Options of masquerade: what to masquerade (`... masquerade` in a nat postrouting chain). */
export type MasqueradeSpec = Omit<MatchSpec, 'state' | 'inInterface'>;
/** SNAT: rewrite the source to `to` (an address or `first-last` range), optionally ports. */
export interface SnatSpec extends Omit<MatchSpec, 'state' | 'inInterface'> {
  to: string;
  toPort?: PortSpec;
}
/** DNAT / port forward: rewrite the destination to `to`, optionally the port to `toPort`. */
export interface DnatSpec extends Omit<MatchSpec, 'state' | 'outInterface'> {
  to: string;
  toPort?: PortSpec;
}
/** A filter rule: where it hooks, what it matches, what it does. */
export interface FilterSpec extends MatchSpec {
  chain: 'input' | 'forward' | 'output';
  action: 'accept' | 'drop' | 'reject';
  /** How to reject (default `port-unreachable`, as ICMP/ICMPv6 for the packet's family). */
  rejectWith?: 'port-unreachable' | 'host-unreachable' | 'admin-prohibited' | 'no-route' | 'tcp-reset';
}

/** The library's chains: name, type, hook and priority as `nft` names them. */
export const CHAINS = {
  prerouting: { type: 'nat', hooknum: C.NF_INET_PRE_ROUTING, priority: -100 },
  postrouting: { type: 'nat', hooknum: C.NF_INET_POST_ROUTING, priority: 100 },
  input: { type: 'filter', hooknum: C.NF_INET_LOCAL_IN, priority: 0 },
  forward: { type: 'filter', hooknum: C.NF_INET_FORWARD, priority: 0 },
  output: { type: 'filter', hooknum: C.NF_INET_LOCAL_OUT, priority: 0 },
} as const;
export type ChainName = keyof typeof CHAINS;

/** A rule ready to send: the chain it goes in and its expressions. */
export interface CompiledRule {
  chain: ChainName;
  exprs: Expr[];
  comment?: string;
}

const PROTO_NUMBERS: Record<Protocol, number> = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58 };
const STATE_BITS: Record<CtState, number> = {
  invalid: C.NF_CT_STATE_INVALID_BIT,
  established: C.NF_CT_STATE_BIT(C.IP_CT_ESTABLISHED),
  related: C.NF_CT_STATE_BIT(C.IP_CT_RELATED),
  new: C.NF_CT_STATE_BIT(C.IP_CT_NEW),
  untracked: C.NF_CT_STATE_UNTRACKED_BIT,
};
const REJECT: Record<NonNullable<FilterSpec['rejectWith']>, [number, number]> = {
  'no-route': [C.NFT_REJECT_ICMPX_UNREACH, C.NFT_REJECT_ICMPX_NO_ROUTE],
  'port-unreachable': [C.NFT_REJECT_ICMPX_UNREACH, C.NFT_REJECT_ICMPX_PORT_UNREACH],
  'host-unreachable': [C.NFT_REJECT_ICMPX_UNREACH, C.NFT_REJECT_ICMPX_HOST_UNREACH],
  'admin-prohibited': [C.NFT_REJECT_ICMPX_UNREACH, C.NFT_REJECT_ICMPX_ADMIN_PROHIBITED],
  'tcp-reset': [C.NFT_REJECT_TCP_RST, 0],
};

const R1 = C.NFT_REG_1;

// ---- validation ----------------------------------------------------------------------------------

interface Prefix {
  family: IpFamily;
  bytes: Buffer;
  len: number;
}

function prefix(v: unknown, field: string): Prefix {
  if (typeof v !== 'string') throw new ValidationError(field, v, 'must be a string (an address or prefix)');
  const c = parseCidr(v, field, true);
  if (!hostBitsZero(c.bytes, c.prefixLength)) throw new ValidationError(field, v, 'has host bits set after the prefix length (write the network address)');
  return { family: c.family, bytes: c.bytes, len: c.prefixLength };
}

function port(v: unknown, field: string): [number, number] {
  const one = (x: unknown): number => {
    if (!Number.isInteger(x) || (x as number) < 0 || (x as number) > 65535) throw new ValidationError(field, v, 'must be a port 0..65535 or a range [first, last]');
    return x as number;
  };
  if (Array.isArray(v)) {
    if (v.length !== 2) throw new ValidationError(field, v, 'a range is [first, last]');
    const [a, b] = [one(v[0]), one(v[1])];
    if (a > b) throw new ValidationError(field, v, 'range starts after it ends');
    return [a, b];
  }
  const p = one(v);
  return [p, p];
}

function ifname(v: unknown, field: string): Buffer {
  if (typeof v !== 'string' || v.length === 0) throw new ValidationError(field, v, 'must be an interface name');
  const wildcard = v.endsWith('*');
  const name = wildcard ? v.slice(0, -1) : v;
  const b = Buffer.from(name, 'utf8');
  if (b.length > IFNAME_MAX_BYTES || /[\s/\0]/.test(name) || (!wildcard && (name === '.' || name === '..'))) {
    throw new ValidationError(field, v, `is not a valid interface name (at most ${IFNAME_MAX_BYTES} bytes, no '/', whitespace or NUL; a trailing '*' matches a prefix)`);
  }
  // nft compares a whole name as IFNAMSIZ bytes (NUL padded), a wildcard on its prefix only.
  if (wildcard) return b;
  const out = Buffer.alloc(IFNAME_MAX_BYTES + 1);
  b.copy(out);
  return out;
}

function familyCheck(current: IpFamily | undefined, f: IpFamily, field: string, v: unknown): IpFamily {
  if (current !== undefined && current !== f) throw new ValidationError(field, v, `is IPv${f} where the rule is IPv${current}`);
  return f;
}

// ---- expression builders ----------------------------------------------------------------------------

const cmp = (op: number, data: Buffer): Expr => ({ name: 'cmp', sreg: R1, op, data });
const meta = (key: number): Expr => ({ name: 'meta', key, dreg: R1 });
const be16buf = (n: number) => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; };

function prefixExprs(p: Prefix, offset: number, op: number): Expr[] {
  const full = p.bytes.length;
  if (p.len === 0) return [];
  if (p.len % 8 === 0) {
    const n = p.len / 8;
    return [{ name: 'payload', dreg: R1, base: C.NFT_PAYLOAD_NETWORK_HEADER, offset, len: n }, cmp(op, p.bytes.subarray(0, n))];
  }
  const mask = Buffer.alloc(full);
  for (let bit = 0; bit < p.len; bit++) mask[bit >> 3] |= 0x80 >> (bit & 7);
  return [
    { name: 'payload', dreg: R1, base: C.NFT_PAYLOAD_NETWORK_HEADER, offset, len: full },
    { name: 'bitwise', sreg: R1, dreg: R1, len: full, mask, xor: Buffer.alloc(full) },
    cmp(op, p.bytes),
  ];
}

function portExprs([lo, hi]: [number, number], offset: number): Expr[] {
  const load: Expr = { name: 'payload', dreg: R1, base: C.NFT_PAYLOAD_TRANSPORT_HEADER, offset, len: 2 };
  return lo === hi ? [load, cmp(C.NFT_CMP_EQ, be16buf(lo))] : [load, cmp(C.NFT_CMP_GTE, be16buf(lo)), cmp(C.NFT_CMP_LTE, be16buf(hi))];
}

/** Validate a match and lay out its expressions (without counter or statement). */
export function compileMatch(m: MatchSpec, field: string, knownFamily?: IpFamily): { exprs: Expr[]; family?: IpFamily; protocol?: Protocol } {
  let family = knownFamily;
  const src = m.source !== undefined ? prefix(m.source, `${field}.source`) : undefined;
  if (src) family = familyCheck(family, src.family, `${field}.source`, m.source);
  const dst = m.destination !== undefined ? prefix(m.destination, `${field}.destination`) : undefined;
  if (dst) family = familyCheck(family, dst.family, `${field}.destination`, m.destination);
  if (m.exceptDestinations !== undefined && !Array.isArray(m.exceptDestinations)) throw new ValidationError(`${field}.exceptDestinations`, m.exceptDestinations, 'must be an array of prefixes');
  const except = (m.exceptDestinations ?? []).map((e, i) => {
    const p = prefix(e, `${field}.exceptDestinations[${i}]`);
    family = familyCheck(family, p.family, `${field}.exceptDestinations[${i}]`, e);
    return p;
  });
  const iif = m.inInterface !== undefined ? ifname(m.inInterface, `${field}.inInterface`) : undefined;
  const oif = m.outInterface !== undefined ? ifname(m.outInterface, `${field}.outInterface`) : undefined;
  if (m.protocol !== undefined && !(m.protocol in PROTO_NUMBERS)) throw new ValidationError(`${field}.protocol`, m.protocol, `must be one of ${Object.keys(PROTO_NUMBERS).join(', ')}`);
  if (m.protocol === 'icmp') family = familyCheck(family, 4, `${field}.protocol`, m.protocol);
  if (m.protocol === 'icmpv6') family = familyCheck(family, 6, `${field}.protocol`, m.protocol);
  const sport = m.sourcePort !== undefined ? port(m.sourcePort, `${field}.sourcePort`) : undefined;
  const dport = m.destinationPort !== undefined ? port(m.destinationPort, `${field}.destinationPort`) : undefined;
  if ((sport || dport) && m.protocol !== 'tcp' && m.protocol !== 'udp') {
    throw new ValidationError(`${field}.protocol`, m.protocol, "must be 'tcp' or 'udp' when a port is matched");
  }
  let stateBits = 0;
  if (m.state !== undefined) {
    if (!Array.isArray(m.state) || m.state.length === 0) throw new ValidationError(`${field}.state`, m.state, `must be a non-empty array of ${Object.keys(STATE_BITS).join(', ')}`);
    for (const s of m.state) {
      if (!(s in STATE_BITS)) throw new ValidationError(`${field}.state`, s, `must be one of ${Object.keys(STATE_BITS).join(', ')}`);
      stateBits |= STATE_BITS[s as CtState];
    }
  }
  if (m.comment !== undefined && (typeof m.comment !== 'string' || Buffer.byteLength(m.comment) > 127 || m.comment.includes('\0'))) {
    throw new ValidationError(`${field}.comment`, m.comment, 'must be a string of at most 127 bytes without NUL');
  }

  const exprs: Expr[] = [];
  if (src || dst || except.length > 0) {
    exprs.push(meta(C.NFT_META_NFPROTO), cmp(C.NFT_CMP_EQ, Buffer.from([family === 6 ? C.NFPROTO_IPV6 : C.NFPROTO_IPV4])));
    const [so, doff] = family === 6 ? [8, 24] : [12, 16];
    if (src) exprs.push(...prefixExprs(src, so, C.NFT_CMP_EQ));
    if (dst) exprs.push(...prefixExprs(dst, doff, C.NFT_CMP_EQ));
    for (const e of except) exprs.push(...prefixExprs(e, doff, C.NFT_CMP_NEQ));
  }
  if (iif) exprs.push(meta(C.NFT_META_IIFNAME), cmp(C.NFT_CMP_EQ, iif));
  if (oif) exprs.push(meta(C.NFT_META_OIFNAME), cmp(C.NFT_CMP_EQ, oif));
  if (m.protocol !== undefined) exprs.push(meta(C.NFT_META_L4PROTO), cmp(C.NFT_CMP_EQ, Buffer.from([PROTO_NUMBERS[m.protocol]])));
  if (sport) exprs.push(...portExprs(sport, 0));
  if (dport) exprs.push(...portExprs(dport, 2));
  if (stateBits) {
    const mask = Buffer.alloc(4);
    // ct state is a host-endian u32 bit mask in the register (nft's ct state datatype).
    mask.writeUInt32LE(stateBits);
    exprs.push({ name: 'ct', key: C.NFT_CT_STATE, dreg: R1 }, { name: 'bitwise', sreg: R1, dreg: R1, len: 4, mask, xor: Buffer.alloc(4) }, cmp(C.NFT_CMP_NEQ, Buffer.alloc(4)));
  }
  return { exprs, family, protocol: m.protocol };
}

function comment(m: MatchSpec): { comment?: string } {
  return m.comment !== undefined ? { comment: m.comment } : {};
}

const counter: Expr = { name: 'counter', bytes: 0n, packets: 0n };

export function compileMasquerade(s: MasqueradeSpec): CompiledRule {
  checkKeys('masquerade options', s, MATCH_KEYS.filter((k) => k !== 'state' && k !== 'inInterface'));
  const m = compileMatch(s, 'masquerade');
  return { chain: 'postrouting', exprs: [...m.exprs, counter, { name: 'masq' }], ...comment(s) };
}

/** `a.b.c.d` or `first-last` of one family. */
function natAddress(v: unknown, field: string): { family: IpFamily; min: Buffer; max?: Buffer } {
  if (typeof v !== 'string') throw new ValidationError(field, v, 'must be an address or a range first-last');
  const dash = v.indexOf('-');
  if (dash === -1) {
    const a = parseIp(v, field);
    return { family: a.family, min: a.bytes };
  }
  const a = parseIp(v.slice(0, dash), field);
  const b = parseIp(v.slice(dash + 1), field);
  if (a.family !== b.family) throw new ValidationError(field, v, 'mixes IPv4 and IPv6');
  if (Buffer.compare(a.bytes, b.bytes) > 0) throw new ValidationError(field, v, 'range starts after it ends');
  return { family: a.family, min: a.bytes, max: b.bytes };
}

function natExprs(type: number, to: { family: IpFamily; min: Buffer; max?: Buffer }, ports?: [number, number]): Expr[] {
  const exprs: Expr[] = [];
  let reg = C.NFT_REG_1;
  const regs: { regAddrMin?: number; regAddrMax?: number; regProtoMin?: number; regProtoMax?: number } = {};
  exprs.push({ name: 'immediate', dreg: (regs.regAddrMin = reg++), data: to.min });
  if (to.max) exprs.push({ name: 'immediate', dreg: (regs.regAddrMax = reg++), data: to.max });
  if (ports) {
    exprs.push({ name: 'immediate', dreg: (regs.regProtoMin = reg++), data: be16buf(ports[0]) });
    if (ports[1] !== ports[0]) exprs.push({ name: 'immediate', dreg: (regs.regProtoMax = reg++), data: be16buf(ports[1]) });
  }
  exprs.push({
    name: 'nat',
    type,
    family: to.family === 6 ? C.NFPROTO_IPV6 : C.NFPROTO_IPV4,
    ...regs,
    ...(ports ? { flags: C.NF_NAT_RANGE_PROTO_SPECIFIED } : {}),
  });
  return exprs;
}

function compileNat(kind: 'snat' | 'dnat', s: SnatSpec | DnatSpec): CompiledRule {
  const excluded = kind === 'snat' ? ['state', 'inInterface'] : ['state', 'outInterface'];
  checkKeys(`${kind} options`, s, [...MATCH_KEYS.filter((k) => !excluded.includes(k)), 'to', 'toPort']);
  const to = natAddress(s?.to, `${kind}.to`);
  const m = compileMatch(s, kind, to.family);
  const ports = s.toPort !== undefined ? port(s.toPort, `${kind}.toPort`) : undefined;
  if (ports && m.protocol !== 'tcp' && m.protocol !== 'udp') throw new ValidationError(`${kind}.protocol`, s.protocol, "must be 'tcp' or 'udp' when toPort is given");
  const chain = kind === 'snat' ? 'postrouting' : 'prerouting';
  return { chain, exprs: [...m.exprs, counter, ...natExprs(kind === 'snat' ? C.NFT_NAT_SNAT : C.NFT_NAT_DNAT, to, ports)], ...comment(s) };
}

export function compileSnat(s: SnatSpec): CompiledRule {
  return compileNat('snat', s);
}

export function compileDnat(s: DnatSpec): CompiledRule {
  return compileNat('dnat', s);
}

export function compileFilter(s: FilterSpec): CompiledRule {
  checkKeys('filter rule', s, [...MATCH_KEYS, 'chain', 'action', 'rejectWith']);
  if (s === undefined || !['input', 'forward', 'output'].includes(s.chain)) throw new ValidationError('filter.chain', s?.chain, "must be 'input', 'forward' or 'output'");
  if (!['accept', 'drop', 'reject'].includes(s.action)) throw new ValidationError('filter.action', s.action, "must be 'accept', 'drop' or 'reject'");
  if (s.rejectWith !== undefined && (s.action !== 'reject' || !(s.rejectWith in REJECT))) {
    throw new ValidationError('filter.rejectWith', s.rejectWith, `applies to action 'reject' and is one of ${Object.keys(REJECT).join(', ')}`);
  }
  if (s.rejectWith === 'tcp-reset' && s.protocol !== 'tcp') throw new ValidationError('filter.protocol', s.protocol, "must be 'tcp' for rejectWith 'tcp-reset'");
  const m = compileMatch(s, 'filter');
  const out: Expr[] = [...m.exprs, counter];
  if (s.action === 'reject') {
    const [type, code] = REJECT[s.rejectWith ?? 'port-unreachable'];
    out.push(type === C.NFT_REJECT_TCP_RST ? { name: 'reject', type } : { name: 'reject', type, icmpCode: code });
  } else {
    out.push({ name: 'immediate', dreg: C.NFT_REG_VERDICT, verdict: { code: s.action === 'accept' ? C.NF_ACCEPT : C.NF_DROP } });
  }
  return { chain: s.chain, exprs: out, ...comment(s) };
}

/** Validate a table name as nft accepts it. */
export function validateTableName(v: unknown): string {
  if (typeof v !== 'string' || !/^[A-Za-z][A-Za-z0-9_.-]{0,62}$/.test(v)) {
    throw new ValidationError('table', v, 'must start with a letter and hold letters, digits, _ . - (at most 63 characters)');
  }
  return v;
}

/**
 * Firewall output: nf_tables rules read back in typed form. The reader understands the layouts nft,
 * iptables-nft and this library produce (a load into a register, then a comparison) whatever the
 * order of the matches, and keeps every expression it does not understand, by name with its raw
 * attributes, so nothing in a rule is ever hidden.
 * @module
 */
import { formatIp } from '../../netlink/wire_formats.js';
import * as C from '../../nfnl/constants.js';
import { isKnown, type Expr, type KnownExpr } from '../../nfnl/expr.js';
import type { NftChain, NftRule, NftTable } from '../../nfnl/objects.js';
import type { CtState, Protocol } from './spec.js';
import { withJson } from '../json.js';

/** What a rule matches, as far as the reader understood it. */
export interface RuleMatch {
  source?: string;
  destination?: string;
  /** Destination prefixes excluded (`ip daddr != ...`). */
  exceptDestinations?: string[];
  /** Source prefixes excluded (`ip saddr != ...`). */
  exceptSources?: string[];
  inInterface?: string;
  outInterface?: string;
  protocol?: Protocol | number;
  sourcePort?: number | [number, number];
  destinationPort?: number | [number, number];
  state?: CtState[];
  /** `meta nfproto`: the family an inet rule is restricted to. */
  family?: 4 | 6;
}

/** What a rule does. */
export type RuleAction =
  | { kind: 'accept' | 'drop' | 'return' | 'continue' }
  | { kind: 'jump' | 'goto'; chain: string }
  | { kind: 'reject'; with: string }
  | { kind: 'masquerade'; toPort?: number | [number, number] }
  | { kind: 'snat' | 'dnat'; to: string; toPort?: number | [number, number] }
  | { kind: 'redirect'; toPort?: number | [number, number] }
  /** An iptables extension kept by name (iptables-nft's `xt` target, e.g. MASQUERADE). */
  | { kind: 'xt'; name: string };

/** One rule read back. */
export interface FirewallRule {
  family: string;
  table: string;
  chain: string;
  /** The kernel's handle: what {@link Firewall.delete} takes. */
  handle: number;
  comment?: string;
  match: RuleMatch;
  action?: RuleAction;
  /** The rule's counter, when it has one. */
  counters?: { packets: bigint; bytes: bigint };
  /** Every expression, decoded where modelled, raw otherwise. */
  expressions: Expr[];
  /** Expressions the reader could not place in `match`/`action` (their names); empty when fully understood. */
  unparsed: string[];
}

/** A chain read back. */
export type FirewallChain = Omit<NftChain, 'handle'> & { handle: number };
/** A table read back, with its chains and rules. */
export interface FirewallTable extends Omit<NftTable, 'handle'> {
  handle: number;
  chains: (FirewallChain & { rules: FirewallRule[] })[];
  /** Sets of the table, by name (contents not read). */
  sets: string[];
}

const PROTO_NAMES: Record<number, Protocol> = { 6: 'tcp', 17: 'udp', 1: 'icmp', 58: 'icmpv6' };
const STATE_BITS: [CtState, number][] = [
  ['invalid', C.NF_CT_STATE_INVALID_BIT],
  ['established', C.NF_CT_STATE_BIT(C.IP_CT_ESTABLISHED)],
  ['related', C.NF_CT_STATE_BIT(C.IP_CT_RELATED)],
  ['new', C.NF_CT_STATE_BIT(C.IP_CT_NEW)],
  ['untracked', C.NF_CT_STATE_UNTRACKED_BIT],
];
const REJECT_ICMPX: Record<number, string> = {
  [C.NFT_REJECT_ICMPX_NO_ROUTE]: 'no-route',
  [C.NFT_REJECT_ICMPX_PORT_UNREACH]: 'port-unreachable',
  [C.NFT_REJECT_ICMPX_HOST_UNREACH]: 'host-unreachable',
  [C.NFT_REJECT_ICMPX_ADMIN_PROHIBITED]: 'admin-prohibited',
};
// <linux/netfilter/nf_tables_compat.h>
const NFTA_TARGET_NAME = 1;

type Load =
  | { kind: 'meta'; key: number }
  | { kind: 'payload'; base: number; offset: number; len: number; mask?: Buffer }
  | { kind: 'ct'; key: number; mask?: Buffer };

function prefixText(data: Buffer, full: number, mask?: Buffer): string {
  const bytes = Buffer.alloc(full);
  data.copy(bytes);
  let len = data.length * 8;
  if (mask) {
    len = 0;
    for (const b of mask) for (let i = 7; i >= 0; i--) if (b & (1 << i)) len++;
  }
  const addr = formatIp(bytes);
  return len === full * 8 ? addr : `${addr}/${len}`;
}

function ifnameOf(data: Buffer): string {
  const nul = data.indexOf(0);
  // A comparison without the terminating NUL is nft's wildcard (`eth*`).
  return nul === -1 ? `${data.toString('utf8')}*` : data.toString('utf8', 0, nul);
}

function portOf(r: number | [number, number] | undefined, data: Buffer, op: number): number | [number, number] | undefined {
  const p = data.readUInt16BE(0);
  if (op === C.NFT_CMP_EQ) return p;
  if (op === C.NFT_CMP_GTE) return [p, 65535];
  if (op === C.NFT_CMP_LTE && Array.isArray(r)) return [r[0], p];
  return undefined;
}

function regPort(regs: Map<number, Buffer>, lo?: number, hi?: number): number | [number, number] | undefined {
  const a = lo !== undefined ? regs.get(lo) : undefined;
  if (!a || a.length < 2) return undefined;
  const b = hi !== undefined ? regs.get(hi) : undefined;
  // The kernel dumps the maximum register even when only the minimum was sent (it copies it).
  return b && b.length >= 2 && b.readUInt16BE(0) !== a.readUInt16BE(0) ? [a.readUInt16BE(0), b.readUInt16BE(0)] : a.readUInt16BE(0);
}

/** Read a rule into match/action/counters; `tableFamily` gives ip/ip6 tables their address family. */
export function viewRule(r: NftRule): FirewallRule {
  const match: RuleMatch = {};
  let action: RuleAction | undefined;
  let counters: FirewallRule['counters'];
  const unparsed: string[] = [];
  const regs = new Map<number, Buffer>();
  let load: Load | undefined;
  let family: 4 | 6 | undefined = r.family === 'ip' ? 4 : r.family === 'ip6' ? 6 : undefined;
  const addrLen = () => (family === 6 ? 16 : 4);

  const onCmp = (e: Extract<KnownExpr, { name: 'cmp' }>): boolean => {
    const data = e.data ?? Buffer.alloc(0);
    const op = e.op ?? C.NFT_CMP_EQ;
    if (!load) return false;
    if (load.kind === 'meta') {
      if (op !== C.NFT_CMP_EQ) return false;
      switch (load.key) {
        case C.NFT_META_NFPROTO:
          family = data[0] === C.NFPROTO_IPV6 ? 6 : 4;
          match.family = family;
          return true;
        case C.NFT_META_L4PROTO:
          match.protocol = PROTO_NAMES[data[0]] ?? data[0];
          return true;
        case C.NFT_META_IIFNAME:
          match.inInterface = ifnameOf(data);
          return true;
        case C.NFT_META_OIFNAME:
          match.outInterface = ifnameOf(data);
          return true;
      }
      return false;
    }
    if (load.kind === 'ct') {
      if (load.key !== C.NFT_CT_STATE || op !== C.NFT_CMP_NEQ || !load.mask) return false;
      const bits = load.mask.readUInt32LE(0);
      match.state = STATE_BITS.filter(([, b]) => bits & b).map(([n]) => n);
      return true;
    }
    if (load.base === C.NFT_PAYLOAD_NETWORK_HEADER) {
      const [so, doff] = family === 6 ? [8, 24] : [12, 16];
      if (load.offset !== so && load.offset !== doff) return false;
      if (op !== C.NFT_CMP_EQ && op !== C.NFT_CMP_NEQ) return false;
      const text = prefixText(data, addrLen(), load.mask);
      if (load.offset === so) {
        if (op === C.NFT_CMP_EQ) match.source = text;
        else (match.exceptSources ??= []).push(text);
      } else if (op === C.NFT_CMP_EQ) match.destination = text;
      else (match.exceptDestinations ??= []).push(text);
      return true;
    }
    if (load.base === C.NFT_PAYLOAD_TRANSPORT_HEADER && load.len === 2 && (load.offset === 0 || load.offset === 2)) {
      const key = load.offset === 0 ? 'sourcePort' : 'destinationPort';
      const p = portOf(match[key], data, op);
      if (p === undefined) return false;
      match[key] = p;
      return true;
    }
    return false;
  };

  for (const e of r.expressions) {
    if (!isKnown(e)) {
      if (e.name === 'target' && 'raw' in e && e.raw[NFTA_TARGET_NAME]) {
        const b = e.raw[NFTA_TARGET_NAME];
        const nul = b.indexOf(0);
        action = { kind: 'xt', name: b.toString('utf8', 0, nul === -1 ? b.length : nul) };
      } else unparsed.push(e.name);
      continue;
    }
    let ok = true;
    switch (e.name) {
      case 'meta':
        if (e.dreg !== undefined && e.key !== undefined) load = { kind: 'meta', key: e.key };
        else ok = false;
        break;
      case 'payload':
        if (e.dreg !== undefined) load = { kind: 'payload', base: e.base ?? 0, offset: e.offset ?? 0, len: e.len ?? 0 };
        else ok = false;
        break;
      case 'ct':
        if (e.dreg !== undefined && e.key !== undefined) load = { kind: 'ct', key: e.key };
        else ok = false;
        break;
      case 'bitwise':
        if (load && load.kind !== 'meta' && e.mask) load.mask = e.mask;
        else ok = false;
        break;
      case 'cmp':
        ok = onCmp(e);
        break;
      case 'counter':
        counters = { packets: e.packets ?? 0n, bytes: e.bytes ?? 0n };
        break;
      case 'immediate':
        if (e.verdict) {
          const v = e.verdict;
          if (v.code === C.NF_ACCEPT) action = { kind: 'accept' };
          else if (v.code === C.NF_DROP) action = { kind: 'drop' };
          else if (v.code === C.NFT_RETURN) action = { kind: 'return' };
          else if (v.code === C.NFT_CONTINUE) action = { kind: 'continue' };
          else if (v.code === C.NFT_JUMP || v.code === C.NFT_GOTO) action = { kind: v.code === C.NFT_JUMP ? 'jump' : 'goto', chain: v.chain ?? '' };
          else ok = false;
        } else if (e.data && e.dreg !== undefined) regs.set(e.dreg, e.data);
        else ok = false;
        break;
      case 'masq': {
        const toPort = regPort(regs, e.regProtoMin, e.regProtoMax);
        action = { kind: 'masquerade', ...(toPort !== undefined ? { toPort } : {}) };
        break;
      }
      case 'redir': {
        const toPort = regPort(regs, e.regProtoMin, e.regProtoMax);
        action = { kind: 'redirect', ...(toPort !== undefined ? { toPort } : {}) };
        break;
      }
      case 'nat': {
        const min = e.regAddrMin !== undefined ? regs.get(e.regAddrMin) : undefined;
        const max = e.regAddrMax !== undefined ? regs.get(e.regAddrMax) : undefined;
        const toPort = regPort(regs, e.regProtoMin, e.regProtoMax);
        const to = min ? (max && !max.equals(min) ? `${formatIp(min)}-${formatIp(max)}` : formatIp(min)) : '';
        action = { kind: e.type === C.NFT_NAT_DNAT ? 'dnat' : 'snat', to, ...(toPort !== undefined ? { toPort } : {}) };
        break;
      }
      case 'reject':
        action = { kind: 'reject', with: e.type === C.NFT_REJECT_TCP_RST ? 'tcp-reset' : e.type === C.NFT_REJECT_ICMPX_UNREACH ? (REJECT_ICMPX[e.icmpCode ?? 0] ?? `icmpx code ${e.icmpCode}`) : `icmp code ${e.icmpCode ?? 0}` };
        break;
      default:
        ok = false;
    }
    if (!ok) unparsed.push(e.name);
  }
  const out: FirewallRule = { family: r.family, table: r.table, chain: r.chain, handle: Number(r.handle), match, expressions: r.expressions, unparsed };
  if (r.comment !== undefined) out.comment = r.comment;
  if (action) out.action = action;
  if (counters) out.counters = counters;
  return withJson(out);
}

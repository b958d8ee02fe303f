/**
 * NAT rules read back from nf_tables (`ns.firewall.ruleset()`), as the CLI prints them and doctor
 * judges them: the rules of every table (this library's, nft's, iptables-nft's) whose action
 * translates addresses.
 * @module
 */
import type { FirewallRule, FirewallTable, RuleAction } from '../api/firewall/view.js';

/** iptables-nft's targets that translate addresses (kept by name in an `xt` action). */
const XT_NAT = /^(MASQUERADE|SNAT|DNAT|REDIRECT|NETMAP)$/;
const XT_SOURCE_NAT = /^(MASQUERADE|SNAT)$/;

/** Whether an action rewrites the source (masquerade, snat, iptables' MASQUERADE/SNAT). */
export function isSourceNat(a: RuleAction | undefined): boolean {
  return a !== undefined && (a.kind === 'masquerade' || a.kind === 'snat' || (a.kind === 'xt' && XT_SOURCE_NAT.test(a.name)));
}

/** Whether an action translates addresses or ports at all (source or destination NAT, redirect). */
export function isNat(a: RuleAction | undefined): boolean {
  return a !== undefined && (isSourceNat(a) || a.kind === 'dnat' || a.kind === 'redirect' || (a.kind === 'xt' && XT_NAT.test(a.name)));
}

/** One NAT rule as the CLI prints it (`--json`): where it is, what it matches and does, its counters. */
export interface NatRuleView {
  family: string;
  table: string;
  chain: string;
  handle: number;
  comment: string | null;
  match: FirewallRule['match'];
  action: RuleAction;
  counters: FirewallRule['counters'] | null;
  /** nft-like text: `ip saddr 10.0.2.0/24 oifname "uplink" masquerade`. */
  text: string;
}

/** The NAT rules of a ruleset, in table, chain and rule order. */
export function natRules(tables: readonly FirewallTable[], all = false): NatRuleView[] {
  return tables.flatMap((t) =>
    t.chains.flatMap((c) =>
      c.rules
        .filter((r) => (all ? r.action !== undefined : isNat(r.action)))
        .map((r) => ({ family: t.family, table: t.name, chain: c.name, handle: r.handle, comment: r.comment ?? null, match: r.match, action: r.action!, counters: r.counters ?? null, text: ruleText(r) })),
    ),
  );
}

function ports(p: number | [number, number]): string {
  return Array.isArray(p) ? `${p[0]}-${p[1]}` : String(p);
}

/** A rule in nft's words (what `nft list ruleset` prints, without the counter). */
export function ruleText(r: Pick<FirewallRule, 'match' | 'action' | 'unparsed'>): string {
  const m = r.match;
  const ip = m.family === 6 || (m.source ?? m.destination ?? '').includes(':') ? 'ip6' : 'ip';
  const words: string[] = [];
  if (m.inInterface !== undefined) words.push(`iifname "${m.inInterface}"`);
  if (m.outInterface !== undefined) words.push(`oifname "${m.outInterface}"`);
  if (m.source !== undefined) words.push(`${ip} saddr ${m.source}`);
  for (const s of m.exceptSources ?? []) words.push(`${ip} saddr != ${s}`);
  if (m.destination !== undefined) words.push(`${ip} daddr ${m.destination}`);
  for (const d of m.exceptDestinations ?? []) words.push(`${ip} daddr != ${d}`);
  if (m.protocol !== undefined && m.sourcePort === undefined && m.destinationPort === undefined) words.push(`meta l4proto ${m.protocol}`);
  if (m.sourcePort !== undefined) words.push(`${m.protocol} sport ${ports(m.sourcePort)}`);
  if (m.destinationPort !== undefined) words.push(`${m.protocol} dport ${ports(m.destinationPort)}`);
  if (m.state !== undefined) words.push(`ct state ${m.state.join(',')}`);
  const a = r.action;
  if (a === undefined) words.push('(no verdict)');
  else if (a.kind === 'snat' || a.kind === 'dnat') words.push(`${a.kind} to ${a.to}${a.toPort !== undefined ? `:${ports(a.toPort)}` : ''}`);
  else if (a.kind === 'masquerade' || a.kind === 'redirect') words.push(`${a.kind}${a.toPort !== undefined ? ` to :${ports(a.toPort)}` : ''}`);
  else if (a.kind === 'jump' || a.kind === 'goto') words.push(`${a.kind} ${a.chain}`);
  else if (a.kind === 'reject') words.push(`reject with ${a.with}`);
  else if (a.kind === 'xt') words.push(`xt target ${a.name}`);
  else words.push(a.kind);
  if (r.unparsed.length) words.push(`(+ ${r.unparsed.join(', ')})`);
  return words.join(' ');
}

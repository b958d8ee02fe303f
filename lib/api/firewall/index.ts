/**
 * Firewall and NAT of one namespace through nf_tables netlink (what `nft` and iptables-nft speak):
 * masquerade, SNAT, DNAT / port forwarding, filter rules, all in one table the library owns, each
 * change one atomic batch; and a read-only dump of every table, chain and rule of the namespace.
 * @module
 */
import { ValidationError } from '../../errors.js';
import type { NetlinkConnection } from '../../netlink/connection.js';
import type { NsContext } from '../context.js';
import { NETLINK_NETFILTER } from '../../netlink/constants.js';
import { sendBatch } from '../../nfnl/batch.js';
import * as C from '../../nfnl/constants.js';
import type { Expr } from '../../nfnl/expr.js';
import { NFGENMSG_LEN, nftBody, nftMsgOf, nftMsgType, type BatchMessage } from '../../nfnl/message.js';
import { decodeChain, decodeRule, decodeTable, delRule, delTable, newChain, newRule, newTable, ruleSchema, setSchema } from '../../nfnl/objects.js';
import { checkKeys } from '../../validate/options.js';
import { CHAINS, compileDnat, compileFilter, compileMasquerade, compileSnat, validateTableName, type ChainName, type CompiledRule, type DnatSpec, type FilterSpec, type MasqueradeSpec, type PortSpec, type SnatSpec } from './spec.js';
import { viewRule, type FirewallChain, type FirewallRule, type FirewallTable } from './view.js';

export type { CtState, DnatSpec, FilterSpec, MasqueradeSpec, MatchSpec, PortSpec, Protocol, SnatSpec } from './spec.js';
export type { FirewallChain, FirewallRule, FirewallTable, RuleAction, RuleMatch } from './view.js';

/** The table the library uses when the caller names none: it says whose it is. */
export const DEFAULT_TABLE = 'netns_native';

/**
 * What the firewall needs from a namespace handle: its label for messages and its netfilter
 * connection (a subset of the handle's internal context, so code holding only a connection can build one too).
 */
export type FirewallContext = Pick<NsContext, 'label' | 'connection'>;

/** Options of {@link Firewall.table}. */
export interface FirewallTableOptions {
  /**
   * Create the table with NFT_TABLE_F_OWNER: it belongs to this handle's netlink socket, nobody else
   * can change it, and the kernel deletes it when the handle closes (or the process dies).
   */
  owner?: boolean;
}

/** Options of {@link Firewall.portForward}. */
export interface PortForwardSpec {
  protocol: 'tcp' | 'udp';
  /** Port or range the clients connect to. */
  port: PortSpec;
  /** The LAN address the connections go to. */
  to: string;
  /** Port on `to` (default: unchanged). */
  toPort?: PortSpec;
  /** Only connections arriving on this interface (`iifname`). */
  inInterface?: string;
  /** Only connections to this address or prefix (the router's WAN address). */
  destination?: string;
  comment?: string;
}

/** Options of {@link Firewall.ipMasq}. */
export interface IpMasqOptions {
  /** Traffic to this prefix is not masqueraded (the pod network); default: the source prefix itself. */
  subnet?: string;
  /** Only traffic leaving through this interface. */
  outInterface?: string;
  comment?: string;
}

/** One change of {@link Firewall.add}. */
export type FirewallChange =
  | { masquerade: MasqueradeSpec }
  | { snat: SnatSpec }
  | { dnat: DnatSpec }
  | { filter: FilterSpec }
  /** Expressions as they go on the wire (lib/nfnl), for what the typed specs do not cover; checked by the kernel only. */
  | { raw: { chain: ChainName; expressions: Expr[]; comment?: string } };

const CHANGE_KINDS = ['masquerade', 'snat', 'dnat', 'filter', 'raw'] as const;

/**
 * nf_tables firewall and NAT of one namespace (`nft`, `iptables -t nat`), reached as `ns.firewall`.
 * Everything it makes lives in one `inet` table ({@link DEFAULT_TABLE} unless the caller picks another
 * with {@link Firewall.table}); tables of iptables-nft and of other users are only ever read.
 *
 * Interfaces are matched by name (`iifname`/`oifname`), as nft does: the interface need not exist
 * when the rule is made, and the rule applies to whatever interface carries that name later.
 */
export class Firewall {
  private readonly family = C.NFPROTO_INET;

  /** @internal The handle makes it (users reach it as `ns.links`, `ns.tc`, ...). */
  constructor(
    private readonly ctx: FirewallContext,
    /** The table this object manages. */
    readonly tableName: string = DEFAULT_TABLE,
    private readonly options: FirewallTableOptions = {},
  ) {}

  /**
   * The same firewall API on another table of the namespace (created on its first rule).
   *
   * Equivalent to: `nft add table inet NAME` (with `{ flags owner; }` when `owner` is set).
   * @example
   * ```ts
   * const fw = ns.firewall.table('my_daemon', { owner: true });
   * await fw.masquerade({ source: '10.0.10.0/24', outInterface: 'wan0' });
   * ```
   */
  table(name: string, opts: FirewallTableOptions = {}): Firewall {
    checkKeys('table options', opts, ['owner']);
    if (opts.owner !== undefined && typeof opts.owner !== 'boolean') throw new ValidationError('owner', opts.owner, 'must be a boolean');
    return new Firewall(this.ctx, validateTableName(name), opts);
  }

  /**
   * Masquerade traffic leaving the namespace: its source becomes the outgoing interface's address.
   *
   * Equivalent to: `iptables -t nat -A POSTROUTING -s 10.0.10.0/24 -o wan0 -j MASQUERADE`, or
   * `nft add rule inet netns_native postrouting ip saddr 10.0.10.0/24 oifname "wan0" counter masquerade`
   * @example
   * ```ts
   * await router.firewall.masquerade({ source: '10.0.10.0/24', outInterface: 'veth-wan' });
   * ```
   */
  async masquerade(spec: MasqueradeSpec): Promise<FirewallRule> {
    if (spec === null || typeof spec !== 'object') throw new ValidationError('masquerade', spec, 'must be an object');
    return (await this.add([{ masquerade: spec }]))[0];
  }

  /**
   * Rewrite the source address (and optionally port) of traffic leaving the namespace.
   *
   * Equivalent to: `iptables -t nat -A POSTROUTING -s 10.0.10.0/24 -j SNAT --to-source 192.0.2.1`, or
   * `nft add rule inet netns_native postrouting ip saddr 10.0.10.0/24 counter snat ip to 192.0.2.1`
   * @example
   * ```ts
   * await router.firewall.snat({ source: '10.0.10.0/24', outInterface: 'wan0', to: '192.0.2.1-192.0.2.9' });
   * ```
   */
  async snat(spec: SnatSpec): Promise<FirewallRule> {
    return (await this.add([{ snat: spec }]))[0];
  }

  /**
   * Rewrite the destination of incoming connections (before routing).
   *
   * Equivalent to: `iptables -t nat -A PREROUTING -i wan0 -p tcp --dport 8080 -j DNAT --to-destination 10.0.10.2:80`,
   * or `nft add rule inet netns_native prerouting iifname "wan0" tcp dport 8080 counter dnat ip to 10.0.10.2:80`
   * @example
   * ```ts
   * await router.firewall.dnat({ inInterface: 'wan0', protocol: 'tcp', destinationPort: 8080, to: '10.0.10.2', toPort: 80 });
   * ```
   */
  async dnat(spec: DnatSpec): Promise<FirewallRule> {
    return (await this.add([{ dnat: spec }]))[0];
  }

  /**
   * Forward a port of the namespace to a host behind it (DNAT in words of a port forward, as CNI's
   * `portmap` plugin does it). The server sees the client's real address.
   *
   * Equivalent to: `iptables -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 10.0.10.2:80`
   * @example
   * ```ts
   * await router.firewall.portForward({ protocol: 'tcp', port: 8080, to: '10.0.10.2', toPort: 80, inInterface: 'wan0' });
   * ```
   */
  async portForward(spec: PortForwardSpec): Promise<FirewallRule> {
    if (spec === null || typeof spec !== 'object') throw new ValidationError('portForward', spec, 'must be an object');
    checkKeys('portForward options', spec, ['protocol', 'port', 'to', 'toPort', 'inInterface', 'destination', 'comment']);
    const { port, ...rest } = spec;
    return this.dnat({ ...rest, destinationPort: port });
  }

  /**
   * CNI's `ipMasq`: masquerade what a pod (or pod subnet) sends anywhere except to its own subnet
   * and to multicast, as the bridge plugin's `ip-masq` chain does.
   *
   * Equivalent to: `iptables -t nat -A POSTROUTING -s 10.88.0.5 ! -d 10.88.0.0/16 -j MASQUERADE` (plus
   * the multicast exception), or `nft add rule inet netns_native postrouting ip saddr 10.88.0.5 ip daddr != 10.88.0.0/16 ip daddr != 224.0.0.0/4 counter masquerade`
   * @example
   * ```ts
   * const rule = await host.firewall.ipMasq('10.88.0.5/32', { subnet: '10.88.0.0/16', comment: 'pod abc' });
   * await host.firewall.delete(rule);
   * ```
   */
  async ipMasq(source: string, opts: IpMasqOptions = {}): Promise<FirewallRule> {
    checkKeys('ipMasq options', opts, ['subnet', 'outInterface', 'comment']);
    const subnet = opts.subnet ?? source;
    const v6 = typeof subnet === 'string' && subnet.includes(':');
    return this.masquerade({
      source,
      exceptDestinations: [subnet, v6 ? 'ff00::/8' : '224.0.0.0/4'],
      ...(opts.outInterface !== undefined ? { outInterface: opts.outInterface } : {}),
      ...(opts.comment !== undefined ? { comment: opts.comment } : {}),
    });
  }

  /**
   * A filter rule on input, forward or output; every filter rule counts what it matches.
   *
   * Equivalent to: `iptables -A FORWARD -s 10.0.10.0/24 -p tcp --dport 22 -j DROP`, or
   * `nft add rule inet netns_native forward ip saddr 10.0.10.0/24 tcp dport 22 counter drop`
   * @example
   * ```ts
   * await router.firewall.filter({ chain: 'forward', state: ['established', 'related'], action: 'accept' });
   * await router.firewall.filter({ chain: 'input', protocol: 'tcp', destinationPort: 22, action: 'reject', rejectWith: 'tcp-reset' });
   * ```
   */
  async filter(spec: FilterSpec): Promise<FirewallRule> {
    return (await this.add([{ filter: spec }]))[0];
  }

  /**
   * Several changes in one transaction: all of them apply, or none (the kernel aborts the whole
   * batch and the error names the change it refused, with the kernel's text).
   *
   * Equivalent to: `nft -f FILE` with one `add rule` line per change.
   * @example
   * ```ts
   * await router.firewall.add([
   *   { masquerade: { source: '10.0.10.0/24', outInterface: 'wan0' } },
   *   { filter: { chain: 'forward', state: ['invalid'], action: 'drop' } },
   * ]);
   * ```
   */
  async add(changes: readonly FirewallChange[]): Promise<FirewallRule[]> {
    if (!Array.isArray(changes) || changes.length === 0) throw new ValidationError('changes', changes, 'must be a non-empty array');
    const compiled = changes.map((c, i) => compileChange(c, i));
    const chains = [...new Set(compiled.map((c) => c.chain))];
    const messages: BatchMessage[] = [this.tableMessage(), ...chains.map((c) => newChain(this.family, this.tableName, c, CHAINS[c]))];
    for (const c of compiled) messages.push(newRule(this.family, this.tableName, c.chain, c.exprs, c.comment));
    const answers = await this.batch(messages, `nft add rule ${this.qualified}`);
    return answers.slice(1 + chains.length).map((msgs, i) => {
      const echoed = msgs.find((m) => nftMsgOf(m.type) === C.NFT_MSG_NEWRULE);
      const rule = echoed ? decodeRule(echoed) : { family: 'inet', table: this.tableName, chain: compiled[i].chain, handle: 0n, expressions: compiled[i].exprs };
      return viewRule(rule);
    });
  }

  /**
   * The rules of this firewall's table, in chain order, with their counters.
   *
   * Equivalent to: `nft -a list table inet netns_native` (or `iptables -t nat -L -n -v`).
   * @example
   * ```ts
   * for (const r of await router.firewall.list()) console.log(r.chain, r.action, r.counters?.packets);
   * ```
   */
  async list(): Promise<FirewallRule[]> {
    const conn = await this.conn();
    const msgs = await conn.dump(
      nftMsgType(C.NFT_MSG_GETRULE),
      nftBody(this.family, (a) => ruleSchema.encode(a, { table: this.tableName })),
      `nft list table ${this.qualified}`,
    );
    return msgs.filter((m) => nftMsgOf(m.type) === C.NFT_MSG_NEWRULE).map((m) => viewRule(decodeRule(m))).filter((r) => r.table === this.tableName);
  }

  /**
   * Delete one rule of this firewall's table (by the rule returned when it was added, or its handle).
   *
   * Equivalent to: `nft delete rule inet netns_native postrouting handle 4`
   * @example
   * ```ts
   * const r = await router.firewall.masquerade({ outInterface: 'wan0' });
   * await router.firewall.delete(r);
   * ```
   */
  async delete(rule: FirewallRule | number): Promise<void> {
    let target: { chain: string; handle: number } | undefined;
    if (typeof rule === 'number') {
      if (!Number.isSafeInteger(rule) || rule <= 0) throw new ValidationError('handle', rule, 'must be a positive integer');
      target = (await this.list()).find((r) => r.handle === rule);
      if (!target) throw new ValidationError('handle', rule, `is not a rule of table ${this.qualified}`);
    } else {
      if (typeof rule !== 'object' || rule === null || typeof rule.chain !== 'string' || !Number.isSafeInteger(rule.handle)) {
        throw new ValidationError('rule', rule, 'must be a rule returned by this API, or a handle');
      }
      if (rule.table !== this.tableName) throw new ValidationError('rule', rule.table, `belongs to table ${rule.table}, not ${this.tableName}`);
      target = rule;
    }
    await this.batch([delRule(this.family, this.tableName, target.chain, BigInt(target.handle))], `nft delete rule ${this.qualified} ${target.chain} handle ${target.handle}`);
  }

  /**
   * Remove everything the library made here: the whole table with its chains and rules. Resolves
   * false when there was no table.
   *
   * Equivalent to: `nft delete table inet netns_native`
   * @example
   * ```ts
   * await router.firewall.flush();
   * ```
   */
  async flush(): Promise<boolean> {
    try {
      await this.batch([delTable(this.family, this.tableName)], `nft delete table ${this.qualified}`);
      return true;
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return false;
      throw e;
    }
  }

  /**
   * Every nf_tables table, chain and rule of the namespace, read only: this library's, nft's and
   * the ones iptables-nft made for `iptables` commands. Known expressions are decoded into
   * `match`/`action`; the others are kept by name with their raw attributes.
   *
   * Equivalent to: `nft -a list ruleset`, and to `iptables -L -n -v` / `iptables -t nat -L -n -v`
   * (`nsenter -t PID -n iptables -L -n` for a process's namespace).
   * @example
   * ```ts
   * for (const t of await ns.firewall.ruleset())
   *   for (const c of t.chains) for (const r of c.rules) console.log(t.family, t.name, c.name, r.match, r.action);
   * ```
   */
  async ruleset(): Promise<FirewallTable[]> {
    const conn = await this.conn();
    const op = 'nft list ruleset';
    const dump = (msg: number) => conn.dump(nftMsgType(msg), nftBody(C.NFPROTO_UNSPEC), op);
    const [tables, chains, rules, sets] = [await dump(C.NFT_MSG_GETTABLE), await dump(C.NFT_MSG_GETCHAIN), await dump(C.NFT_MSG_GETRULE), await dump(C.NFT_MSG_GETSET)];
    const out: FirewallTable[] = tables
      .filter((m) => nftMsgOf(m.type) === C.NFT_MSG_NEWTABLE)
      .map((m) => {
        const t = decodeTable(m);
        return { ...t, handle: Number(t.handle), chains: [], sets: [] };
      });
    const tableOf = (family: string, name: string) => out.find((t) => t.family === family && t.name === name);
    for (const m of chains) {
      if (nftMsgOf(m.type) !== C.NFT_MSG_NEWCHAIN) continue;
      const c = decodeChain(m);
      tableOf(c.family, c.table)?.chains.push({ ...c, handle: Number(c.handle), rules: [] } as FirewallChain & { rules: FirewallRule[] });
    }
    for (const m of rules) {
      if (nftMsgOf(m.type) !== C.NFT_MSG_NEWRULE) continue;
      const r = decodeRule(m);
      tableOf(r.family, r.table)?.chains.find((c) => c.name === r.chain)?.rules.push(viewRule(r));
    }
    for (const m of sets) {
      if (nftMsgOf(m.type) !== C.NFT_MSG_NEWSET) continue;
      const s = setSchema.decode(m.payload, NFGENMSG_LEN);
      const fam = decodeTable(m).family;
      if (s.table !== undefined && s.name !== undefined) tableOf(fam, s.table)?.sets.push(s.name);
    }
    return out;
  }

  private get qualified(): string {
    return `inet ${this.tableName}`;
  }

  private tableMessage(): BatchMessage {
    return newTable(this.family, this.tableName, this.options.owner ? C.NFT_TABLE_F_OWNER : 0);
  }

  private conn(): Promise<NetlinkConnection> {
    return this.ctx.connection(NETLINK_NETFILTER);
  }

  private async batch(messages: BatchMessage[], words: string) {
    const conn = await this.conn();
    const op = this.ctx.label ? `${this.ctx.label.replace(/^ip -n /, 'ip netns exec ')} ${words}` : words;
    return sendBatch(conn, messages, op);
  }
}

function compileChange(c: FirewallChange, i: number): CompiledRule {
  if (typeof c !== 'object' || c === null) throw new ValidationError(`changes[${i}]`, c, `must be an object with one of ${CHANGE_KINDS.join(', ')}`);
  const keys = Object.keys(c);
  if (keys.length !== 1 || !(CHANGE_KINDS as readonly string[]).includes(keys[0])) {
    throw new ValidationError(`changes[${i}]`, keys.join(','), `must have exactly one of ${CHANGE_KINDS.join(', ')}`);
  }
  if ('masquerade' in c) return compileMasquerade(c.masquerade);
  if ('snat' in c) return compileSnat(c.snat);
  if ('dnat' in c) return compileDnat(c.dnat);
  if ('filter' in c) return compileFilter(c.filter);
  const raw = c.raw;
  checkKeys(`changes[${i}].raw`, raw, ['chain', 'expressions', 'comment']);
  if (!(raw.chain in CHAINS)) throw new ValidationError(`changes[${i}].raw.chain`, raw.chain, `must be one of ${Object.keys(CHAINS).join(', ')}`);
  if (!Array.isArray(raw.expressions) || raw.expressions.some((e) => typeof e?.name !== 'string')) {
    throw new ValidationError(`changes[${i}].raw.expressions`, raw.expressions, 'must be an array of expressions with a name');
  }
  return { chain: raw.chain, exprs: raw.expressions, ...(raw.comment !== undefined ? { comment: raw.comment } : {}) };
}



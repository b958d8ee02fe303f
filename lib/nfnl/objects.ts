/**
 * nf_tables objects: tables, chains, rules and sets (NFTA_TABLE_*, NFTA_CHAIN_*, NFTA_RULE_*,
 * NFTA_SET_*), as messages to send and as typed objects read from a dump.
 * @module
 */
import { AttrMap, type AttrWriter } from '../netlink/attributes.js';
import type { NetlinkMessage } from '../netlink/message.js';
import { NLM_F_APPEND, NLM_F_CREATE, NLM_F_ECHO, NLM_F_EXCL } from '../netlink/constants.js';
import { Schema, attr, be32, binary, nested, string, type Decoded } from '../netlink/schema.js';
import * as C from './constants.js';
import { be64, decodeExprs, encodeExprs, sbe32, type Expr } from './expr.js';
import { nfgenmsg, nftBody, NFGENMSG_LEN, type BatchMessage } from './message.js';

export const tableSchema = new Schema('nft_table', {
  name: attr(C.NFTA_TABLE_NAME, string),
  flags: attr(C.NFTA_TABLE_FLAGS, be32),
  use: attr(C.NFTA_TABLE_USE, be32),
  handle: attr(C.NFTA_TABLE_HANDLE, be64),
  userdata: attr(C.NFTA_TABLE_USERDATA, binary),
  owner: attr(C.NFTA_TABLE_OWNER, be32),
});

export const hookSchema = new Schema('nft_hook', {
  hooknum: attr(C.NFTA_HOOK_HOOKNUM, be32),
  // The priority is a signed 32-bit number in network order (srcnat is 100, dstnat -100).
  priority: attr(C.NFTA_HOOK_PRIORITY, sbe32),
  dev: attr(C.NFTA_HOOK_DEV, string),
});

export const chainSchema = new Schema('nft_chain', {
  table: attr(C.NFTA_CHAIN_TABLE, string),
  handle: attr(C.NFTA_CHAIN_HANDLE, be64),
  name: attr(C.NFTA_CHAIN_NAME, string),
  hook: attr(C.NFTA_CHAIN_HOOK, nested(hookSchema)),
  policy: attr(C.NFTA_CHAIN_POLICY, be32),
  use: attr(C.NFTA_CHAIN_USE, be32),
  type: attr(C.NFTA_CHAIN_TYPE, string),
  flags: attr(C.NFTA_CHAIN_FLAGS, be32),
  userdata: attr(C.NFTA_CHAIN_USERDATA, binary),
});

export const ruleSchema = new Schema('nft_rule', {
  table: attr(C.NFTA_RULE_TABLE, string),
  chain: attr(C.NFTA_RULE_CHAIN, string),
  handle: attr(C.NFTA_RULE_HANDLE, be64),
  position: attr(C.NFTA_RULE_POSITION, be64),
  userdata: attr(C.NFTA_RULE_USERDATA, binary),
});

export const setSchema = new Schema('nft_set', {
  table: attr(C.NFTA_SET_TABLE, string),
  name: attr(C.NFTA_SET_NAME, string),
  flags: attr(C.NFTA_SET_FLAGS, be32),
  keyType: attr(C.NFTA_SET_KEY_TYPE, be32),
  keyLen: attr(C.NFTA_SET_KEY_LEN, be32),
  dataType: attr(C.NFTA_SET_DATA_TYPE, be32),
  dataLen: attr(C.NFTA_SET_DATA_LEN, be32),
  id: attr(C.NFTA_SET_ID, be32),
  handle: attr(C.NFTA_SET_HANDLE, be64),
  userdata: attr(C.NFTA_SET_USERDATA, binary),
});

/** Family names as nft prints them. */
export const FAMILY_NAMES: Record<number, string> = {
  [C.NFPROTO_INET]: 'inet',
  [C.NFPROTO_IPV4]: 'ip',
  [C.NFPROTO_ARP]: 'arp',
  [C.NFPROTO_NETDEV]: 'netdev',
  [C.NFPROTO_BRIDGE]: 'bridge',
  [C.NFPROTO_IPV6]: 'ip6',
};

/** Hook names as nft prints them (inet/ip/ip6 families). */
export const HOOK_NAMES = ['prerouting', 'input', 'forward', 'output', 'postrouting', 'ingress'] as const;

// ---- rule comments: nftnl's user data TLVs (u8 type, u8 length, value), type 0 is the comment -----
const NFTNL_UDATA_RULE_COMMENT = 0;

/** Encode a comment as nft stores it in NFTA_RULE_USERDATA (NUL-terminated), so `nft list` shows it. */
export function encodeComment(comment: string): Buffer {
  const v = Buffer.from(comment + '\0', 'utf8');
  return Buffer.concat([Buffer.from([NFTNL_UDATA_RULE_COMMENT, v.length]), v]);
}

/** The comment in rule user data, if any. */
export function decodeComment(u: Buffer | undefined): string | undefined {
  if (!u) return undefined;
  for (let off = 0; off + 2 <= u.length; ) {
    const type = u[off];
    const len = u[off + 1];
    if (off + 2 + len > u.length) return undefined;
    if (type === NFTNL_UDATA_RULE_COMMENT) {
      const v = u.subarray(off + 2, off + 2 + len);
      const nul = v.indexOf(0);
      return v.toString('utf8', 0, nul === -1 ? v.length : nul);
    }
    off += 2 + len;
  }
  return undefined;
}

// ---- messages ------------------------------------------------------------------------------------

/** NFT_MSG_NEWTABLE without NLM_F_EXCL: creates the table or leaves an existing one as it is. */
export function newTable(family: number, name: string, flags = 0): BatchMessage {
  return {
    msg: C.NFT_MSG_NEWTABLE,
    flags: NLM_F_CREATE,
    body: nftBody(family, (a) => tableSchema.encode(a, { name, flags })),
    what: `add table ${FAMILY_NAMES[family]} ${name}`,
  };
}

export function delTable(family: number, name: string): BatchMessage {
  return { msg: C.NFT_MSG_DELTABLE, flags: 0, body: nftBody(family, (a) => tableSchema.encode(a, { name })), what: `delete table ${FAMILY_NAMES[family]} ${name}` };
}

/** A base chain's hook: type ('filter', 'nat'), hook number, priority, policy. */
export interface BaseChainSpec {
  type: 'filter' | 'nat' | 'route';
  hooknum: number;
  priority: number;
  policy?: number;
}

/** NFT_MSG_NEWCHAIN without NLM_F_EXCL (`nft add chain`): an existing identical chain is kept. */
export function newChain(family: number, table: string, name: string, base?: BaseChainSpec): BatchMessage {
  return {
    msg: C.NFT_MSG_NEWCHAIN,
    flags: NLM_F_CREATE,
    body: nftBody(family, (a) =>
      chainSchema.encode(a, {
        table,
        name,
        ...(base ? { hook: { hooknum: base.hooknum, priority: base.priority }, policy: base.policy ?? C.NF_ACCEPT, type: base.type } : {}),
      }),
    ),
    what: `add chain ${FAMILY_NAMES[family]} ${table} ${name}`,
  };
}

/** NFT_MSG_NEWRULE appended to the chain (`nft add rule`); NLM_F_ECHO returns the rule with its handle. */
export function newRule(family: number, table: string, chain: string, exprs: readonly Expr[], comment?: string): BatchMessage {
  return {
    msg: C.NFT_MSG_NEWRULE,
    flags: NLM_F_CREATE | NLM_F_APPEND | NLM_F_ECHO,
    body: nftBody(family, (a: AttrWriter) => {
      ruleSchema.encode(a, { table, chain });
      encodeExprs(a, C.NFTA_RULE_EXPRESSIONS, exprs);
      if (comment !== undefined) ruleSchema.encode(a, { userdata: encodeComment(comment) });
    }),
    what: `add rule ${FAMILY_NAMES[family]} ${table} ${chain}`,
  };
}

export function delRule(family: number, table: string, chain: string, handle: bigint): BatchMessage {
  return {
    msg: C.NFT_MSG_DELRULE,
    flags: 0,
    body: nftBody(family, (a) => ruleSchema.encode(a, { table, chain, handle })),
    what: `delete rule ${FAMILY_NAMES[family]} ${table} ${chain} handle ${handle}`,
  };
}

/** Flags for a create that must not replace an existing object (`nft create`). */
export const CREATE_EXCL = NLM_F_CREATE | NLM_F_EXCL;

// ---- decoding a dump ------------------------------------------------------------------------------

export interface NftTable {
  family: string;
  name: string;
  handle: bigint;
  flags: number;
  /** Port id of the owning socket when NFT_TABLE_F_OWNER is set. */
  owner?: number;
  use: number;
}

export interface NftChain {
  family: string;
  table: string;
  name: string;
  handle: bigint;
  type?: string;
  hook?: string;
  priority?: number;
  policy?: 'accept' | 'drop';
  use: number;
}

export interface NftRule {
  family: string;
  table: string;
  chain: string;
  handle: bigint;
  comment?: string;
  expressions: Expr[];
}

function familyOf(m: NetlinkMessage): string {
  const h = nfgenmsg.decode(m.payload);
  return FAMILY_NAMES[h.family] ?? String(h.family);
}

export function decodeTable(m: NetlinkMessage): NftTable {
  const d: Decoded<typeof tableSchema.fields> = tableSchema.decode(m.payload, NFGENMSG_LEN);
  return {
    family: familyOf(m),
    name: d.name ?? '',
    handle: d.handle ?? 0n,
    flags: d.flags ?? 0,
    ...(d.owner !== undefined ? { owner: d.owner } : {}),
    use: d.use ?? 0,
  };
}

export function decodeChain(m: NetlinkMessage): NftChain {
  const d = chainSchema.decode(m.payload, NFGENMSG_LEN);
  const out: NftChain = { family: familyOf(m), table: d.table ?? '', name: d.name ?? '', handle: d.handle ?? 0n, use: d.use ?? 0 };
  if (d.type !== undefined) out.type = d.type;
  if (d.hook?.hooknum !== undefined) out.hook = HOOK_NAMES[d.hook.hooknum] ?? String(d.hook.hooknum);
  if (d.hook?.priority !== undefined) out.priority = d.hook.priority;
  if (d.policy !== undefined) out.policy = d.policy === C.NF_DROP ? 'drop' : 'accept';
  return out;
}

export function decodeRule(m: NetlinkMessage): NftRule {
  const map = new AttrMap(m.payload, NFGENMSG_LEN);
  const d = ruleSchema.decodeMap(map);
  const list = map.get(C.NFTA_RULE_EXPRESSIONS);
  const out: NftRule = {
    family: familyOf(m),
    table: d.table ?? '',
    chain: d.chain ?? '',
    handle: d.handle ?? 0n,
    expressions: list ? decodeExprs(list) : [],
  };
  const comment = decodeComment(d.userdata);
  if (comment !== undefined) out.comment = comment;
  return out;
}

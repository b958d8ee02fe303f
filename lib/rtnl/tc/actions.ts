/**
 * Filter actions (<linux/pkt_cls.h> TCA_ACT_*): a list nest whose members are numbered 1..n in
 * order, each holding TCA_ACT_KIND and the kind's TCA_ACT_OPTIONS. Only mirred is modelled (the
 * kernel here has no police action); other kinds read back with their kind name and raw options.
 * @module
 */
import { AttrMap, iterAttrs, type AttrWriter } from '../../netlink/attributes.js';
import { decodeStats2, type TcStats } from './stats.js';

export const TCA_ACT_KIND = 1;
export const TCA_ACT_OPTIONS = 2;
export const TCA_ACT_INDEX = 3;
export const TCA_ACT_STATS = 4;
export const TCA_ACT_PAD = 5;
export const TCA_ACT_COOKIE = 6;
export const TCA_ACT_FLAGS = 7;

// Action verdicts (TC_ACT_*).
export const TC_ACT_UNSPEC = -1;
export const TC_ACT_OK = 0;
export const TC_ACT_RECLASSIFY = 1;
export const TC_ACT_SHOT = 2;
export const TC_ACT_PIPE = 3;
export const TC_ACT_STOLEN = 4;

// <linux/tc_act/tc_mirred.h>.
export const TCA_MIRRED_TM = 1;
export const TCA_MIRRED_PARMS = 2;
export const TCA_EGRESS_REDIR = 1;
export const TCA_EGRESS_MIRROR = 2;
export const TCA_INGRESS_REDIR = 3;
export const TCA_INGRESS_MIRROR = 4;

/** struct tc_mirred: tc_gen (index, capab, action, refcnt, bindcnt), eaction, ifindex. */
const MIRRED_SIZE = 28;

/** A mirred action: redirect or mirror a packet to another device's egress or ingress. */
export interface MirredParams {
  kind: 'mirred';
  /** TCA_EGRESS_REDIR, TCA_EGRESS_MIRROR, TCA_INGRESS_REDIR or TCA_INGRESS_MIRROR. */
  eaction: number;
  ifindex: number;
  /** Verdict: tc uses TC_ACT_STOLEN for a redirect, TC_ACT_PIPE for a mirror. */
  action: number;
  /** Shared action index (0: the kernel assigns one). */
  index?: number;
}

export type ActionParams = MirredParams;

/** Write an action list (TCA_U32_ACT and the like) as tc/m_action.c parse_action does. */
export function encodeActions(a: AttrWriter, type: number, actions: readonly ActionParams[]): void {
  a.nested(type, (list) => {
    actions.forEach((act, i) => {
      list.nested(i + 1, (one) => {
        one.string(TCA_ACT_KIND, act.kind);
        one.nested(TCA_ACT_OPTIONS, (o) => {
          const p = Buffer.alloc(MIRRED_SIZE);
          p.writeUInt32LE(act.index ?? 0, 0);
          p.writeInt32LE(act.action, 8);
          p.writeInt32LE(act.eaction, 20);
          p.writeUInt32LE(act.ifindex, 24);
          o.raw(TCA_MIRRED_PARMS, p);
        }, true);
      }, false);
    });
  }, false);
}

/** An action read back. */
export interface DecodedAction {
  /** Position in the list (1-based), tc's "order". */
  order: number;
  kind: string;
  index?: number;
  /** For mirred. */
  mirred?: { eaction: number; ifindex: number; action: number; index: number; refcnt: number; bindcnt: number };
  stats?: TcStats;
  rawOptions?: Buffer;
}

export function decodeActions(b: Buffer | undefined): DecodedAction[] {
  if (!b) return [];
  const out: DecodedAction[] = [];
  for (const item of iterAttrs(b)) {
    const m = new AttrMap(item.value);
    const act: DecodedAction = { order: item.type, kind: m.string(TCA_ACT_KIND) ?? '' };
    const idx = m.u32(TCA_ACT_INDEX);
    if (idx !== undefined) act.index = idx;
    const opts = m.get(TCA_ACT_OPTIONS);
    if (act.kind === 'mirred' && opts) {
      const p = new AttrMap(opts).get(TCA_MIRRED_PARMS);
      if (p && p.length >= MIRRED_SIZE) {
        act.mirred = {
          index: p.readUInt32LE(0), action: p.readInt32LE(8), refcnt: p.readInt32LE(12), bindcnt: p.readInt32LE(16),
          eaction: p.readInt32LE(20), ifindex: p.readUInt32LE(24),
        };
        act.index ??= act.mirred.index;
      }
    } else if (opts) act.rawOptions = Buffer.from(opts);
    const stats = decodeStats2(m.get(TCA_ACT_STATS));
    if (stats) act.stats = stats;
    out.push(act);
  }
  return out;
}

/**
 * bond: link aggregation (IFLA_BOND_* in <linux/if_link.h>). Only the mode and MII monitoring are
 * modelled; ports join with `links.setMaster(port, bond)`. Needs CONFIG_BONDING.
 * @module
 */
import { Schema, attr, u32, type Decoded } from '../../../netlink/schema.js';
import { validateChoice, validateIntRange } from '../../../validate/link.js';
import { enumCodec } from './codecs.js';
import type { LinkKind } from './kind.js';

export const IFLA_BOND_MODE = 1;
export const IFLA_BOND_MIIMON = 3;

/** BOND_MODE_* values. */
export const BOND_MODES = {
  'balance-rr': 0, 'active-backup': 1, 'balance-xor': 2, broadcast: 3, '802.3ad': 4, 'balance-tlb': 5, 'balance-alb': 6,
} as const;
export type BondMode = keyof typeof BOND_MODES;

export const bondAttrs = new Schema('bond', {
  mode: attr(IFLA_BOND_MODE, enumCodec('bondMode', 8, BOND_MODES)),
  miimon: attr(IFLA_BOND_MIIMON, u32),
});

export type BondInfo = Decoded<typeof bondAttrs.fields>;

/** Options of `links.add({ kind: 'bond', ... })` (`ip link add NAME type bond mode MODE miimon MS`). */
export interface BondOptions {
  mode?: BondMode;
  /** MII link monitoring interval in milliseconds. */
  miimon?: number;
}

export const bond: LinkKind<BondOptions, BondInfo> = {
  kind: 'bond',
  optionKeys: ['mode', 'miimon'],
  validate(o) {
    if (o.mode !== undefined) validateChoice('mode', o.mode, Object.keys(BOND_MODES) as BondMode[]);
    if (o.miimon !== undefined) validateIntRange('miimon', o.miimon, 0, 0x7fffffff);
  },
  encodeData: (a, o) => bondAttrs.encode(a, { mode: o.mode, miimon: o.miimon }),
  decode: (data) => bondAttrs.decode(data),
  describe: (o) => `type bond${o.mode ? ` mode ${o.mode}` : ''}${o.miimon !== undefined ? ` miimon ${o.miimon}` : ''}`,
};

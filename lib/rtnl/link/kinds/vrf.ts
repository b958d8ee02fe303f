/**
 * vrf: an L3 domain bound to a routing table (IFLA_VRF_* in <linux/if_link.h>). Needs CONFIG_NET_VRF.
 * @module
 */
import { Schema, attr, u32, type Decoded } from '../../../netlink/schema.js';
import { validateIntRange } from '../../../validate/link.js';
import type { LinkKind } from './kind.js';

export const IFLA_VRF_TABLE = 1;

export const vrfAttrs = new Schema('vrf', {
  table: attr(IFLA_VRF_TABLE, u32),
});

export type VrfInfo = Decoded<typeof vrfAttrs.fields>;

/** Options of `links.add({ kind: 'vrf', ... })` (`ip link add NAME type vrf table N`). */
export interface VrfOptions {
  /** Routing table id, 1..2^32-1. */
  table: number;
}

export const vrf: LinkKind<VrfOptions, VrfInfo> = {
  kind: 'vrf',
  optionKeys: ['table'],
  validate: (o) => void validateIntRange('table', o.table, 1, 0xffffffff),
  encodeData: (a, o) => vrfAttrs.encode(a, { table: o.table }),
  decode: (data) => vrfAttrs.decode(data),
  describe: (o) => `type vrf table ${o.table}`,
};

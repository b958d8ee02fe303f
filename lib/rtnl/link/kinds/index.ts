/**
 * The link kinds this library models, by IFLA_INFO_KIND. A kind missing here still reads back:
 * its kind name and raw IFLA_INFO_DATA are kept.
 * @module
 */
import { bond, type BondInfo, type BondOptions } from './bond.js';
import { bridge, type BridgeInfo, type BridgeOptions } from './bridge.js';
import { dummy, type DummyInfo, type DummyOptions } from './dummy.js';
import { ifb, type IfbInfo, type IfbOptions } from './ifb.js';
import { ipvlan, type IpvlanInfo, type IpvlanOptions } from './ipvlan.js';
import type { LinkKind } from './kind.js';
import { macvlan, type MacvlanInfo, type MacvlanOptions } from './macvlan.js';
import { veth, type VethInfo, type VethOptions } from './veth.js';
import { vlan, type VlanInfo, type VlanOptions } from './vlan.js';
import { vrf, type VrfInfo, type VrfOptions } from './vrf.js';
import { vxlan, type VxlanInfo, type VxlanOptions } from './vxlan.js';

/** Options of each kind for `links.add`. */
export interface KindOptionsMap {
  veth: VethOptions;
  bridge: BridgeOptions;
  macvlan: MacvlanOptions;
  vxlan: VxlanOptions;
  ifb: IfbOptions;
  dummy: DummyOptions;
  vlan: VlanOptions;
  bond: BondOptions;
  ipvlan: IpvlanOptions;
  vrf: VrfOptions;
}

/** What each kind reads back from IFLA_INFO_DATA. */
export interface KindInfoMap {
  veth: VethInfo;
  bridge: BridgeInfo;
  macvlan: MacvlanInfo;
  vxlan: VxlanInfo;
  ifb: IfbInfo;
  dummy: DummyInfo;
  vlan: VlanInfo;
  bond: BondInfo;
  ipvlan: IpvlanInfo;
  vrf: VrfInfo;
}

export type KnownKind = keyof KindOptionsMap;

export const KINDS: { readonly [K in KnownKind]: LinkKind<KindOptionsMap[K], KindInfoMap[K]> } = {
  veth, bridge, macvlan, vxlan, ifb, dummy, vlan, bond, ipvlan, vrf,
};

/** The kind's codec, or undefined for a kind this library does not model. */
export function kindOf(kind: string): LinkKind<unknown, unknown> | undefined {
  return Object.prototype.hasOwnProperty.call(KINDS, kind) ? (KINDS[kind as KnownKind] as LinkKind<unknown, unknown>) : undefined;
}

/**
 * vlan: 802.1Q / 802.1ad tagged sub-interfaces of a parent device (IFLA_VLAN_* in
 * <linux/if_link.h>). Needs CONFIG_VLAN_8021Q.
 * @module
 */
import { ValidationError } from '../../../errors.js';
import { Schema, attr, u16, type Decoded } from '../../../netlink/schema.js';
import { validateIntRange, validateLinkRef } from '../../../validate/link.js';
import { VLAN_PROTOCOLS, vlanProtocol, type VlanProtocol } from './codecs.js';
import type { LinkKind, LinkRef } from './kind.js';

export const IFLA_VLAN_ID = 1;
export const IFLA_VLAN_FLAGS = 2;
export const IFLA_VLAN_EGRESS_QOS = 3;
export const IFLA_VLAN_INGRESS_QOS = 4;
export const IFLA_VLAN_PROTOCOL = 5;

export const vlanAttrs = new Schema('vlan', {
  id: attr(IFLA_VLAN_ID, u16),
  protocol: attr(IFLA_VLAN_PROTOCOL, vlanProtocol),
});

export type VlanInfo = Decoded<typeof vlanAttrs.fields>;

/** Options of `links.add({ kind: 'vlan', ... })` (`ip link add link PARENT NAME type vlan id ID`). */
export interface VlanOptions {
  /** The parent device. */
  link: LinkRef;
  /** VLAN id, 0..4094. */
  id: number;
  /** Default 802.1Q. */
  protocol?: VlanProtocol;
}

export const vlan: LinkKind<VlanOptions, VlanInfo> = {
  kind: 'vlan',
  optionKeys: ['link', 'id', 'protocol'],
  validate(o) {
    validateLinkRef(o.link, 'link');
    validateIntRange('id', o.id, 0, 4094);
    if (o.protocol !== undefined && !(o.protocol in VLAN_PROTOCOLS)) {
      throw new ValidationError('protocol', o.protocol, `must be one of ${Object.keys(VLAN_PROTOCOLS).join(', ')}`);
    }
  },
  refs: (o) => [o.link],
  parent: (o) => o.link,
  encodeData: (a, o) => vlanAttrs.encode(a, { id: o.id, protocol: o.protocol }),
  decode: (data) => vlanAttrs.decode(data),
  describe: (o) => `link ${o.link} type vlan id ${o.id}${o.protocol ? ` protocol ${o.protocol}` : ''}`,
};

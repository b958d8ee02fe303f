/**
 * ipvlan: virtual devices sharing the parent's MAC, told apart by IP (IFLA_IPVLAN_* in
 * <linux/if_link.h>). Needs CONFIG_IPVLAN.
 * @module
 */
import { Schema, attr, u16, type Decoded } from '../../../netlink/schema.js';
import { validateChoice, validateLinkRef } from '../../../validate/link.js';
import { enumCodec } from './codecs.js';
import type { LinkKind, LinkRef } from './kind.js';

export const IFLA_IPVLAN_MODE = 1;
export const IFLA_IPVLAN_FLAGS = 2;

/** enum ipvlan_mode. */
export const IPVLAN_MODES = { l2: 0, l3: 1, l3s: 2 } as const;
export type IpvlanMode = keyof typeof IPVLAN_MODES;

export const ipvlanAttrs = new Schema('ipvlan', {
  mode: attr(IFLA_IPVLAN_MODE, enumCodec('ipvlanMode', 16, IPVLAN_MODES)),
  flags: attr(IFLA_IPVLAN_FLAGS, u16),
});

export type IpvlanInfo = Decoded<typeof ipvlanAttrs.fields>;

/** Options of `links.add({ kind: 'ipvlan', ... })` (`ip link add NAME link PARENT type ipvlan mode l2`). */
export interface IpvlanOptions {
  link: LinkRef;
  mode?: IpvlanMode;
}

export const ipvlan: LinkKind<IpvlanOptions, IpvlanInfo> = {
  kind: 'ipvlan',
  optionKeys: ['link', 'mode'],
  validate(o) {
    validateLinkRef(o.link, 'link');
    if (o.mode !== undefined) validateChoice('mode', o.mode, Object.keys(IPVLAN_MODES) as IpvlanMode[]);
  },
  refs: (o) => [o.link],
  parent: (o) => o.link,
  encodeData: (a, o) => ipvlanAttrs.encode(a, { mode: o.mode }),
  decode: (data) => ipvlanAttrs.decode(data),
  describe: (o) => `link ${o.link} type ipvlan${o.mode ? ` mode ${o.mode}` : ''}`,
};

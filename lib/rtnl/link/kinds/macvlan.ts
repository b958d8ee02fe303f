/**
 * macvlan: virtual devices with their own MAC addresses on top of a parent device
 * (IFLA_MACVLAN_* in <linux/if_link.h>). The parent goes in IFLA_LINK.
 * @module
 */
import { Schema, attr, u16, u32, type Decoded } from '../../../netlink/schema.js';
import { validateChoice, validateIntRange, validateLinkRef } from '../../../validate/link.js';
import { enumCodec } from './codecs.js';
import type { LinkKind, LinkRef } from './kind.js';

export const IFLA_MACVLAN_MODE = 1;
export const IFLA_MACVLAN_FLAGS = 2;
export const IFLA_MACVLAN_MACADDR_MODE = 3;
export const IFLA_MACVLAN_MACADDR = 4;
export const IFLA_MACVLAN_MACADDR_DATA = 5;
export const IFLA_MACVLAN_MACADDR_COUNT = 6;
export const IFLA_MACVLAN_BC_QUEUE_LEN = 7;
export const IFLA_MACVLAN_BC_QUEUE_LEN_USED = 8;

/** enum macvlan_mode. */
export const MACVLAN_MODES = { private: 1, vepa: 2, bridge: 4, passthru: 8, source: 16 } as const;
export type MacvlanMode = keyof typeof MACVLAN_MODES;

export const MACVLAN_FLAG_NOPROMISC = 1;

export const macvlanAttrs = new Schema('macvlan', {
  mode: attr(IFLA_MACVLAN_MODE, enumCodec('macvlanMode', 32, MACVLAN_MODES)),
  flags: attr(IFLA_MACVLAN_FLAGS, u16),
  bcQueueLen: attr(IFLA_MACVLAN_BC_QUEUE_LEN, u32),
  macaddrCount: attr(IFLA_MACVLAN_MACADDR_COUNT, u32),
  bcQueueLenUsed: attr(IFLA_MACVLAN_BC_QUEUE_LEN_USED, u32),
});

/** What a macvlan reports; `mode` is a word, or the number when the kernel has a newer mode. */
export type MacvlanInfo = Decoded<typeof macvlanAttrs.fields>;

/** Options of `links.add({ kind: 'macvlan', ... })` (`ip link add NAME link PARENT type macvlan mode MODE`). */
export interface MacvlanOptions {
  /** The parent device, in the namespace the request is sent in. */
  link: LinkRef;
  /** Default (kernel): vepa. */
  mode?: MacvlanMode;
  /** `bcqueuelen`: broadcast queue length. */
  bcQueueLen?: number;
}

export const macvlan: LinkKind<MacvlanOptions, MacvlanInfo> = {
  kind: 'macvlan',
  optionKeys: ['link', 'mode', 'bcQueueLen'],

  validate(o) {
    validateLinkRef(o.link, 'link');
    if (o.mode !== undefined) validateChoice('mode', o.mode, Object.keys(MACVLAN_MODES) as MacvlanMode[]);
    if (o.bcQueueLen !== undefined) validateIntRange('bcQueueLen', o.bcQueueLen, 0, 0xffffffff);
  },
  refs: (o) => [o.link],
  parent: (o) => o.link,
  encodeData(a, o) {
    macvlanAttrs.encode(a, { mode: o.mode, bcQueueLen: o.bcQueueLen });
  },
  decode: (data) => macvlanAttrs.decode(data),
  describe: (o) => `link ${o.link} type macvlan${o.mode ? ` mode ${o.mode}` : ''}`,
};

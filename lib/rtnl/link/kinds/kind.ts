/**
 * What one link kind (veth, bridge, vxlan, ...) contributes to RTM_NEWLINK: checks of its options,
 * the content of IFLA_INFO_DATA, and the decoding of what the kernel reports back. One file per kind
 * implements this; ./index.ts lists them.
 * @module
 */
import type { AttrWriter } from '../../../netlink/attributes.js';

/** A link named by its name or its ifindex. */
export type LinkRef = string | number;

/** Anything holding a network namespace fd (a `Netns` handle is one). */
export interface NamespaceFd {
  readonly fd: number;
}

/** What a kind's encoder gets from the caller. */
export interface EncodeContext {
  /**
   * The ifindex of a link the options name. Every ref listed by {@link LinkKind.refs} has been
   * resolved beforehand, in the namespace the request is sent in (the kernel looks IFLA_LINK and
   * IFLA_VXLAN_LINK up there too).
   */
  index(ref: LinkRef): number;
}

/** One link kind. `O` is its options for `links.add`, `I` what it reads back from IFLA_INFO_DATA. */
export interface LinkKind<O, I> {
  /** IFLA_INFO_KIND. */
  readonly kind: string;
  /** Every option key the kind accepts; any other key in a spec is a typo and is rejected. */
  readonly optionKeys: ReadonlyArray<keyof O & string>;
  /** Throw a ValidationError for bad options; called before any system call. */
  validate(opts: O): void;
  /** Links the options name, to be resolved to ifindexes before encoding. */
  refs?(opts: O): LinkRef[];
  /** The link this one sits on (IFLA_LINK: a macvlan's or vlan's parent), if the kind has one. */
  parent?(opts: O): LinkRef | undefined;
  /** Write the content of IFLA_INFO_DATA (nothing written: no IFLA_INFO_DATA is sent). */
  encodeData?(a: AttrWriter, opts: O, ctx: EncodeContext): void;
  /** Decode the IFLA_INFO_DATA payload the kernel reports. */
  decode(data: Buffer): I;
  /** `ip link add` words for the options, for error messages ("type veth peer name p0"). */
  describe(opts: O): string;
}

/** A kind with no options and no IFLA_INFO_DATA (ifb, dummy). */
export function plainKind(kind: string): LinkKind<object, object> {
  return { kind, optionKeys: [], validate: () => undefined, decode: () => ({}), describe: () => `type ${kind}` };
}

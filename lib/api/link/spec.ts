/**
 * What callers ask of links: the spec of `links.add` (one variant per kind), the changes of
 * `links.set`, their validation (before any system call) and their encoding into RTM_NEWLINK bodies.
 * Pure functions, so the bytes can be compared with iproute2's without root.
 * @module
 */
import { ValidationError } from '../../errors.js';
import { checkKeys } from '../../validate/options.js';
import { AF_UNSPEC } from '../../rtnl/constants.js';
import type { BondOptions } from '../../rtnl/link/kinds/bond.js';
import type { BridgeOptions } from '../../rtnl/link/kinds/bridge.js';
import type { DummyOptions } from '../../rtnl/link/kinds/dummy.js';
import type { IfbOptions } from '../../rtnl/link/kinds/ifb.js';
import { KINDS, kindOf } from '../../rtnl/link/kinds/index.js';
import type { IpvlanOptions } from '../../rtnl/link/kinds/ipvlan.js';
import type { EncodeContext, LinkKind, LinkRef } from '../../rtnl/link/kinds/kind.js';
import type { MacvlanOptions } from '../../rtnl/link/kinds/macvlan.js';
import { type VethOptions, vethQueues } from '../../rtnl/link/kinds/veth.js';
import type { VlanOptions } from '../../rtnl/link/kinds/vlan.js';
import type { VrfOptions } from '../../rtnl/link/kinds/vrf.js';
import type { VxlanOptions } from '../../rtnl/link/kinds/vxlan.js';
import { IFF_UP, IFLA_IFNAME, encodeLinkBody, writeLinkInfo } from '../../rtnl/link/index.js';
import { validateAlias, validateBoolean, validateLinkRef, validateMac, validateMtu, validateTxqueuelen } from '../../validate/link.js';
import { validateIfname } from '../../validate/names.js';
import type { NetnsHandle } from '../context.js';

/** Options every kind takes in `links.add`. */
export interface CommonLinkOptions {
  /** Interface name: 1..15 bytes, no `/`, `:`, `%` or whitespace. */
  name: string;
  mtu?: number;
  /** Ethernet address (unicast, not all zeros); random when omitted. */
  mac?: string;
  txqueuelen?: number;
  /** Bring the link up in the same request (`ip link add ... up`). */
  up?: boolean;
  /**
   * Make the link a port of this bridge/bond in the same request (`ip link add ... master BR`). A
   * name is looked up in the namespace the link is created in.
   */
  master?: LinkRef;
  /**
   * Create the link directly inside this namespace (IFLA_NET_NS_FD in the creating request; for a
   * veth, this is where *this* end goes, the peer has its own `peer.netns`). Parent devices named by
   * `link` are still looked up in the namespace the request is sent in, which is how a macvlan on a
   * host NIC is created straight into a container.
   */
  netns?: NetnsHandle;
}

/** A veth pair. `peer.netns` creates the other end straight into another namespace. */
export interface VethSpec extends CommonLinkOptions, VethOptions<NetnsHandle> { kind: 'veth' }
export interface BridgeSpec extends CommonLinkOptions, BridgeOptions { kind: 'bridge' }
export interface MacvlanSpec extends CommonLinkOptions, MacvlanOptions { kind: 'macvlan' }
export interface VxlanSpec extends CommonLinkOptions, VxlanOptions { kind: 'vxlan' }
export interface IfbSpec extends CommonLinkOptions, IfbOptions { kind: 'ifb' }
export interface DummySpec extends CommonLinkOptions, DummyOptions { kind: 'dummy' }
export interface VlanSpec extends CommonLinkOptions, VlanOptions { kind: 'vlan' }
export interface BondSpec extends CommonLinkOptions, BondOptions { kind: 'bond' }
export interface IpvlanSpec extends CommonLinkOptions, IpvlanOptions { kind: 'ipvlan' }
export interface VrfSpec extends CommonLinkOptions, VrfOptions { kind: 'vrf' }

/** What `links.add` creates, one variant per kind. */
export type LinkSpec = VethSpec | BridgeSpec | MacvlanSpec | VxlanSpec | IfbSpec | DummySpec | VlanSpec | BondSpec | IpvlanSpec | VrfSpec;

/** Changes `links.set` applies in one RTM_NEWLINK (`ip link set dev X ...`). */
export interface LinkChanges {
  /** `up` / `down`. */
  up?: boolean;
  mtu?: number;
  /** `address`. */
  mac?: string;
  /** `name`: rename (the kernel refuses renaming a link that is up, with EBUSY). */
  name?: string;
  /** `alias`; '' removes it. */
  alias?: string;
  txqueuelen?: number;
  /** `master BR`, or null for `nomaster`. */
  master?: LinkRef | null;
}

const COMMON_KEYS = ['kind', 'name', 'mtu', 'mac', 'txqueuelen', 'up', 'master', 'netns'] as const satisfies ReadonlyArray<keyof CommonLinkOptions | 'kind'>;
const CHANGE_KEYS = ['up', 'mtu', 'mac', 'name', 'alias', 'txqueuelen', 'master'] as const satisfies ReadonlyArray<keyof LinkChanges>;

/** The kind codec of a spec, or a ValidationError naming the kinds there are. */
export function specKind(spec: { kind?: unknown }): LinkKind<unknown, unknown> {
  const k = typeof spec.kind === 'string' ? kindOf(spec.kind) : undefined;
  if (!k) throw new ValidationError('kind', spec.kind, `must be one of ${Object.keys(KINDS).join(', ')}`);
  return k;
}

/** Reject keys nobody reads: a typo ('mtu ' or 'vlan_filtering') must not silently configure nothing. */

/** Check a whole `links.add` spec; throws ValidationError before anything is sent. */
export function validateSpec(spec: LinkSpec): LinkKind<unknown, unknown> {
  if (typeof spec !== 'object' || spec === null) throw new ValidationError('spec', spec, 'must be an object with kind and name');
  const k = specKind(spec);
  checkKeys('', spec, [...COMMON_KEYS, ...k.optionKeys]);
  validateIfname(spec.name, 'name');
  if (spec.mtu !== undefined) validateMtu(spec.mtu);
  if (spec.mac !== undefined) validateMac(spec.mac);
  if (spec.txqueuelen !== undefined) validateTxqueuelen(spec.txqueuelen);
  if (spec.up !== undefined) validateBoolean('up', spec.up);
  if (spec.master !== undefined) validateLinkRef(spec.master, 'master');
  if (spec.netns !== undefined) validateNetnsHandle('netns', spec.netns);
  if (spec.kind === 'veth') {
    checkKeys('peer', spec.peer ?? {}, ['name', 'netns', 'mtu', 'mac', 'txqueuelen', 'up']);
    if (spec.peer?.up !== undefined) validateBoolean('peer.up', spec.peer.up);
    if (spec.peer?.name === spec.name && spec.peer.netns === undefined && spec.netns === undefined) {
      throw new ValidationError('peer.name', spec.peer.name, 'must differ from name when both ends are in the same namespace');
    }
  }
  k.validate(spec);
  return k;
}

function validateNetnsHandle(field: string, ns: unknown): void {
  const fd = (ns as { fd?: unknown } | null)?.fd;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) throw new ValidationError(field, ns, 'must be an open Netns handle');
}

/** Check `links.set` changes; throws ValidationError before anything is sent. */
export function validateChanges(changes: LinkChanges): void {
  if (typeof changes !== 'object' || changes === null) throw new ValidationError('changes', changes, 'must be an object');
  checkKeys('', changes, CHANGE_KEYS);
  if (Object.keys(changes).every((k) => (changes as Record<string, unknown>)[k] === undefined)) {
    throw new ValidationError('changes', changes, `must change something (${CHANGE_KEYS.join(', ')})`);
  }
  if (changes.up !== undefined) validateBoolean('up', changes.up);
  if (changes.mtu !== undefined) validateMtu(changes.mtu);
  if (changes.mac !== undefined) validateMac(changes.mac);
  if (changes.name !== undefined) validateIfname(changes.name, 'name');
  if (changes.alias !== undefined) validateAlias(changes.alias);
  if (changes.txqueuelen !== undefined) validateTxqueuelen(changes.txqueuelen);
  if (changes.master !== undefined && changes.master !== null) validateLinkRef(changes.master, 'master');
}

/** Link names of a spec resolved to ifindexes: `master` (where the link is created) and the kind's refs. */
export interface ResolvedRefs extends EncodeContext {
  master?: number;
}

/** Every link a spec names, other than its master, to resolve in the namespace the request goes to. */
export function specRefs(spec: LinkSpec): LinkRef[] {
  const k = specKind(spec);
  const refs = k.refs?.(spec) ?? [];
  const parent = k.parent?.(spec);
  return parent !== undefined && !refs.includes(parent) ? [...refs, parent] : refs;
}

/**
 * The RTM_NEWLINK body that creates `spec` (sent with NLM_F_CREATE|NLM_F_EXCL). Attribute order
 * follows `ip link add` so the bytes match iproute2's for the same command.
 */
export function encodeAddBody(spec: LinkSpec, refs: ResolvedRefs): Buffer {
  const k = specKind(spec);
  const parent = k.parent?.(spec);
  const up = spec.up === true;
  // A veth's queue counts go on both ends (the peer's in its VETH_INFO_PEER, by the kind's codec).
  const queues = spec.kind === 'veth' ? vethQueues(spec) : undefined;
  return encodeLinkBody(
    { family: AF_UNSPEC, flags: up ? IFF_UP : 0, change: up ? IFF_UP : 0 },
    {
      mtu: spec.mtu,
      address: spec.mac,
      txqlen: spec.txqueuelen,
      numTxQueues: queues,
      numRxQueues: queues,
      master: refs.master,
      link: parent !== undefined ? refs.index(parent) : undefined,
      netNsFd: spec.netns?.fd,
      ifname: spec.name,
    },
    (a) => writeLinkInfo(a, k.kind, k.encodeData ? (d) => k.encodeData?.(d, spec, refs) : undefined),
  );
}

/**
 * The RTM_NEWLINK body of `ip link set dev INDEX ...`; `master` 0 means nomaster. IFLA_IFNAME is
 * `ifname` (the link's name when `index` is 0, else a rename), `changes.name` by default.
 */
export function encodeSetBody(index: number, changes: LinkChanges, master?: number, ifname = changes.name): Buffer {
  const flagChange = changes.up === undefined ? 0 : IFF_UP;
  if (master === undefined && changes.mtu === undefined && changes.mac === undefined && changes.alias === undefined && changes.txqueuelen === undefined) {
    return encodeFlagsBody(index, changes.up ? IFF_UP : 0, flagChange, ifname);
  }
  return encodeLinkBody(
    { family: AF_UNSPEC, index, flags: changes.up ? IFF_UP : 0, change: flagChange },
    {
      mtu: changes.mtu,
      address: changes.mac,
      ifalias: changes.alias,
      txqlen: changes.txqueuelen,
      master,
      ifname,
    },
  );
}

/** struct ifinfomsg: family, pad, type, index, flags, change. */
const IFINFOMSG_SIZE = 16;

/**
 * The body of `ip link set dev NAME up|down` (every pod brings two links up), written directly: the
 * same bytes as {@link encodeLinkBody} makes of that header and IFLA_IFNAME alone, without walking
 * the whole link attribute table (in place, where a pod's verbs run mostly unoptimized, that walk
 * was most of setUp's own time: docs/performance.md, "Pod steps (pod2)").
 */
function encodeFlagsBody(index: number, flags: number, change: number, name: string | undefined): Buffer {
  const nameBytes = name === undefined ? -1 : Buffer.byteLength(name);
  const attrLen = nameBytes < 0 ? 0 : 4 + nameBytes + 1;
  const buf = Buffer.alloc(IFINFOMSG_SIZE + ((attrLen + 3) & ~3));
  buf.writeUInt8(AF_UNSPEC, 0);
  buf.writeInt32LE(index, 4);
  buf.writeUInt32LE(flags, 8);
  buf.writeUInt32LE(change, 12);
  if (name !== undefined) {
    buf.writeUInt16LE(attrLen, IFINFOMSG_SIZE);
    buf.writeUInt16LE(IFLA_IFNAME, IFINFOMSG_SIZE + 2);
    buf.write(name, IFINFOMSG_SIZE + 4, 'utf8');
  }
  return buf;
}

/** The RTM_NEWLINK body that moves link INDEX into the namespace behind `fd`, optionally renaming it. */
export function encodeMoveBody(index: number, nsFd: number, name?: string): Buffer {
  return encodeLinkBody({ family: AF_UNSPEC, index }, { netNsFd: nsFd, ifname: name });
}

/** The RTM_DELLINK body for a link named by ifindex or by name. */
export function encodeDeleteBody(ref: LinkRef): Buffer {
  return typeof ref === 'number'
    ? encodeLinkBody({ family: AF_UNSPEC, index: ref }, {})
    : encodeLinkBody({ family: AF_UNSPEC }, { ifname: ref });
}

/** `ip link add ...` words of a spec, for error messages. */
export function describeAdd(spec: LinkSpec): string {
  const w = [`ip link add ${spec.name}`];
  if (spec.mtu !== undefined) w.push(`mtu ${spec.mtu}`);
  if (spec.mac !== undefined) w.push(`address ${spec.mac}`);
  if (spec.txqueuelen !== undefined) w.push(`txqueuelen ${spec.txqueuelen}`);
  if (spec.master !== undefined) w.push(`master ${spec.master}`);
  if (spec.netns !== undefined) w.push(`netns ${spec.netns.name ?? 'fd:' + spec.netns.fd}`);
  if (spec.up) w.push('up');
  const k = kindOf(spec.kind);
  w.push(k ? k.describe(spec) : `type ${String(spec.kind)}`);
  return w.join(' ');
}

/** `ip link set dev X ...` words of changes, for error messages. */
export function describeSet(ref: LinkRef, c: LinkChanges): string {
  const w = [`ip link set dev ${ref}`];
  if (c.up !== undefined) w.push(c.up ? 'up' : 'down');
  if (c.mtu !== undefined) w.push(`mtu ${c.mtu}`);
  if (c.mac !== undefined) w.push(`address ${c.mac}`);
  if (c.name !== undefined) w.push(`name ${c.name}`);
  if (c.alias !== undefined) w.push(`alias ${JSON.stringify(c.alias)}`);
  if (c.txqueuelen !== undefined) w.push(`txqueuelen ${c.txqueuelen}`);
  if (c.master !== undefined) w.push(c.master === null ? 'nomaster' : `master ${c.master}`);
  return w.join(' ');
}

/**
 * Links as read back from the kernel: the typed object built from one RTM_NEWLINK.
 * @module
 */
import { withJson } from '../json.js';
import { kindOf, type KindInfoMap, type KnownKind } from '../../rtnl/link/kinds/index.js';
import type { LinkRef } from '../../rtnl/link/kinds/kind.js';
import {
  IFF_LOWER_UP,
  IFF_NAMES,
  IFF_UP,
  IFLA_ADDRESS,
  IFLA_BROADCAST,
  IFLA_CARRIER,
  IFLA_CARRIER_CHANGES,
  IFLA_GROUP,
  IFLA_IFALIAS,
  IFLA_IFNAME,
  IFLA_LINK,
  IFLA_LINK_NETNSID,
  IFLA_MASTER,
  IFLA_MAX_MTU,
  IFLA_MIN_MTU,
  IFLA_MTU,
  IFLA_NUM_RX_QUEUES,
  IFLA_NUM_TX_QUEUES,
  IFLA_OPERSTATE,
  IFLA_PERM_ADDRESS,
  IFLA_PROMISCUITY,
  IFLA_QDISC,
  IFLA_STATS64,
  IFLA_TXQLEN,
  decodeRawLinkInfo,
  type LinkMessage,
} from '../../rtnl/link/index.js';
import type { AttrMap } from '../../netlink/attributes.js';
import { formatMac } from '../../netlink/wire_formats.js';
import { decodeLinkStats64, type LinkStats } from '../../rtnl/link/stats.js';

export type { LinkRef, LinkStats };

/** Operational state names, indexed by IF_OPER_* (RFC 2863), as `ip link` prints them. */
const OPERSTATES = ['UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP'] as const;
export type OperState = (typeof OPERSTATES)[number];

interface LinkInfoBase {
  /** IFLA_INFO_DATA exactly as received, kept for attributes the decoder does not model. */
  rawData?: Buffer;
  /** Kind of the master this link is a port of (IFLA_INFO_SLAVE_KIND: 'bridge', 'bond'). */
  slaveKind?: string;
  /** IFLA_INFO_SLAVE_DATA as received (port attributes such as IFLA_BRPORT_*). */
  slaveData?: Buffer;
}

/** IFLA_LINKINFO of a kind this library models: `data` is decoded. */
export type KnownLinkInfo = {
  [K in KnownKind]: LinkInfoBase & { kind: K; data?: KindInfoMap[K] };
}[KnownKind];

/**
 * IFLA_LINKINFO of any other kind (or of a port without a kind of its own): only the raw bytes.
 * `data` is always undefined here, so `if (info.kind === 'bridge') info.data?.stp` type-checks.
 */
export interface OtherLinkInfo extends LinkInfoBase {
  kind?: string;
  data?: undefined;
}

export type LinkInfo = KnownLinkInfo | OtherLinkInfo;

/** A link as read back from the kernel (`ip -d -s link show`). */
export interface Link {
  /** ifindex. */
  index: number;
  name: string;
  /** IFLA_INFO_KIND ('veth', 'bridge', ...); undefined for devices without one (lo, physical NICs). */
  kind?: string;
  /** Kind-specific configuration (IFLA_LINKINFO), decoded for the kinds in lib/rtnl/kinds. */
  info?: LinkInfo;
  /** Raw IFF_* flags. */
  flags: number;
  /** The flags as `ip link` names them (BROADCAST, MULTICAST, UP, LOWER_UP, ...). */
  flagNames: string[];
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Carrier present (IFF_LOWER_UP). */
  lowerUp: boolean;
  operState: OperState;
  /** ARPHRD_* hardware type (1 = Ethernet, 772 = loopback). */
  linkType: number;
  mtu?: number;
  minMtu?: number;
  maxMtu?: number;
  /** Hardware address, aa:bb:cc:dd:ee:ff. */
  mac?: string;
  broadcast?: string;
  permanentMac?: string;
  /** ifindex of the master (bridge, bond, vrf) this link is a port of. */
  master?: number;
  /**
   * IFLA_LINK: for a veth, its peer's ifindex; for a macvlan or vlan, its parent's. When
   * {@link linkNetnsid} is set, that index is in another namespace.
   */
  linkIndex?: number;
  /** For a veth: the peer's ifindex (same value as {@link linkIndex}). */
  peerIndex?: number;
  /** IFLA_LINK_NETNSID: the namespace (by the NSID this namespace gave it) where linkIndex lives. */
  linkNetnsid?: number;
  txqueuelen?: number;
  /** IFLA_IFALIAS (`ip link set dev X alias TEXT`). */
  alias?: string;
  qdisc?: string;
  group?: number;
  promiscuity?: number;
  numTxQueues?: number;
  numRxQueues?: number;
  carrier?: boolean;
  carrierChanges?: number;
  /** Alternative names (`ip link property add dev X altname Y`). */
  altNames?: string[];
  /** 64-bit counters (IFLA_STATS64), as `ip -s link` shows them. */
  stats?: LinkStats;
}

/** IFLA_PROP_LIST holds the alternative names. */
const IFLA_PROP_LIST = 52;
const IFLA_ALT_IFNAME = 53;

/**
 * Build a {@link Link} from an RTM_NEWLINK. Only the header and the attribute index are needed: each
 * field is read straight from the attributes it comes from, so the ~20 attributes a link message
 * carries that a Link does not show (IFLA_AF_SPEC, IFLA_STATS, IFLA_XDP, ...) are neither decoded nor
 * copied (docs/performance.md, "Levers of the request path"). A full decode stays available as
 * `decodeLinkMessage(...).attrs`.
 */
export function toLink(m: Pick<LinkMessage, 'header' | 'raw'>): Link {
  const r = m.raw;
  const flags = m.header.flags;
  const link: Link = {
    index: m.header.index,
    name: r.string(IFLA_IFNAME) ?? '',
    flags,
    flagNames: flagNamesOf(flags),
    up: (flags & IFF_UP) !== 0,
    lowerUp: (flags & IFF_LOWER_UP) !== 0,
    operState: OPERSTATES[r.u8(IFLA_OPERSTATE) ?? 0] ?? 'UNKNOWN',
    linkType: m.header.type,
  };
  const info = decodeInfo(m);
  if (info) {
    link.info = info;
    if (info.kind !== undefined) link.kind = info.kind;
  }
  // One statement per field rather than a shared `setIf(link, key, value)`: that helper's store
  // sees twenty keys, so V8 falls back to its slowest property store on every field, and a link is
  // mostly decoded by code not yet optimized (docs/performance.md, "Pod verbs (veth3, 17:53 UTC
  // session)").
  let v: number | string | undefined;
  if ((v = r.u32(IFLA_MTU)) !== undefined) link.mtu = v;
  if ((v = r.u32(IFLA_MIN_MTU)) !== undefined) link.minMtu = v;
  if ((v = r.u32(IFLA_MAX_MTU)) !== undefined) link.maxMtu = v;
  if ((v = macOf(r, IFLA_ADDRESS)) !== undefined) link.mac = v;
  if ((v = macOf(r, IFLA_BROADCAST)) !== undefined) link.broadcast = v;
  if ((v = macOf(r, IFLA_PERM_ADDRESS)) !== undefined) link.permanentMac = v;
  // IFLA_MASTER 0 would mean "no master"; the kernel omits it then, but be safe.
  const master = r.u32(IFLA_MASTER);
  if (master) link.master = master;
  const peer = r.u32(IFLA_LINK);
  if (peer !== undefined) {
    link.linkIndex = peer;
    if (link.kind === 'veth') link.peerIndex = peer;
  }
  if ((v = r.s32(IFLA_LINK_NETNSID)) !== undefined) link.linkNetnsid = v;
  if ((v = r.u32(IFLA_TXQLEN)) !== undefined) link.txqueuelen = v;
  if ((v = r.string(IFLA_IFALIAS)) !== undefined) link.alias = v;
  if ((v = r.string(IFLA_QDISC)) !== undefined) link.qdisc = v;
  if ((v = r.u32(IFLA_GROUP)) !== undefined) link.group = v;
  if ((v = r.u32(IFLA_PROMISCUITY)) !== undefined) link.promiscuity = v;
  if ((v = r.u32(IFLA_NUM_TX_QUEUES)) !== undefined) link.numTxQueues = v;
  if ((v = r.u32(IFLA_NUM_RX_QUEUES)) !== undefined) link.numRxQueues = v;
  const carrier = r.u8(IFLA_CARRIER);
  if (carrier !== undefined) link.carrier = carrier !== 0;
  if ((v = r.u32(IFLA_CARRIER_CHANGES)) !== undefined) link.carrierChanges = v;
  const props = r.nested(IFLA_PROP_LIST);
  if (props?.has(IFLA_ALT_IFNAME)) link.altNames = props.all(IFLA_ALT_IFNAME).map((b) => b.toString('utf8').replace(/\0.*$/s, ''));
  const stats64 = r.get(IFLA_STATS64);
  if (stats64) {
    const stats = decodeLinkStats64(stats64);
    if (stats) link.stats = stats;
  }
  return withJson(link);
}

/** IFF_NAMES as two flat arrays, walked by index (see {@link flagNamesOf}). */
const FLAG_BITS = IFF_NAMES.map((f) => f[0]);
const FLAG_WORDS = IFF_NAMES.map((f) => f[1]);

/**
 * The names of the set flags, in `ip link`'s order. An indexed loop: a read-back runs this mostly
 * before V8 optimizes it, where `filter(([bit]) => ...)` costs an iterator per entry
 * (docs/performance.md, "Verbs (verbs2)").
 */
function flagNamesOf(flags: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < FLAG_BITS.length; i++) if (flags & FLAG_BITS[i]) out.push(FLAG_WORDS[i]);
  return out;
}

function macOf(r: AttrMap, type: number): string | undefined {
  const b = r.get(type);
  return b ? formatMac(b) : undefined;
}

/** IFLA_LINKINFO with the kind's data decoded when the kind is modelled; raw bytes always kept. */
function decodeInfo(m: Pick<LinkMessage, 'raw'>): LinkInfo | undefined {
  const raw = decodeRawLinkInfo(m.raw);
  if (!raw) return undefined;
  const info: LinkInfoBase & { kind?: string; data?: unknown } = {};
  if (raw.kind !== undefined) info.kind = raw.kind;
  if (raw.data) info.rawData = raw.data;
  if (raw.slaveKind !== undefined) info.slaveKind = raw.slaveKind;
  if (raw.slaveData) info.slaveData = raw.slaveData;
  const codec = raw.kind !== undefined ? kindOf(raw.kind) : undefined;
  if (codec) {
    try {
      // A kind without IFLA_INFO_DATA (veth, ifb) still gets its (empty) typed data.
      info.data = codec.decode(raw.data ?? Buffer.alloc(0));
    } catch {
      // Malformed or from a future layout: the raw bytes are still there.
    }
  }
  return info as LinkInfo;
}

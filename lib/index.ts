/**
 * netns-native: Linux network namespaces from Node.js through a native netlink addon.
 * @module
 */
export { Netns, NETNS_RUN_DIR, type NetnsIdentity, type NetnsListEntry, type DeleteOptions } from './api/netns/index.js';
export {
  Links,
  type Link,
  type LinkRef,
  type OperState,
  type LinkInfo,
  type KnownLinkInfo,
  type OtherLinkInfo,
  type LinkStats,
  type LinkListOptions,
  type LinkKindName,
  type LinkDeleteOptions,
  type LinkMoveOptions,
  type LinkAddOptions,
  type CreatedLink,
} from './api/link/index.js';
export {
  type LinkSpec,
  type LinkChanges,
  type CommonLinkOptions,
  type VethSpec,
  type BridgeSpec,
  type MacvlanSpec,
  type VxlanSpec,
  type IfbSpec,
  type DummySpec,
  type VlanSpec,
  type BondSpec,
  type IpvlanSpec,
  type VrfSpec,
} from './api/link/spec.js';
export { type VethPeerOptions, type VethInfo } from './rtnl/link/kinds/veth.js';
export { type BridgeInfo, type BridgeOptions } from './rtnl/link/kinds/bridge.js';
export { type MacvlanInfo, type MacvlanMode } from './rtnl/link/kinds/macvlan.js';
export { type VxlanInfo, type VxlanDf, VXLAN_IANA_PORT } from './rtnl/link/kinds/vxlan.js';
export { type VlanInfo } from './rtnl/link/kinds/vlan.js';
export { type VlanProtocol } from './rtnl/link/kinds/codecs.js';
export { type BondInfo, type BondMode } from './rtnl/link/kinds/bond.js';
export { type IpvlanInfo, type IpvlanMode } from './rtnl/link/kinds/ipvlan.js';
export { type VrfInfo } from './rtnl/link/kinds/vrf.js';
export { type KindInfoMap, type KnownKind } from './rtnl/link/kinds/index.js';
export {
  Addresses,
  type Address,
  type AddressOptions,
  type AddressFilter,
  type AddressDeleteOptions,
  type AddressFlag,
  type AddressSetFlag,
  type Lifetime,
} from './api/address/index.js';
export { Routes, type RouteFilter, type RouteLookupOptions, type RouteDeleteOptions } from './api/route/index.js';
export { type RouteSpec, type NextHopSpec, type RouteMetrics, type LockableMetric } from './api/route/spec.js';
export { type Route, type NextHop } from './api/route/view.js';
export { type Scope, type RouteType, type RouteProtocol, type RouteTable, type RoutePref, type RouteFlag } from './rtnl/route/names.js';
export {
  Neighbours,
  type Neighbour,
  type NeighbourOptions,
  type NeighbourFilter,
  type NeighbourDeleteOptions,
  type NeighbourState,
  type NeighbourFlag,
} from './api/neighbour/index.js';
export { Nsids, type NsidEntry, type PeerNamespace } from './api/nsid/index.js';
export {
  Tc,
  Qdiscs,
  Classes,
  Filters,
  ingressIfbName,
  type QdiscRef,
  type ShapeOptions,
  type ShapeResult,
  type Qdisc,
  type TcClass,
  type TcFilter,
  type TcFilterAction,
  type TcStats,
  type TbfOptions,
  type HtbOptions,
  type HtbClassXstats,
  type U32Key,
} from './api/tc/index.js';
export {
  type QdiscSpec,
  type TbfSpec,
  type HtbQdiscSpec,
  type FifoSpec,
  type PlainQdiscSpec,
  type OtherQdiscSpec,
  type ClassSpec,
  type HtbClassSpec,
  type TcFilterSpec,
  type U32FilterSpec,
  type U32Match,
  type U32IpMatch,
  type MirredAction,
  type TcFilterRef,
  type TcHandle,
} from './api/tc/spec.js';
export { parseRate, parseSize, parseTime, type Rate, type Size, type Time } from './validate/units.js';
export { NetnsProcess, DEFAULT_PATH, type SpawnOptions, type ExecOptions, type ExecResult, type ExitStatus, type StdioMode } from './process/spawn.js';
export { Dns, NETNS_ETC_DIR, type DnsConfig, type ResolvConf } from './process/dns.js';
export { Sysctl } from './process/sysctl.js';
export {
  DEFAULT_TABLE,
  Firewall,
  type CtState,
  type DnatSpec,
  type FilterSpec,
  type FirewallChain,
  type FirewallChange,
  type FirewallContext,
  type FirewallRule,
  type FirewallTable,
  type FirewallTableOptions,
  type IpMasqOptions,
  type MasqueradeSpec,
  type MatchSpec,
  type PortForwardSpec,
  type PortSpec,
  type Protocol,
  type RuleAction,
  type RuleMatch,
  type SnatSpec,
} from './api/firewall/index.js';
export type { Expr, KnownExpr, UnknownExpr, Verdict } from './nfnl/expr.js';
export { type SysctlValue } from './validate/sysctl.js';
export { type NsListenOptions, type NsServerOptions, type NsConnectOptions, type NsUdpOptions } from './process/sockets.js';
export { type IpFamily } from './validate/ip.js';
export {
  NetnsError,
  ValidationError,
  SystemError,
  NotANamespaceError,
  NetlinkError,
  DumpInterruptedError,
  ClosedError,
  RequestAbortedError,
  isNotFound,
  ERRNO_CODES,
  LIBRARY_CODES,
  type ErrnoCode,
  type NetnsErrorCode,
  type NetlinkRequestInfo,
} from './errors.js';
export { NetlinkConnection, openNetlink, type ConnectionOptions, type OpenNetlinkOptions, type Transport } from './netlink/connection.js';
export {
  Topology,
  TopologyError,
  type TopologyOptions,
  type ApplyOptions,
  type ApplyResult,
  type PlanStep,
  type PlanAction,
  type TopologyFile,
  type TopologyNamespace,
  type TopologyLink,
  type TopologyPeer,
  type TopologyNat,
} from './topology/index.js';
export { doctor, CHECK_IDS, type Check as DoctorCheck, type CheckId as DoctorCheckId, type DoctorReport, type DoctorOptions } from './cli/doctor.js';
export {
  watchEvents,
  EventStream,
  type WatchOptions,
  type NetnsEvent,
  type EventKind,
  type EventAction,
  type LinkEvent,
  type AddressEvent,
  type RouteEvent,
  type NeighbourEvent,
  type ResyncEvent,
  type EventSnapshot,
} from './observe/events.js';
export { sampleStats, linkRates, type StatsOptions, type StatsSample, type LinkSample, type LinkRates } from './observe/stats.js';
export {
  listSockets,
  socketSummary,
  type SocketEntry,
  type SocketEndpoint,
  type SocketOwner,
  type SocketListOptions,
  type SocketSummary,
  type SocketState,
} from './observe/sockets.js';
export { formatSsLine, ssFields } from './format/ss.js';
export { ping, type PingOptions, type PingResult, type PingReply } from './observe/ping.js';
export {
  capture,
  captureToFile,
  parseBpf,
  CaptureStream,
  LINKTYPE_ETHERNET,
  LINKTYPE_LINUX_SLL,
  type CaptureOptions,
  type CapturedPacket,
  type CaptureSummary,
  type BpfInstruction,
} from './observe/capture.js';
export {
  inventory,
  cleanupOrphans,
  type Inventory,
  type InventoryOptions,
  type NamespaceEntry,
  type NamespaceState,
  type NamespaceProcess,
  type NamespaceFdHolder,
  type StalePin,
  type OrphanCleanupOptions,
  type OrphanRemoval,
} from './observe/inventory.js';
export { Events } from './api/events/index.js';
export { Stats } from './api/stats/index.js';
export { Diag } from './api/diag/index.js';
/** The CNI plugin in-process (`cni.add(config, runtime)`, ...): see docs/cni.md. */
export * as cni from './cni/index.js';
export { CniError, CNI_ERR, type CniResult, type CniRuntime, type NetConf as CniNetConf } from './cni/index.js';

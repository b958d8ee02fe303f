/**
 * netns-native: Linux network namespaces from Node.js through a native netlink addon.
 * @module
 */
export { Netns, NETNS_RUN_DIR, type NetnsIdentity, type NetnsListEntry, type DeleteOptions } from './api/netns.js';
export { Links, type Link, type LinkRef, type OperState } from './api/links.js';
export {
  Addresses,
  type Address,
  type AddressOptions,
  type AddressFilter,
  type AddressDeleteOptions,
  type AddressFlag,
  type AddressSetFlag,
  type Lifetime,
} from './api/addresses.js';
export { Routes, type RouteFilter, type RouteLookupOptions, type RouteDeleteOptions } from './api/routes.js';
export { type RouteSpec, type NextHopSpec, type RouteMetrics, type LockableMetric } from './api/route_spec.js';
export { type Route, type NextHop } from './api/route_view.js';
export { type Scope, type RouteType, type RouteProtocol, type RouteTable, type RoutePref, type RouteFlag } from './rtnl/route_names.js';
export {
  Neighbours,
  type Neighbour,
  type NeighbourOptions,
  type NeighbourFilter,
  type NeighbourDeleteOptions,
  type NeighbourState,
  type NeighbourFlag,
} from './api/neighbours.js';
export { Nsids, type NsidEntry, type PeerNamespace } from './api/nsids.js';
export { type IpFamily } from './validate/ip.js';
export {
  NetnsError,
  ValidationError,
  SystemError,
  NotANamespaceError,
  NetlinkError,
  DumpInterruptedError,
  ClosedError,
  isNotFound,
  type NetlinkRequestInfo,
} from './errors.js';
export { NetlinkConnection, openNetlink, type ConnectionOptions, type OpenNetlinkOptions, type Transport } from './netlink/connection.js';

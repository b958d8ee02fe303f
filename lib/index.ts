/**
 * netns-native: Linux network namespaces from Node.js through a native netlink addon.
 * @module
 */
export { Netns, NETNS_RUN_DIR, type NetnsIdentity, type NetnsListEntry, type DeleteOptions } from './api/netns.js';
export { Links, type Link, type LinkRef, type OperState } from './api/links.js';
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

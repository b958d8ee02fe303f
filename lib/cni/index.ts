/**
 * The CNI plugin, in-process: `cni.add(config, runtime)` does what `netns-native-bridge` does when a
 * runtime executes it (spec 1.0.0 / 1.1.0 ADD), and returns the result object without spawning
 * anything; `cni.startAgent()` answers the native `netns-native-bridge` executable's invocations
 * (docs/cni.md "The agent and its shim").
 * @module
 */
export { add, del, check, status, gc, version, type CniNetworkRuntime } from './commands.js';
export { CNI_ERR, CniError } from './types.js';
export type { CniResult, CniRuntime, CniVersionInfo, CniInterface, CniIpConfig, CniRoute, CniDns, CniErrorJson, NetConf } from './types.js';
export type { BridgeNetConf } from './bridge.js';
export { SUPPORTED_VERSIONS, CURRENT_VERSION, parseConfig } from './version.js';
export { hostLocalAdd, hostLocalDel, hostLocalCheck, hostLocalGc, hostLocalStatus, loadHostLocalConfig, type HostLocalConfig, type IpRange } from './ipam/host_local.js';
export { startAgent, DEFAULT_AGENT_SOCKET, type CniAgent, type CniAgentOptions } from './agent.js';

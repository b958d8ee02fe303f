/**
 * The CNI commands, in-process: `cni.add(config, runtime)` does what `netns-native-bridge` does when a
 * runtime executes it (spec 1.0.0 / 1.1.0 ADD), and returns the result object without spawning
 * anything. The same checks run in the same order as in the executable, so an agent gets the same
 * {@link CniError} (code, msg, details) a runtime would read on stdout.
 *
 * Plugins: `bridge` (the reference's bridge, here `netns-native-bridge`) with `host-local` IPAM in
 * the same process.
 * @module
 */
import { bridgeAdd, bridgeCheck, bridgeDel, bridgeGc, bridgeStatus } from './bridge.js';
import { CNI_ERR, CniError, type CniResult, type CniRuntime, type CniVersionInfo, type NetConf } from './types.js';
import { checkContainerId, checkIfName, checkNetworkName, checkVersion, normalizeResult, parseConfig, resultForVersion, versionAtLeast, versionInfo } from './version.js';

/** A runtime's parameters for STATUS and GC, which concern the network, not one container. */
export type CniNetworkRuntime = Omit<CniRuntime, 'containerId' | 'ifName'>;

function prepare(config: NetConf | string | Uint8Array, rt: CniRuntime): { conf: NetConf; version: string } {
  const conf = parseConfig(config);
  checkNetworkName(conf);
  checkContainerId(rt.containerId);
  checkIfName(rt.ifName);
  const version = checkVersion(conf);
  if (conf.prevResult) conf.prevResult = normalizeResult(conf.prevResult);
  return { conf, version };
}

/**
 * ADD: attach the container to the network, as `CNI_COMMAND=ADD netns-native-bridge < config`.
 *
 * Equivalent to: `ip link add cni0 type bridge; ip link add vethXXXXXXXX master cni0 up type veth peer name eth0 netns CONTAINER; ip -n CONTAINER addr add ...; ip -n CONTAINER route add default via ...`
 * @example
 * ```ts
 * import { cni } from 'netns-native';
 * const result = await cni.add(
 *   { cniVersion: '1.0.0', name: 'pods', type: 'bridge', bridge: 'cni0', isDefaultGateway: true,
 *     ipam: { type: 'host-local', subnet: '10.22.0.0/16', dataDir: '/var/lib/cni/networks' } },
 *   { containerId: 'c1', netns: '/run/netns/c1', ifName: 'eth0', hostNetns: host });
 * console.log(result.ips[0].address);   // 10.22.0.2/16
 * ```
 * @returns the spec's result object in the configuration's `cniVersion`.
 * @throws {@link CniError} with the spec's code (1 version, 4 environment, 6 decoding, 7 config, 999 plugin failure).
 */
export async function add(config: NetConf | string | Uint8Array, runtime: CniRuntime): Promise<CniResult> {
  const { conf, version } = prepare(config, runtime);
  return resultForVersion(await bridgeAdd(conf, runtime), version);
}

/**
 * DEL: detach; idempotent (a missing namespace, interface or allocation is success).
 *
 * Equivalent to: `ip -n CONTAINER link delete eth0` and releasing its addresses.
 * @example
 * ```ts
 * await cni.del(conf, { containerId: 'c1', netns: '/run/netns/c1', ifName: 'eth0', hostNetns: host });
 * ```
 */
export async function del(config: NetConf | string | Uint8Array, runtime: CniRuntime): Promise<void> {
  const { conf } = prepare(config, runtime);
  await bridgeDel(conf, runtime);
}

/**
 * CHECK: verify the attachment against `prevResult` (the configuration must carry it; versions ≥ 0.4.0).
 *
 * Equivalent to: `ip -n CONTAINER -j addr show eth0; ip -n CONTAINER -j route` compared with the ADD result.
 * @example
 * ```ts
 * await cni.check({ ...conf, prevResult: result }, { containerId: 'c1', netns: '/run/netns/c1', ifName: 'eth0', hostNetns: host });
 * ```
 */
export async function check(config: NetConf | string | Uint8Array, runtime: CniRuntime): Promise<void> {
  const { conf, version } = prepare(config, runtime);
  if (!versionAtLeast(version, '0.4.0')) throw new CniError(CNI_ERR.INCOMPATIBLE_VERSION, 'config version does not allow CHECK');
  await bridgeCheck(conf, runtime);
}

function prepareNetwork(config: NetConf | string | Uint8Array): NetConf {
  const conf = parseConfig(config);
  checkNetworkName(conf);
  const version = checkVersion(conf);
  if (!versionAtLeast(version, '1.1.0')) throw new CniError(CNI_ERR.INCOMPATIBLE_VERSION, `config version does not allow this command (needs 1.1.0, config is ${version})`);
  return conf;
}

/**
 * STATUS (spec 1.1.0): resolves when ADD can be serviced; throws code 50 when the address ranges are exhausted.
 * @example
 * ```ts
 * await cni.status({ ...conf, cniVersion: '1.1.0' });
 * ```
 */
export async function status(config: NetConf | string | Uint8Array, runtime: CniNetworkRuntime = {}): Promise<void> {
  await bridgeStatus(prepareNetwork(config), runtime);
}

/**
 * GC (spec 1.1.0): release the addresses and NAT rules of every attachment not listed in `cni.dev/attachments`.
 * @example
 * ```ts
 * await cni.gc({ ...conf, cniVersion: '1.1.0', 'cni.dev/attachments': [{ containerID: 'c1', ifname: 'eth0' }] });
 * ```
 */
export async function gc(config: NetConf | string | Uint8Array, runtime: CniNetworkRuntime = {}): Promise<void> {
  await bridgeGc(prepareNetwork(config), runtime);
}

/**
 * VERSION: the versions this plugin speaks.
 * @example
 * ```ts
 * cni.version();   // { cniVersion: '1.1.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] }
 * ```
 */
export function version(cniVersion?: string): CniVersionInfo {
  return versionInfo(cniVersion);
}

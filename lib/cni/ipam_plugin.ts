/**
 * `netns-native-host-local`: host-local IPAM as its own executable, for runtimes and other plugins
 * that delegate to an IPAM plugin by name (the reference bridge execs `host-local` from CNI_PATH).
 * @module
 */
import { hostLocalAdd, hostLocalCheck, hostLocalDel, hostLocalGc, hostLocalStatus, parseCniArgs } from './ipam/host_local.js';
import { CNI_ERR, CniError, type CniResult } from './types.js';
import { checkContainerId, checkIfName, checkNetworkName, checkVersion, parseConfig, resultForVersion } from './version.js';

/** One invocation of the IPAM plugin (the executable's dispatch, usable in-process). */
export async function runHostLocal(cmd: string, stdin: Buffer | string, rt: { containerId: string; ifName: string; args?: string }): Promise<CniResult | undefined> {
  const conf = parseConfig(stdin);
  checkNetworkName(conf);
  if (cmd !== 'GC' && cmd !== 'STATUS') {
    checkContainerId(rt.containerId);
    checkIfName(rt.ifName);
  }
  const version = checkVersion(conf);
  const args = parseCniArgs(rt.args);
  switch (cmd) {
    case 'ADD': return resultForVersion(await hostLocalAdd(conf, rt.containerId, rt.ifName, args), version);
    case 'DEL': await hostLocalDel(conf, rt.containerId, rt.ifName, args); return undefined;
    case 'CHECK': await hostLocalCheck(conf, rt.containerId, rt.ifName, args); return undefined;
    case 'GC': await hostLocalGc(conf, (conf['cni.dev/attachments'] ?? []) as { containerID: string; ifname: string }[]); return undefined;
    case 'STATUS': await hostLocalStatus(conf); return undefined;
  }
  throw new CniError(CNI_ERR.INVALID_ENVIRONMENT, `unknown CNI_COMMAND: ${cmd}`);
}

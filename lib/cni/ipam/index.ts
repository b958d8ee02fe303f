/**
 * IPAM dispatch for the bridge plugin: `host-local` runs in-process (no process spawned, the same
 * store and allocation as the reference plugin); any other `ipam.type` is delegated the way the spec
 * says ("Delegated plugins"): the executable of that name is searched in CNI_PATH and invoked with
 * the same configuration and environment.
 * @module
 */
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { CNI_ERR, CniError, type CniResult, type NetConf } from '../types.js';
import { hostLocalCheck, hostLocalDel, hostLocalGc, hostLocalPrepareAdd, hostLocalStatus, type PreparedHostLocalAdd } from './host_local.js';

/** IPAM types handled in-process: the reference's name and this package's executable name. */
export const IN_PROCESS_IPAM = new Set(['host-local', 'netns-native-host-local']);

/** What an IPAM call needs from the invocation. */
export interface IpamInvocation {
  containerId: string;
  netns: string;
  ifName: string;
  args: Record<string, string>;
  argsText: string;
  path: string[];
}

async function findPlugin(type: string, path: string[]): Promise<string> {
  for (const dir of path) {
    const file = join(dir, type);
    try {
      await access(file, constants.X_OK);
      return file;
    } catch {
      // next directory
    }
  }
  throw new CniError(CNI_ERR.INTERNAL, `failed to find plugin "${type}" in path [${path.join(' ')}]`);
}

/** Run a delegated plugin: the config on stdin, CNI_* in the environment, the result or error JSON on stdout. */
export async function execDelegate(command: string, type: string, conf: NetConf, inv: IpamInvocation, extraEnv: Record<string, string> = {}): Promise<CniResult | undefined> {
  const file = await findPlugin(type, inv.path);
  const env: Record<string, string> = {
    ...process.env as Record<string, string>,
    CNI_COMMAND: command,
    CNI_CONTAINERID: inv.containerId,
    CNI_NETNS: inv.netns,
    CNI_IFNAME: inv.ifName,
    CNI_ARGS: inv.argsText,
    CNI_PATH: inv.path.join(':'),
    ...extraEnv,
  };
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(file, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c, stdout: out, stderr: err }));
    child.stdin.end(JSON.stringify(conf));
  });
  if (code === 0) return stdout.trim() ? (JSON.parse(stdout) as CniResult) : undefined;
  let parsed: { code?: number; msg?: string; details?: string } | undefined;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    // not the spec's error object: report what the plugin wrote
  }
  if (parsed && typeof parsed.code === 'number') throw new CniError(parsed.code, parsed.msg ?? '', parsed.details ?? '');
  throw new CniError(CNI_ERR.INTERNAL, `netplugin failed: "${(stdout + stderr).trim()}"`);
}

/**
 * ADD in two halves: what can be read ahead (in-process host-local: the configuration, the store
 * locked and read) starts now; `commit` allocates. A delegated plugin does all of it at `commit`.
 */
export async function ipamPrepareAdd(conf: NetConf, inv: IpamInvocation): Promise<PreparedHostLocalAdd> {
  const type = conf.ipam?.type as string;
  if (IN_PROCESS_IPAM.has(type)) return hostLocalPrepareAdd(conf, inv.containerId, inv.ifName, inv.args);
  return {
    commit: async () => (await execDelegate('ADD', type, conf, inv)) ?? { cniVersion: conf.cniVersion ?? '' },
    abort: async () => undefined,
  };
}

/** ADD: an address (or several) for the container. */
export async function ipamAdd(conf: NetConf, inv: IpamInvocation): Promise<CniResult> {
  return (await ipamPrepareAdd(conf, inv)).commit();
}

/** DEL: release what ADD allocated; releasing nothing is success. */
export async function ipamDel(conf: NetConf, inv: IpamInvocation): Promise<void> {
  const type = conf.ipam?.type as string;
  if (IN_PROCESS_IPAM.has(type)) await hostLocalDel(conf, inv.containerId, inv.ifName, inv.args);
  else await execDelegate('DEL', type, conf, inv);
}

/** CHECK: the allocation is still held. */
export async function ipamCheck(conf: NetConf, inv: IpamInvocation): Promise<void> {
  const type = conf.ipam?.type as string;
  if (IN_PROCESS_IPAM.has(type)) await hostLocalCheck(conf, inv.containerId, inv.ifName, inv.args);
  else await execDelegate('CHECK', type, conf, inv);
}

/** GC: drop allocations of attachments that are gone. */
export async function ipamGc(conf: NetConf, inv: IpamInvocation): Promise<void> {
  const type = conf.ipam?.type as string;
  const attachments = (conf['cni.dev/attachments'] ?? []) as { containerID: string; ifname: string }[];
  if (IN_PROCESS_IPAM.has(type)) await hostLocalGc(conf, attachments);
  else await execDelegate('GC', type, conf, inv);
}

/** STATUS: ready to allocate. */
export async function ipamStatus(conf: NetConf, inv: IpamInvocation): Promise<void> {
  const type = conf.ipam?.type as string;
  if (IN_PROCESS_IPAM.has(type)) await hostLocalStatus(conf);
  else await execDelegate('STATUS', type, conf, inv);
}

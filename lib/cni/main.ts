/**
 * The executables' side of the protocol (spec "Parameters", "Result Types"): read CNI_* from the
 * environment and the configuration from stdin, run the command, print the result or the error
 * object on stdout (exit status 1 on error), the way the reference plugins' dispatcher does it.
 * @module
 */
import { CNI_ERR, CniError, type CniResult, type NetConf } from './types.js';
import { CURRENT_VERSION, versionInfo } from './version.js';

/** Which plugin the executable is. */
export type PluginKind = 'bridge' | 'host-local';

const ABOUT: Record<PluginKind, string> = {
  bridge: 'CNI bridge plugin netns-native (Node.js, netlink), drop-in for the reference bridge',
  'host-local': 'CNI host-local IPAM plugin netns-native, drop-in for the reference host-local',
};

// Which variables each command needs (the reference dispatcher's table; STATUS and GC from 1.1.0).
const REQUIRED: Record<string, string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
  GC: ['CNI_PATH'],
  STATUS: ['CNI_PATH'],
  VERSION: [],
};

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of process.stdin) chunks.push(c as Buffer);
  } catch (e) {
    throw new CniError(CNI_ERR.IO_FAILURE, `error reading from stdin: ${(e as Error).message}`);
  }
  return Buffer.concat(chunks);
}

function print(obj: unknown): void {
  // 4-space indentation and no final newline, as the reference plugins print.
  process.stdout.write(JSON.stringify(obj, null, 4));
}

function versionOf(stdin: Buffer): string {
  try {
    const v = (JSON.parse(stdin.toString('utf8')) as NetConf).cniVersion;
    return typeof v === 'string' && v ? v : CURRENT_VERSION;
  } catch {
    return CURRENT_VERSION;
  }
}

async function dispatch(kind: PluginKind, cmd: string, stdin: Buffer, env: NodeJS.ProcessEnv): Promise<CniResult | undefined> {
  const runtime = {
    containerId: env.CNI_CONTAINERID ?? '',
    netns: env.CNI_NETNS ?? '',
    ifName: env.CNI_IFNAME ?? '',
    args: env.CNI_ARGS ?? '',
    path: (env.CNI_PATH ?? '').split(':').filter(Boolean),
  };
  if (kind === 'bridge') {
    const cni = await import('./index.js');
    switch (cmd) {
      case 'ADD': return cni.add(stdin, runtime);
      case 'DEL': await cni.del(stdin, runtime); return undefined;
      case 'CHECK': await cni.check(stdin, runtime); return undefined;
      case 'STATUS': await cni.status(stdin, runtime); return undefined;
      case 'GC': await cni.gc(stdin, runtime); return undefined;
    }
  } else {
    const ipam = await import('./ipam_plugin.js');
    return ipam.runHostLocal(cmd, stdin, runtime);
  }
  throw new CniError(CNI_ERR.INVALID_ENVIRONMENT, `unknown CNI_COMMAND: ${cmd}`);
}

/** Run one invocation of the plugin; resolves with the exit status. */
export async function main(kind: PluginKind, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const cmd = env.CNI_COMMAND ?? '';
  let version = CURRENT_VERSION;
  try {
    if (cmd === '') {
      process.stderr.write(ABOUT[kind] + '\n');
      return 0;
    }
    const required = REQUIRED[cmd];
    if (!required) throw new CniError(CNI_ERR.INVALID_ENVIRONMENT, `unknown CNI_COMMAND: ${cmd}`);
    const missing = required.filter((k) => !env[k]);
    if (missing.length > 0) throw new CniError(CNI_ERR.INVALID_ENVIRONMENT, `required env variables [${missing.join(',')}] missing`);
    if (cmd === 'VERSION') {
      print(versionInfo(process.stdin.isTTY ? undefined : versionOf(await readStdin())));
      return 0;
    }
    const stdin = await readStdin();
    version = versionOf(stdin);
    const result = await dispatch(kind, cmd, stdin, env);
    if (result) print(result);
    return 0;
  } catch (e) {
    const err = e instanceof CniError ? e : new CniError(CNI_ERR.INTERNAL, e instanceof Error ? e.message : String(e));
    print(err.toJSON(version));
    if (!(e instanceof CniError) && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
    return 1;
  }
}

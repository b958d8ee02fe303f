/**
 * The executables' side of the protocol (spec "Parameters", "Result Types"): read CNI_* from the
 * environment and the configuration from stdin, run the command, print the result or the error
 * object on stdout (exit status 1 on error), the way the reference plugins' dispatcher does it.
 * @module
 */
import { fstatSync, readSync, writeSync } from 'node:fs';
import { CNI_ERR, CniError, type CniResult, type NetConf } from './types.js';
import { CURRENT_VERSION, versionInfo } from './version.js';
import type { Netns } from '../api/netns/index.js';

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

/**
 * The configuration from stdin. Read with read(2) on fd 0 while that works: `process.stdin` would
 * load node:net and the streams (for a pipe) on every invocation, a noticeable share of a plugin's
 * start-up (docs/cni.md "Speed"); the runtime has written the configuration and closed the pipe,
 * so the reads do not wait. A non-blocking stdin (EAGAIN) continues through `process.stdin`.
 */
async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for (;;) {
      const buf = Buffer.allocUnsafe(65536);
      let n: number;
      try {
        n = readSync(0, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
        if ((e as NodeJS.ErrnoException).code === 'EOF') return Buffer.concat(chunks);
        throw e;
      }
      if (n === 0) return Buffer.concat(chunks);
      chunks.push(buf.subarray(0, n));
    }
    for await (const c of process.stdin) chunks.push(c as Buffer);
  } catch (e) {
    throw new CniError(CNI_ERR.IO_FAILURE, `error reading from stdin: ${(e as Error).message}`);
  }
  return Buffer.concat(chunks);
}

/** Write all of `text` to fd (1 or 2) with write(2), for the reason readStdin gives; EAGAIN continues through the stream. */
function writeOut(fd: 1 | 2, text: string): void {
  const data = Buffer.from(text);
  let off = 0;
  try {
    while (off < data.length) off += writeSync(fd, data, off);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    (fd === 1 ? process.stdout : process.stderr).write(data.subarray(off));
  }
}

// 4-space indentation and no final newline, as the reference plugins print.
const json = (obj: unknown): string => JSON.stringify(obj, null, 4);

function versionOf(stdin: Buffer): string {
  try {
    const v = (JSON.parse(stdin.toString('utf8')) as NetConf).cniVersion;
    return typeof v === 'string' && v ? v : CURRENT_VERSION;
  } catch {
    return CURRENT_VERSION;
  }
}

async function dispatch(kind: PluginKind, cmd: string, stdin: Buffer, env: NodeJS.ProcessEnv, hostNetns?: Netns): Promise<CniResult | undefined> {
  const runtime = {
    hostNetns,
    containerId: env.CNI_CONTAINERID ?? '',
    netns: env.CNI_NETNS ?? '',
    ifName: env.CNI_IFNAME ?? '',
    args: env.CNI_ARGS ?? '',
    path: (env.CNI_PATH ?? '').split(':').filter(Boolean),
  };
  if (kind === 'bridge') {
    const cni = await import('./commands.js');
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

/** What one invocation prints and its exit status. */
export interface PluginOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Where an invocation's configuration comes from. */
export interface PluginInput {
  /** The whole of stdin. */
  read(): Promise<Buffer>;
  /** Whether stdin is a terminal or /dev/null (no configuration: VERSION does not read it). */
  isCharacterDevice(): boolean;
}

/**
 * One invocation of the plugin, what it would print and its exit status: the executable writes
 * them out ({@link main}), the agent sends them to its shim (lib/cni/agent.ts). `hostNetns`: the
 * namespace playing the host (default: this process's own, where a runtime starts a plugin).
 */
export async function invoke(kind: PluginKind, env: NodeJS.ProcessEnv, input: PluginInput, hostNetns?: Netns): Promise<PluginOutput> {
  const cmd = env.CNI_COMMAND ?? '';
  let version = CURRENT_VERSION;
  try {
    if (cmd === '') return { code: 0, stdout: '', stderr: ABOUT[kind] + '\n' };
    const required = REQUIRED[cmd];
    if (!required) throw new CniError(CNI_ERR.INVALID_ENVIRONMENT, `unknown CNI_COMMAND: ${cmd}`);
    const missing = required.filter((k) => !env[k]);
    if (missing.length > 0) throw new CniError(CNI_ERR.INVALID_ENVIRONMENT, `required env variables [${missing.join(',')}] missing`);
    if (cmd === 'VERSION') {
      // A terminal (or /dev/null) on stdin is no configuration: not read (node:tty would load node:net).
      return { code: 0, stdout: json(versionInfo(input.isCharacterDevice() ? undefined : versionOf(await input.read()))), stderr: '' };
    }
    const stdin = await input.read();
    version = versionOf(stdin);
    const result = await dispatch(kind, cmd, stdin, env, hostNetns);
    return { code: 0, stdout: result ? json(result) : '', stderr: '' };
  } catch (e) {
    const err = e instanceof CniError ? e : new CniError(CNI_ERR.INTERNAL, e instanceof Error ? e.message : String(e));
    const stack = !(e instanceof CniError) && e instanceof Error && e.stack ? e.stack + '\n' : '';
    return { code: 1, stdout: json(err.toJSON(version)), stderr: stack };
  }
}

/** Run one invocation of the plugin as the executable; resolves with the exit status. */
export async function main(kind: PluginKind, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const out = await invoke(kind, env, { read: readStdin, isCharacterDevice: () => fstatSync(0).isCharacterDevice() });
  if (out.stdout) writeOut(1, out.stdout);
  if (out.stderr) writeOut(2, out.stderr);
  return out.code;
}

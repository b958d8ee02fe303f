/**
 * CNI test plumbing: plugins are run exactly as a runtime runs them (environment + stdin, stdout
 * read back), with their "host" side in a namespace of the test (`ip netns exec HOST plugin`), never
 * the machine's own; the spec's result shape is checked field by field.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect } from 'vitest';
import { ipJson } from './helpers.js';

export const REFERENCE_DIR = '/usr/lib/cni';
export const OUR_BIN = resolve(import.meta.dirname, '../../dist/bin/netns-native-bridge.cjs');
export const OUR_IPAM_BIN = resolve(import.meta.dirname, '../../dist/bin/netns-native-host-local.cjs');
/** The native executable that hands invocations to the agent (native/cni_shim.c, built by node-gyp). */
export const OUR_SHIM = resolve(import.meta.dirname, '../../build/Release/netns-native-bridge');
export const OUR_AGENT_BIN = resolve(import.meta.dirname, '../../dist/bin/netns-native-cni-agent.cjs');

/** Whether the executable was built (`npm run build`, which `npm ci` runs). */
export function assertBuilt(): void {
  if (!existsSync(OUR_BIN)) throw new Error(`${OUR_BIN} missing: run npm run build first`);
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A temp dir removed after the file's tests. */
export function tempDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `cni-${tag}-`));
  dirs.push(d);
  return d;
}

/** A CNI_PATH directory holding `netns-native-bridge` and `netns-native-host-local`, as an installer would link them. */
export function ourCniPath(bridge = OUR_BIN): string {
  const d = tempDir('bin');
  mkdirSync(join(d, 'bin'));
  symlinkSync(bridge, join(d, 'bin', 'netns-native-bridge'));
  symlinkSync(OUR_IPAM_BIN, join(d, 'bin', 'netns-native-host-local'));
  return join(d, 'bin');
}

export interface PluginRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed, when it is JSON. */
  json: any;
  ms: number;
}

export interface PluginCall {
  /** Executable to run (full path). */
  plugin: string;
  /** Namespace playing the host. */
  hostNs: string;
  command: string;
  containerId?: string;
  netns?: string;
  ifName?: string;
  args?: string;
  cniPath: string;
  config: unknown;
  /** More environment (NETNS_NATIVE_CNI_SOCKET for the shim). */
  env?: Record<string, string>;
  /** Arguments after the executable (a wrapper such as setpriv, then the plugin). */
  argv?: string[];
  /** Called with the child right after it started (to kill it mid-way). */
  onSpawn?: (child: ReturnType<typeof spawn>) => void;
}

/** `ip netns exec HOST plugin` with the CNI_* environment and the configuration on stdin. */
export function runPlugin(call: PluginCall): Promise<PluginRun> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...call.env, CNI_COMMAND: call.command, CNI_PATH: call.cniPath };
  if (call.containerId !== undefined) env.CNI_CONTAINERID = call.containerId;
  if (call.netns !== undefined) env.CNI_NETNS = call.netns;
  if (call.ifName !== undefined) env.CNI_IFNAME = call.ifName;
  if (call.args !== undefined) env.CNI_ARGS = call.args;
  const t0 = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn('ip', ['netns', 'exec', call.hostNs, call.plugin, ...(call.argv ?? [])], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    call.onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      let json: unknown;
      try {
        json = stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch {
        json = undefined;
      }
      resolvePromise({ code, signal, stdout, stderr, json, ms: performance.now() - t0 });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(typeof call.config === 'string' ? call.config : JSON.stringify(call.config));
  });
}

/** A running `netns-native-cni-agent` on a socket of the test's own (never the default path). */
export interface AgentProcess {
  socket: string;
  child: ChildProcess;
  /** SIGTERM, and the exit. */
  stop(): Promise<void>;
}

/** Start the agent executable on `socket` (default: a new private temp dir); resolves once it listens. */
export function startAgentProcess(socket = join(tempDir('agent'), 'cni.sock')): Promise<AgentProcess> {
  const child = spawn(process.execPath, [OUR_AGENT_BIN, '--socket', socket], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr += d; });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  afterAll(stop);
  return new Promise((resolvePromise, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('listening on')) resolvePromise({ socket, child, stop });
    });
    child.once('exit', (code) => reject(new Error(`agent exited (${code}) before listening: ${stderr}`)));
  });
}

// Keys whose values are MACs, timers or kernel bookkeeping that differ between any two runs.
const DROP = new Set(['ifindex', 'link_index', 'link_netnsid', 'address', 'broadcast', 'permaddr', 'bridge_id', 'root_id', 'designated_root',
  'designated_bridge', 'gc_timer', 'hello_timer', 'tcn_timer', 'topology_change_timer', 'forward_delay_timer', 'hold_timer',
  'message_age_timer', 'valid_life_time', 'preferred_life_time', 'tentative', 'link', 'id', 'no', 'port_id', 'port_no', 'stats64', 'stats', 'altnames']);

/** `ip -j` output without what differs between any two runs (MACs, random veth names, timers, link-local addresses). */
export function normalizeIpJson(v: any): any {
  if (Array.isArray(v)) return v.map(normalizeIpJson);
  if (v && typeof v === 'object') {
    const out: any = {};
    for (const [k, x] of Object.entries(v)) if (!DROP.has(k)) out[k] = normalizeIpJson(x);
    return out;
  }
  // Link-local IPv6 addresses (and their local routes) come from the MAC.
  if (typeof v === 'string' && v.startsWith('fe80::') && v !== 'fe80::/64') return 'LINKLOCAL';
  if (typeof v === 'string') return v.replace(/veth[0-9a-f]{8}/g, 'vethX').replace(/([0-9a-f]{2}:){5}[0-9a-f]{2}/g, 'MAC');
  return v;
}

// Routes to link-local addresses sort by those (random) addresses: compare them as sets.
const sorted = (a: unknown[]) => a.map((x) => JSON.stringify(x)).sort();

/** A namespace's links, addresses and routes (iproute2 as the oracle), normalized to compare two runs. */
export function nsState(ns: string): unknown {
  return {
    links: normalizeIpJson(ipJson(['-d', 'link', 'show'], ns)),
    addrs: normalizeIpJson(ipJson(['addr', 'show'], ns)),
    routes4: sorted(normalizeIpJson(ipJson(['route', 'show', 'table', 'all'], ns))),
    routes6: sorted(normalizeIpJson(ipJson(['-6', 'route', 'show', 'table', 'all'], ns))),
  };
}

/** A result with the containers' paths, MACs and veth names replaced, to compare two runs. */
export function normalizeCniResult(r: any, containers: { path?: string }[]): any {
  let out = JSON.stringify(r);
  containers.forEach((c, i) => { out = out.replaceAll(c.path!, `CONTAINER${i}`); });
  return normalizeIpJson(JSON.parse(out.replace(/"mac":"[^"]*"/g, '"mac":"MAC"')));
}

const CIDR4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const IP4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const isIp = (s: unknown) => typeof s === 'string' && (IP4.test(s) || (s.includes(':') && /^[0-9a-f:.]+$/i.test(s)));
const isCidr = (s: unknown) => typeof s === 'string' && (CIDR4.test(s) || /^[0-9a-f:.]+\/\d{1,3}$/i.test(s));
const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/;

function keysWithin(o: object, allowed: string[], where: string): void {
  for (const k of Object.keys(o)) expect(allowed, `${where}: unexpected key ${k}`).toContain(k);
}

/**
 * The spec's "Success" result shape for `version` (1.0.0/1.1.0: no `version` in ips; before 1.0.0
 * it is required): every key known, every type right, every interface index in range.
 */
export function expectSpecResult(r: any, version: string): void {
  expect(typeof r).toBe('object');
  keysWithin(r, ['cniVersion', 'interfaces', 'ips', 'routes', 'dns'], 'result');
  expect(r.cniVersion).toBe(version);
  const ifs = r.interfaces ?? [];
  expect(Array.isArray(ifs)).toBe(true);
  for (const i of ifs) {
    keysWithin(i, ['name', 'mac', 'sandbox', ...(version === '1.1.0' ? ['mtu', 'socketPath', 'pciID'] : [])], 'interface');
    expect(typeof i.name).toBe('string');
    if (i.mac !== undefined) expect(i.mac).toMatch(MAC);
    if (i.sandbox !== undefined) expect(typeof i.sandbox).toBe('string');
  }
  for (const ip of r.ips ?? []) {
    keysWithin(ip, ['address', 'gateway', 'interface', ...(version < '1.0.0' ? ['version'] : [])], 'ip');
    expect(isCidr(ip.address), ip.address).toBe(true);
    if (ip.gateway !== undefined) expect(isIp(ip.gateway), ip.gateway).toBe(true);
    if (ip.interface !== undefined) {
      expect(Number.isInteger(ip.interface)).toBe(true);
      expect(ip.interface).toBeGreaterThanOrEqual(0);
      expect(ip.interface).toBeLessThan(ifs.length);
    }
    if (version < '1.0.0') expect(ip.version).toBe(ip.address.includes(':') ? '6' : '4');
  }
  for (const rt of r.routes ?? []) {
    keysWithin(rt, ['dst', 'gw', ...(version === '1.1.0' ? ['mtu', 'advmss', 'priority', 'table', 'scope'] : [])], 'route');
    expect(isCidr(rt.dst), rt.dst).toBe(true);
    if (rt.gw !== undefined) expect(isIp(rt.gw), rt.gw).toBe(true);
  }
  if (r.dns !== undefined) {
    keysWithin(r.dns, ['nameservers', 'domain', 'search', 'options'], 'dns');
    for (const k of ['nameservers', 'search', 'options']) if (r.dns[k] !== undefined) expect(Array.isArray(r.dns[k])).toBe(true);
  }
}

/** The spec's error shape. */
export function expectSpecError(r: any): void {
  expect(typeof r).toBe('object');
  keysWithin(r, ['cniVersion', 'code', 'msg', 'details'], 'error');
  expect(Number.isInteger(r.code)).toBe(true);
  expect(typeof r.msg).toBe('string');
}

/** A TCP greeting from inside `from` to a server inside `at` on `host`; resolves with the address the server saw. */
export async function tcpPeer(from: import('../../lib/index.js').Netns, at: import('../../lib/index.js').Netns, host: string, timeout = 10_000): Promise<string> {
  const seen: string[] = [];
  const server = await at.createServer({ host, port: 0 }, (s) => {
    seen.push(s.remoteAddress ?? '?');
    s.on('error', () => undefined);
    s.pipe(s);
  });
  try {
    const { port } = server.address() as import('node:net').AddressInfo;
    const sock = await from.connect({ host, port, connectTimeout: timeout, noDelay: true });
    try {
      const back = await new Promise<string>((res, rej) => {
        let got = '';
        const t = setTimeout(() => rej(new Error('no echo')), timeout);
        sock.on('data', (d) => {
          got += d;
          if (got === 'hello') { clearTimeout(t); res(got); }
        });
        sock.on('error', rej);
        sock.write('hello');
      });
      expect(back).toBe('hello');
    } finally {
      sock.destroy();
    }
    return seen[0];
  } finally {
    server.close();
  }
}

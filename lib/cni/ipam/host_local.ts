/**
 * host-local IPAM, compatible with the reference plugin (containernetworking/plugins
 * plugins/ipam/host-local): the same configuration keys (`ranges` of range sets, the `subnet`
 * shorthand, `rangeStart`/`rangeEnd`/`gateway`, `routes`, `dataDir`, `resolvConf`, requested
 * addresses from CNI_ARGS `IP=`, `args.cni.ips` and `runtimeConfig.ips`), the same allocation order
 * (round robin from `last_reserved_ip.N`, skipping the gateway), the same store (./store.ts) and the
 * same error texts.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { add, contains, equal, formatAddr, formatNet, lastAddr, network, parseAddr, parseNet, bits, type Ip, type IpNet } from '../ip.js';
import { CNI_ERR, CniError, type CniDns, type CniIpConfig, type CniResult, type CniRoute, type NetConf } from '../types.js';
import { versionAtLeast } from '../version.js';
import { IpamStore } from './store.js';

/** One range of a range set, canonicalized: every bound filled in. */
export interface IpRange {
  subnet: IpNet;
  rangeStart: Ip;
  rangeEnd: Ip;
  gateway: Ip;
}

/** host-local's configuration, after the reference's LoadIPAMConfig. */
export interface HostLocalConfig {
  /** The network name: the store's directory under dataDir. */
  name: string;
  dataDir: string;
  routes: CniRoute[];
  resolvConf: string;
  ranges: IpRange[][];
  /** Addresses the runtime asked for. */
  requested: Ip[];
}

const fail = (msg: string): never => {
  throw new CniError(CNI_ERR.INTERNAL, msg);
};

function ipArg(v: unknown, what: string): Ip {
  const ip = parseAddr(v);
  if (!ip) fail(`invalid ${what} ${JSON.stringify(v)}: not an IP address`);
  return ip as Ip;
}

/** Split CNI_ARGS (`K1=V1;K2=V2`) as the reference's types.LoadArgs does. */
export function parseCniArgs(args: string | Record<string, string> | undefined): Record<string, string> {
  if (!args) return {};
  if (typeof args !== 'string') return args;
  const out: Record<string, string> = {};
  for (const pair of args.split(';')) {
    if (!pair) continue;
    const kv = pair.split('=');
    if (kv.length !== 2) throw new CniError(CNI_ERR.INTERNAL, `ARGS: invalid pair "${pair}"`);
    out[kv[0]] = kv[1];
  }
  return out;
}

function rangeContains(r: IpRange, ip: Ip): boolean {
  return contains(r.subnet, ip) && ip.value >= r.rangeStart.value && ip.value <= r.rangeEnd.value;
}

function rangeString(r: IpRange): string {
  return `${formatAddr(r.rangeStart)}-${formatAddr(r.rangeEnd)}`;
}

function setString(s: IpRange[]): string {
  return s.map(rangeString).join(',');
}

function overlaps(a: IpRange, b: IpRange): boolean {
  if (a.subnet.family !== b.subnet.family) return false;
  return rangeContains(a, b.rangeStart) || rangeContains(a, b.rangeEnd) || rangeContains(b, a.rangeStart) || rangeContains(b, a.rangeEnd);
}

function canonicalizeRange(raw: unknown): IpRange {
  const r = (raw ?? {}) as Record<string, unknown>;
  const subnet = parseNet(r.subnet);
  if (!subnet) fail(r.subnet === undefined ? 'IPAM config missing \'subnet\' key' : `invalid CIDR address: ${String(r.subnet)}`);
  const s = subnet as IpNet;
  const width = bits(s.family);
  if (s.prefix > width - 2) fail(`Network ${formatNet(network(s))} too small to allocate from`);
  const net = network(s);
  if (net.value !== s.value) fail(`Network has host bits set. For a subnet mask of length ${s.prefix} the network address is ${formatAddr(net)}`);
  const range: IpRange = {
    subnet: s,
    gateway: r.gateway === undefined ? add(s, 1n) : ipArg(r.gateway, 'gateway'),
    rangeStart: add(s, 1n),
    rangeEnd: s.family === 4 ? add(lastAddr(s), -1n) : lastAddr(s),
  };
  const inSubnet = (ip: Ip) => contains(s, ip);
  if (r.rangeStart !== undefined) {
    const start = ipArg(r.rangeStart, 'rangeStart');
    if (!inSubnet(start)) fail(`RangeStart ${formatAddr(start)} not in network ${formatNet(s)}`);
    range.rangeStart = start;
  }
  if (r.rangeEnd !== undefined) {
    const end = ipArg(r.rangeEnd, 'rangeEnd');
    if (!inSubnet(end)) fail(`RangeEnd ${formatAddr(end)} not in network ${formatNet(s)}`);
    range.rangeEnd = end;
  }
  return range;
}

function canonicalizeSet(raw: unknown): IpRange[] {
  if (!Array.isArray(raw) || raw.length === 0) fail('empty range set');
  const set = (raw as unknown[]).map(canonicalizeRange);
  for (const r of set) if (r.subnet.family !== set[0].subnet.family) fail('mixed address families');
  for (let i = 0; i < set.length; i++) {
    for (let j = i + 1; j < set.length; j++) {
      if (overlaps(set[i], set[j])) fail(`subnets ${rangeString(set[i])} and ${rangeString(set[j])} overlap`);
    }
  }
  return set;
}

function parseRoutes(raw: unknown): CniRoute[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) fail('routes must be a list');
  return (raw as Record<string, unknown>[]).map((r) => {
    const dst = parseNet(r?.dst);
    if (!dst) fail(`invalid CIDR address: ${String(r?.dst)}`);
    const out: CniRoute = { dst: formatNet(dst as IpNet) };
    if (r.gw !== undefined) out.gw = formatAddr(ipArg(r.gw, 'gw'));
    return out;
  });
}

/**
 * The reference's LoadIPAMConfig: the `subnet` shorthand becomes the first range set,
 * `runtimeConfig.ipRanges` come before the configured ones, range sets must not overlap.
 */
export function loadHostLocalConfig(conf: NetConf, cniArgs: Record<string, string> = {}): HostLocalConfig {
  const ipam = conf.ipam as Record<string, unknown> | undefined;
  if (!ipam || typeof ipam !== 'object') fail('IPAM config missing \'ipam\' key');
  const i = ipam as Record<string, unknown>;
  const requested: Ip[] = [];
  if (cniArgs.IP) requested.push(ipArg(cniArgs.IP, 'IP'));
  const argIps = ((conf.args as Record<string, any> | undefined)?.cni?.ips ?? []) as unknown[];
  for (const a of argIps) requested.push(ipArg(a, 'ip'));
  const rtIps = (conf.runtimeConfig?.ips ?? []) as unknown[];
  for (const a of rtIps) requested.push(ipArg(String(a).split('/')[0], 'ip'));
  let rawSets: unknown[] = Array.isArray(i.ranges) ? [...(i.ranges as unknown[])] : [];
  if (i.subnet !== undefined && i.subnet !== '') rawSets.unshift([{ subnet: i.subnet, rangeStart: i.rangeStart, rangeEnd: i.rangeEnd, gateway: i.gateway }]);
  const rtRanges = conf.runtimeConfig?.ipRanges;
  if (Array.isArray(rtRanges) && rtRanges.length > 0) rawSets = [...rtRanges, ...rawSets];
  if (rawSets.length === 0) fail('no IP ranges specified');
  const ranges = rawSets.map((s, idx) => {
    try {
      return canonicalizeSet(s);
    } catch (e) {
      return fail(`invalid range set ${idx}: ${(e as CniError).msg ?? (e as Error).message}`);
    }
  });
  const v4 = ranges.filter((s) => s[0].subnet.family === 4).length;
  if ((v4 > 1 || ranges.length - v4 > 1) && !versionAtLeast(conf.cniVersion || '0.1.0', '0.3.0')) {
    fail(`CNI version ${conf.cniVersion} does not support more than 1 address per family`);
  }
  for (let a = 0; a < ranges.length - 1; a++) {
    for (let b = a + 1; b < ranges.length; b++) {
      if (ranges[a].some((x) => ranges[b].some((y) => overlaps(x, y)))) fail(`range set ${a} overlaps with ${b}`);
    }
  }
  return {
    name: conf.name as string,
    dataDir: typeof i.dataDir === 'string' ? i.dataDir : '',
    routes: parseRoutes(i.routes),
    resolvConf: typeof i.resolvConf === 'string' ? i.resolvConf : '',
    ranges,
    requested,
  };
}

/** Parse a resolv.conf into the result's `dns` (the reference's parseResolvConf). */
export async function parseResolvConf(path: string): Promise<CniDns> {
  const dns: CniDns = {};
  for (const raw of (await readFile(path, 'utf8')).split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver') (dns.nameservers ??= []).push(...rest);
    else if (key === 'domain') dns.domain = rest[0];
    else if (key === 'search') (dns.search ??= []).push(...rest);
    else if (key === 'options') (dns.options ??= []).push(...rest);
  }
  return dns;
}

/** The reference's RangeIter: round robin from the address after the last one reserved, skipping gateways. */
function* candidates(set: IpRange[], last: Ip | undefined): Generator<{ ip: Ip; range: IpRange }> {
  let idx = 0;
  let cur: Ip | undefined;
  let start: Ip | undefined;
  if (last && set.some((r) => rangeContains(r, last))) {
    idx = set.findIndex((r) => rangeContains(r, last));
    cur = last;
  }
  for (;;) {
    let r = set[idx];
    if (!cur) {
      cur = r.rangeStart;
      start = cur;
    } else {
      if (equal(cur, r.rangeEnd)) {
        idx = (idx + 1) % set.length;
        r = set[idx];
        cur = r.rangeStart;
      } else cur = add(cur, 1n);
      if (!start) start = cur;
      else if (equal(cur, start)) return;
    }
    if (!equal(cur, r.gateway)) yield { ip: cur, range: r };
  }
}

function ipConfig(ip: Ip, range: IpRange): CniIpConfig {
  return { address: `${formatAddr(ip)}/${range.subnet.prefix}`, gateway: formatAddr(range.gateway) };
}

/** What an allocation reads before it writes: this container's allocations and each set's last reservation. */
interface StoreView {
  held: string[];
  last: (string | undefined)[];
}

async function readView(store: IpamStore, c: HostLocalConfig, id: string, ifName: string): Promise<StoreView> {
  // All reads at once (the lock is held: nothing changes meanwhile). The allocations held by this
  // container stay valid for every set: a reservation in one set is never inside another (sets
  // do not overlap).
  const [held, ...last] = await Promise.all([store.findById(id, ifName), ...c.ranges.map((_, idx) => store.lastReserved(idx))]);
  return { held, last };
}

async function allocateFromSet(store: IpamStore, view: StoreView, set: IpRange[], setIdx: number, id: string, ifName: string, requested: Ip | undefined): Promise<CniIpConfig> {
  if (requested) {
    const range = set.find((r) => rangeContains(r, requested));
    if (!range) fail(`${formatAddr(requested)} not in range set ${setString(set)}`);
    if (equal(requested, range!.gateway)) fail(`requested ip ${formatAddr(requested)} is subnet's gateway`);
    if (!(await store.reserve(id, ifName, formatAddr(requested), setIdx))) {
      fail(`requested IP address ${formatAddr(requested)} is not available in range set ${setString(set)}`);
    }
    return ipConfig(requested, range!);
  }
  const lastText = view.last[setIdx];
  for (const held of view.held) {
    const ip = parseAddr(held);
    if (ip && set.some((r) => rangeContains(r, ip))) fail(`${held} has been allocated to ${id}, duplicate allocation is not allowed`);
  }
  const last = lastText === undefined ? undefined : parseAddr(lastText);
  for (const { ip, range } of candidates(set, last)) {
    if (await store.reserve(id, ifName, formatAddr(ip), setIdx)) return ipConfig(ip, range);
  }
  return fail(`no IP addresses available in range set: ${setString(set)}`);
}

/** An ADD whose reads are done, holding the store's lock: {@link commit} allocates, {@link abort} only unlocks. */
export interface PreparedHostLocalAdd {
  commit(): Promise<CniResult>;
  abort(): Promise<void>;
}

/**
 * The first half of an ADD: the configuration checked, the store locked and read; nothing written
 * but the store's directory and lock file. The bridge plugin runs it while the veth is being made
 * and commits once the veth exists (so a failed veth leaves the store as the reference leaves it).
 */
export async function hostLocalPrepareAdd(conf: NetConf, id: string, ifName: string, cniArgs: Record<string, string> = {}): Promise<PreparedHostLocalAdd> {
  const c = loadHostLocalConfig(conf, cniArgs);
  const dns = c.resolvConf ? await parseResolvConf(c.resolvConf) : {};
  const store = await IpamStore.open(c.name, c.dataDir);
  let view: StoreView;
  try {
    view = await readView(store, c, id, ifName);
  } catch (e) {
    await store.close();
    throw e;
  }
  let done = false;
  const finish = async () => {
    if (done) return;
    done = true;
    await store.close();
  };
  return {
    abort: finish,
    commit: async () => {
      if (done) throw new Error('host-local ADD already committed or aborted');
      try {
        return await allocate(store, view, c, id, ifName, dns);
      } finally {
        await finish();
      }
    },
  };
}

async function allocate(store: IpamStore, view: StoreView, c: HostLocalConfig, id: string, ifName: string, dns: CniDns): Promise<CniResult> {
  const result: CniResult = { cniVersion: '1.1.0', ips: [], routes: c.routes, dns };
  const wanted = [...c.requested];
  const done: string[] = [];
  try {
    for (const [idx, set] of c.ranges.entries()) {
      const k = wanted.findIndex((ip) => set.some((r) => rangeContains(r, ip)));
      const requested = k >= 0 ? wanted.splice(k, 1)[0] : undefined;
      let got: CniIpConfig;
      try {
        got = await allocateFromSet(store, view, set, idx, id, ifName, requested);
      } catch (e) {
        throw new CniError(CNI_ERR.INTERNAL, `failed to allocate for range ${idx}: ${(e as CniError).msg ?? (e as Error).message}`);
      }
      done.push(got.address.split('/')[0]);
      result.ips!.push(got);
    }
    if (wanted.length > 0) fail(`failed to allocate all requested IPs: ${wanted.map(formatAddr).join(' ')}`);
  } catch (e) {
    for (const ip of done) await store.release(ip);
    throw e;
  }
  return result;
}

/**
 * ADD: one address from each range set, under the store's lock for the whole allocation (so a
 * concurrent invocation never sees half of it).
 *
 * Equivalent to: the reference `host-local` plugin's ADD.
 * @example
 * ```ts
 * const result = await hostLocalAdd(conf, 'c1', 'eth0');   // { cniVersion, ips: [{ address, gateway }], routes, dns }
 * ```
 */
export async function hostLocalAdd(conf: NetConf, id: string, ifName: string, cniArgs: Record<string, string> = {}): Promise<CniResult> {
  return (await hostLocalPrepareAdd(conf, id, ifName, cniArgs)).commit();
}

/** DEL: release (id, ifName)'s addresses; nothing held is success. */
export async function hostLocalDel(conf: NetConf, id: string, ifName: string, cniArgs: Record<string, string> = {}): Promise<string[]> {
  const c = loadHostLocalConfig(conf, cniArgs);
  const store = await IpamStore.open(c.name, c.dataDir);
  try {
    return await store.releaseById(id, ifName);
  } finally {
    await store.close();
  }
}

/** CHECK: the store holds an address for (id, ifName). */
export async function hostLocalCheck(conf: NetConf, id: string, ifName: string, cniArgs: Record<string, string> = {}): Promise<void> {
  const c = loadHostLocalConfig(conf, cniArgs);
  const store = await IpamStore.open(c.name, c.dataDir);
  try {
    if ((await store.findById(id, ifName)).length === 0) fail(`host-local: Failed to find address added by container ${id}`);
  } finally {
    await store.close();
  }
}

/** GC (spec 1.1.0): release every allocation whose (containerID, ifname) is not a valid attachment. */
export async function hostLocalGc(conf: NetConf, attachments: { containerID: string; ifname: string }[]): Promise<string[]> {
  const c = loadHostLocalConfig(conf);
  const keep = new Set(attachments.map((a) => a.containerID.trim() + '\r\n' + a.ifname));
  const store = await IpamStore.open(c.name, c.dataDir);
  const released: string[] = [];
  try {
    for (const [ip, content] of await store.entries()) {
      if (!keep.has(content)) {
        await store.release(ip);
        released.push(ip);
      }
    }
  } finally {
    await store.close();
  }
  return released;
}

/** STATUS (spec 1.1.0): error 50 when a range set has no free address left. */
export async function hostLocalStatus(conf: NetConf): Promise<void> {
  const c = loadHostLocalConfig(conf);
  const store = await IpamStore.open(c.name, c.dataDir);
  try {
    const held = new Set((await store.entries()).keys());
    for (const set of c.ranges) {
      let free = false;
      for (const { ip } of candidates(set, undefined)) {
        if (!held.has(formatAddr(ip))) { free = true; break; }
      }
      if (!free) throw new CniError(CNI_ERR.PLUGIN_NOT_AVAILABLE, `no IP addresses available in range set: ${setString(set)}`);
    }
  } finally {
    await store.close();
  }
}

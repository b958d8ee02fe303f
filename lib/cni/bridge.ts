/**
 * The bridge plugin, a drop-in for the reference `bridge` (containernetworking/plugins
 * plugins/main/bridge) built on the library: the same configuration keys, the same steps in the
 * same order (so the same input leaves the same namespace state and gives the same result), and the
 * veth fast path of docs/architecture.md ("Links"): the container end is created directly inside
 * the container's namespace, the host end joins the bridge and comes up in the same request.
 * @module
 */
import { Netns } from '../api/netns/index.js';
import type { Link } from '../api/link/view.js';
import { NetnsError, isNotFound } from '../errors.js';
import { AttrWriter, ByteWriter } from '../netlink/attributes.js';
import { AF_BRIDGE, RTM_NEWLINK, RTM_SETLINK } from '../rtnl/constants.js';
import { IFF_PROMISC, ifinfomsg } from '../rtnl/link/index.js';
import { add, contains, formatAddr, formatNet, network, parseAddr, parseNet, type IpNet } from './ip.js';
import { ipamCheck, ipamDel, ipamGc, ipamPrepareAdd, ipamStatus, type IpamInvocation } from './ipam/index.js';
import { parseCniArgs } from './ipam/host_local.js';
import { masqueradeAdd, masqueradeDel, masqueradeGc } from './masquerade.js';
import { CNI_ERR, CniError, type CniInterface, type CniResult, type CniRoute, type CniRuntime, type NetConf } from './types.js';

/** The bridge plugin's configuration keys (the reference's NetConf). */
export interface BridgeNetConf extends NetConf {
  /** Bridge name in the host namespace; created when missing. Default `cni0`. */
  bridge?: string;
  /** Give the bridge the gateway address of each range (and enable forwarding). */
  isGateway?: boolean;
  /** Also install a default route via the gateway in the container (implies isGateway). */
  isDefaultGateway?: boolean;
  /** Replace a different address the bridge already has instead of failing. */
  forceAddress?: boolean;
  /** Masquerade the container's traffic leaving its subnet (nf_tables, per container, removed on DEL). */
  ipMasq?: boolean;
  /** MTU of the bridge (when created) and of both veth ends. */
  mtu?: number;
  /** Let frames go back out of the port they came in on (the port's hairpin mode). */
  hairpinMode?: boolean;
  /** Promiscuous mode on the bridge. */
  promiscMode?: boolean;
  /** Keep IPv6 duplicate address detection on in the container. */
  enabledad?: boolean;
}

const DEFAULT_BRIDGE = 'cni0';
const IFLA_PROTINFO = 12;
const IFLA_BRPORT_MODE = 4;

/** The invocation with defaults filled in. */
interface Invocation extends IpamInvocation {
  host: Netns;
  ownsHost: boolean;
}

const internal = (msg: string, cause?: unknown): CniError => new CniError(CNI_ERR.INTERNAL, msg, '', cause);

function errText(e: unknown): string {
  if (e instanceof CniError) return e.msg + (e.details ? `; ${e.details}` : '');
  return e instanceof Error ? e.message : String(e);
}

function bool(conf: Record<string, unknown>, key: string): boolean {
  const v = conf[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw internal(`failed to load netconf: json: cannot unmarshal ${typeof v} into Go struct field NetConf.${key} of type bool`);
  return v;
}

/** The reference's loadNetConf, plus this implementation's refusals of what it does not do. */
export function loadBridgeConf(raw: NetConf, cniArgs: Record<string, string>) {
  const c = raw as BridgeNetConf & Record<string, unknown>;
  const vlan = c.vlan ?? 0;
  if (typeof vlan !== 'number' || !Number.isInteger(vlan) || vlan < 0 || vlan > 4094) throw internal(`invalid VLAN ID ${String(vlan)} (must be between 0 and 4094)`);
  if (vlan !== 0) throw new CniError(CNI_ERR.UNSUPPORTED_FIELD, `unsupported field "vlan": ${vlan}`, 'VLAN filtering on the bridge is not implemented by netns-native-bridge');
  if (c.macspoofchk === true) throw new CniError(CNI_ERR.UNSUPPORTED_FIELD, 'unsupported field "macspoofchk": true', 'MAC spoof checking is not implemented by netns-native-bridge');
  const mtu = c.mtu ?? 0;
  if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < 0) throw internal(`failed to load netconf: invalid mtu ${String(mtu)}`);
  const bridge = c.bridge === undefined || c.bridge === '' ? DEFAULT_BRIDGE : c.bridge;
  if (typeof bridge !== 'string') throw internal('failed to load netconf: bridge must be a string');
  let mac = cniArgs.MAC || '';
  const argMac = (c.args as Record<string, any> | undefined)?.cni?.mac;
  if (typeof argMac === 'string' && argMac) mac = argMac;
  const rtMac = c.runtimeConfig?.mac;
  if (typeof rtMac === 'string' && rtMac) mac = rtMac;
  const isDefaultGateway = bool(c, 'isDefaultGateway');
  return {
    bridge,
    isGateway: bool(c, 'isGateway') || isDefaultGateway,
    isDefaultGateway,
    forceAddress: bool(c, 'forceAddress'),
    ipMasq: bool(c, 'ipMasq'),
    mtu,
    hairpinMode: bool(c, 'hairpinMode'),
    promiscMode: bool(c, 'promiscMode'),
    enableDad: bool(c, 'enabledad'),
    mac,
    isLayer3: typeof c.ipam?.type === 'string' && c.ipam.type !== '',
  };
}

type BridgeConf = ReturnType<typeof loadBridgeConf>;

async function invocation(rt: CniRuntime): Promise<Invocation> {
  const host = rt.hostNetns ?? (await Netns.current());
  const args = parseCniArgs(rt.args);
  const argsText = typeof rt.args === 'string' ? rt.args : Object.entries(args).map(([k, v]) => `${k}=${v}`).join(';');
  return { host, ownsHost: !rt.hostNetns, containerId: rt.containerId, netns: rt.netns ?? '', ifName: rt.ifName, args, argsText, path: rt.path ?? [] };
}

async function release(inv: Invocation): Promise<void> {
  if (inv.ownsHost) await inv.host.close();
}

async function openContainer(path: string): Promise<Netns> {
  try {
    return await Netns.open(path);
  } catch (e) {
    const code = (e as NetnsError).code;
    if (code === 'ENOENT') throw internal(`failed to open netns "${path}": failed to Statfs "${path}": no such file or directory`, e);
    throw internal(`failed to open netns "${path}": ${errText(e)}`, e);
  }
}

/** Set IFF_PROMISC on a link (`ip link set dev X promisc on`). */
async function setPromisc(ns: Netns, index: number): Promise<void> {
  const w = new ByteWriter(32);
  ifinfomsg.encode(w, { index, flags: IFF_PROMISC, change: IFF_PROMISC });
  await (await ns.rtnl()).request(RTM_NEWLINK, 0, w.toBuffer(), `ip link set dev ${index} promisc on`);
}

/** A bridge port's hairpin mode (`bridge link set dev X hairpin on`): IFLA_PROTINFO/IFLA_BRPORT_MODE in an AF_BRIDGE RTM_SETLINK. */
async function setHairpin(ns: Netns, index: number, on: boolean): Promise<void> {
  const w = new ByteWriter(32);
  ifinfomsg.encode(w, { family: AF_BRIDGE, index });
  new AttrWriter(w).nested(IFLA_PROTINFO, (a) => a.u8(IFLA_BRPORT_MODE, on ? 1 : 0));
  await (await ns.rtnl()).request(RTM_SETLINK, 0, w.toBuffer(), `bridge link set dev ${index} hairpin ${on ? 'on' : 'off'}`);
}

/**
 * The reference's ensureBridge: create (or find) the bridge, promiscuous if asked, accept_ra 0, up.
 * The common case (it exists and is up) costs one request; `pending` collects the sysctl write,
 * awaited before ADD returns.
 */
async function ensureBridge(host: Netns, c: BridgeConf, pending: Promise<unknown>[]): Promise<Link> {
  const fail = (e: unknown) => internal(`failed to create bridge "${c.bridge}": ${errText(e)}`, e);
  let br = await host.links.find(c.bridge);
  if (!br) {
    try {
      br = await host.links.add({ kind: 'bridge', name: c.bridge, up: true, ...(c.mtu ? { mtu: c.mtu } : {}) });
    } catch (e) {
      // Another invocation made it meanwhile: use that one.
      if ((e as NetnsError).code !== 'EEXIST') throw fail(new Error(`could not add "${c.bridge}": ${errText(e)}`));
      br = await host.links.get(c.bridge).catch((g) => { throw fail(new Error(`could not lookup "${c.bridge}": ${errText(g)}`)); });
    }
  }
  if (br.kind !== 'bridge') throw fail(new Error(`"${c.bridge}" already exists but is not a bridge`));
  if (c.promiscMode && !br.flagNames.includes('PROMISC')) await setPromisc(host, br.index).catch((e) => { throw fail(new Error(`could not set promiscuous mode on "${c.bridge}": ${errText(e)}`)); });
  // The reference owns the bridge's routes ("we want to own the routes for this interface"); a
  // failure (IPv6 disabled) is ignored there too.
  pending.push(host.sysctl.set(`net/ipv6/conf/${c.bridge}/accept_ra`, '0').catch(() => undefined));
  if (!br.flagNames.includes('UP')) await host.links.setUp(br.index);
  return br;
}

/**
 * Random bytes for a veth name or a MAC. Neither is a secret, and a clash is caught (EEXIST for a
 * name: another one is drawn); Math.random (seeded by V8 from the system's entropy) spares the
 * executable loading node:crypto, a noticeable share of its start-up (docs/cni.md "Speed").
 */
function randomBytes(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(Math.random() * 256);
  return b;
}

function randomMac(): string {
  const b = randomBytes(6);
  // Locally administered unicast, as the kernel's eth_random_addr() makes them.
  b[0] = (b[0] & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/**
 * The veth pair: host end `veth` + 8 random hex digits (the reference's RandomVethName) in the host
 * namespace, enslaved and up; container end `ifName` born inside the container namespace (left down
 * until its addresses are in, as the reference does).
 */
async function setupVeth(inv: Invocation, cont: Netns, br: Link, c: BridgeConf): Promise<{ host: Link; contIndex: number; contMac: string }> {
  const contMac = c.mac || randomMac();
  for (let attempt = 0; attempt < 10; attempt++) {
    const name = `veth${randomBytes(4).toString('hex')}`;
    try {
      const hostEnd = await inv.host.links.add({
        // txqueuelen 0 on both ends, as the reference's netlink library sends it (a veth has no
        // queue of its own), and the kernel's own queue counts (`queues: 0`: the reference sends none),
        // so the two implementations leave the same link state.
        kind: 'veth', name, master: br.index, up: true, txqueuelen: 0, queues: 0, ...(c.mtu ? { mtu: c.mtu } : {}),
        peer: { name: inv.ifName, netns: cont, mac: contMac, txqueuelen: 0, ...(c.mtu ? { mtu: c.mtu } : {}) },
      });
      return { host: hostEnd, contIndex: hostEnd.peerIndex as number, contMac };
    } catch (e) {
      if ((e as NetnsError).code !== 'EEXIST') throw internal(`failed to make veth pair: ${errText(e)}`, e);
      if (await cont.links.find(inv.ifName)) throw internal(`container veth name provided (${inv.ifName}) already exists`, e);
    }
  }
  throw internal('failed to find a unique veth name');
}

interface GatewayInfo {
  gws: IpNet[];
  family: 4 | 6;
  defaultRouteFound: boolean;
}

/** The reference's calcGateways: interface index 2, computed gateways, the default route per family. */
function calcGateways(result: CniResult, c: BridgeConf): GatewayInfo[] {
  const infos: Record<4 | 6, GatewayInfo> = { 4: { gws: [], family: 4, defaultRouteFound: false }, 6: { gws: [], family: 6, defaultRouteFound: false } };
  result.routes ??= [];
  for (const ipc of result.ips ?? []) {
    const addr = parseNet(ipc.address);
    if (!addr) throw internal(`Unknown IP object: ${JSON.stringify(ipc)}`);
    const g = infos[addr.family];
    const defaultDst = addr.family === 4 ? '0.0.0.0/0' : '::/0';
    ipc.interface = 2;
    if (ipc.gateway === undefined && c.isGateway) ipc.gateway = formatAddr(add(network(addr), 1n));
    if (c.isDefaultGateway && !g.defaultRouteFound) {
      if (result.routes.some((r) => r.gw !== undefined && r.dst === defaultDst)) g.defaultRouteFound = true;
      if (!g.defaultRouteFound) {
        const route: CniRoute = { dst: defaultDst };
        if (ipc.gateway !== undefined) route.gw = ipc.gateway;
        result.routes.push(route);
        g.defaultRouteFound = true;
      }
    }
    if (c.isGateway && ipc.gateway) {
      const gw = parseAddr(ipc.gateway)!;
      g.gws.push({ ...gw, prefix: addr.prefix });
    }
  }
  return [infos[4], infos[6]];
}

/** The container-side sysctls of the reference's ADD (DAD, arp_notify) and ConfigureIface's IPv6 enabling. */
async function containerSysctls(cont: Netns, ifName: string, c: BridgeConf): Promise<void> {
  const sysctls: Promise<unknown>[] = [];
  if (c.enableDad) {
    sysctls.push(cont.sysctl.set(`net/ipv6/conf/${ifName}/enhanced_dad`, '1').catch(() => undefined));
    sysctls.push(cont.sysctl.set(`net/ipv6/conf/${ifName}/accept_dad`, '1').catch(() => undefined));
  } else sysctls.push(cont.sysctl.set(`net/ipv6/conf/${ifName}/accept_dad`, '0').catch(() => undefined));
  sysctls.push(cont.sysctl.set(`net/ipv4/conf/${ifName}/arp_notify`, '1').catch(() => undefined));
  await Promise.all(sysctls);
}

/** The reference's ConfigureIface, pipelined: addresses, up, then routes in one batch to the container's rtnetlink socket. */
async function configureIface(cont: Netns, index: number, ifName: string, result: CniResult): Promise<void> {
  const ips = (result.ips ?? []).filter((i) => i.interface === 2);
  if (ips.some((i) => i.address.includes(':'))) {
    await Promise.all(['lo', ifName].map((dev) => {
      const key = `net/ipv6/conf/${dev}/disable_ipv6`;
      return cont.sysctl.get(key).then((v) => (String(v).trim() === '0' ? undefined : cont.sysctl.set(key, '0'))).catch((e) => {
        throw internal(`failed to enable IPv6 for interface "${dev}" (${key}): ${errText(e)}`, e);
      });
    }));
  }
  let v4gw: string | undefined;
  let v6gw: string | undefined;
  const steps: Promise<unknown>[] = [];
  for (const ipc of ips) {
    const net = parseNet(ipc.address)!;
    steps.push(cont.addresses.add(index, ipc.address, net.family === 4 && net.prefix < 31 ? { broadcast: '+' } : {}).catch((e) => {
      throw internal(`failed to add IP addr {Version:${net.family} Interface:2 Address:{IP:${formatAddr(net)} Mask:${net.prefix}} Gateway:${ipc.gateway ?? '<nil>'}} to "${ifName}": ${errText(e)}`, e);
    }));
    if (ipc.gateway) {
      if (ipc.gateway.includes(':')) v6gw ??= ipc.gateway;
      else v4gw ??= ipc.gateway;
    }
  }
  steps.push(cont.links.setUp(index).catch((e) => { throw internal(`failed to set "${ifName}" UP: ${errText(e)}`, e); }));
  for (const r of result.routes ?? []) {
    const isV4 = !r.dst.includes(':');
    const gw = r.gw ?? (isV4 ? v4gw : v6gw);
    steps.push(cont.routes.add({ destination: r.dst, dev: index, ...(gw ? { gateway: gw } : {}) }).catch((e) => {
      throw internal(`failed to add route '${r.dst} via ${gw ?? '<nil>'} dev ${ifName}': ${errText(e)}`, e);
    }));
  }
  // Settle every request before reporting the first failure, so nothing is still in flight.
  const settled = await Promise.allSettled(steps);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

type BridgeAddrs = Awaited<ReturnType<Netns['addresses']['list']>>;

/**
 * The reference's ensureAddr: the gateway address on the bridge; another address of the family is
 * an error unless forceAddress. `listed`: the bridge's addresses read earlier (see bridgeAdd), when
 * nothing changed them since. Resolves with whether it changed the bridge's addresses.
 */
async function ensureAddr(host: Netns, br: Link, gw: IpNet, force: boolean, listed?: Promise<BridgeAddrs>): Promise<boolean> {
  const want = formatNet(gw);
  const family = gw.family;
  const addrs = (await (listed ?? host.addresses.list({ dev: br.index, family }))).filter((a) => a.family === family);
  for (const a of addrs) {
    const have = parseNet(`${a.address}/${a.prefixLength}`);
    if (!have) continue;
    if (formatNet(have) === want) return false;
    if (family === 4 || contains(have, gw) || contains(gw, have)) {
      if (!force) throw internal(`"${br.name}" already has an IP address different from ${want}`);
      await host.addresses.delete(br.index, formatNet(have)).catch((e) => { throw internal(`could not remove IP address from "${br.name}": ${errText(e)}`, e); });
    }
  }
  try {
    await host.addresses.add(br.index, want, family === 4 && gw.prefix < 31 ? { broadcast: '+' } : {});
  } catch (e) {
    if ((e as NetnsError).code !== 'EEXIST') throw internal(`could not add IP address to "${br.name}": ${errText(e)}`, e);
  }
  // The reference pins the bridge's MAC ("Otherwise, the bridge will take the lowest-numbered mac
  // on the bridge, and will change as ifs churn").
  if (br.mac) await host.links.setMac(br.index, br.mac).catch((e) => { throw internal(`could not set bridge's mac: ${errText(e)}`, e); });
  return true;
}

async function waitPortUp(host: Netns, index: number): Promise<void> {
  // The reference waits 0, 50, 500, 1000, 1000 ms; the port is usually up within a millisecond, so
  // the first waits here are shorter, with the same total patience.
  const retries = [0, 1, 2, 5, 10, 30, 500, 1000, 1000];
  for (const [i, ms] of retries.entries()) {
    if (ms) await new Promise((r) => setTimeout(r, ms));
    const l = await host.links.get(index);
    if (l.operState === 'UP') return;
    if (i === retries.length - 1) throw internal(`bridge port in error state: ${l.operState}`);
  }
}

/**
 * ADD. Unlike the reference, a failure after the veth was made removes the veth too (the library's
 * rule: nothing half-made), besides releasing the addresses.
 */
export async function bridgeAdd(conf: NetConf, rt: CniRuntime): Promise<CniResult> {
  const inv = await invocation(rt);
  try {
    const c = loadBridgeConf(conf, inv.args);
    if (c.hairpinMode && c.promiscMode) throw internal('cannot set hairpin mode and promiscuous mode at the same time.');
    // Writes whose order does not matter (sysctls of the host side) run alongside the rest.
    const pending: Promise<unknown>[] = [];
    const br = await ensureBridge(inv.host, c, pending);
    // The bridge's addresses are read now, while the rest goes on, for the gateway step (ensureAddr):
    // nothing in between changes them, and another ADD adding the same gateway meanwhile is EEXIST there.
    const brAddrs = c.isLayer3 && c.isGateway ? inv.host.addresses.list({ dev: br.index }) : undefined;
    brAddrs?.catch(() => undefined);
    const cont = await openContainer(inv.netns);
    // IPAM's reads (configuration, the store locked and read) go while the veth is made; its
    // writes wait for the veth, so a failed veth leaves the store as the reference leaves it.
    const ipamPrep = c.isLayer3 ? ipamPrepareAdd(conf, inv) : undefined;
    ipamPrep?.catch(() => undefined);
    let vethMade = false;
    let ipamMade = false;
    let masqMade = false;
    try {
      const veth = await setupVeth(inv, cont, br, c);
      vethMade = true;
      const hostIf = veth.host;
      if (c.hairpinMode) await setHairpin(inv.host, hostIf.index, true).catch((e) => { throw internal(`failed to setup hairpin mode for ${hostIf.name}: ${errText(e)}`, e); });
      pending.push(inv.host.sysctl.set(`net/ipv6/conf/${hostIf.name}/accept_ra`, '0').catch(() => undefined));
      // The container's sysctls go while the addresses are allocated.
      const contSysctls = containerSysctls(cont, inv.ifName, c);
      const result: CniResult = {
        cniVersion: '1.1.0',
        interfaces: [
          { name: br.name, mac: br.mac },
          { name: hostIf.name, mac: hostIf.mac },
          { name: inv.ifName, mac: veth.contMac, sandbox: inv.netns },
        ] as CniInterface[],
      };
      if (c.isLayer3) {
        const r = await ipamPrep!.then((p) => p.commit()).finally(() => contSysctls.catch(() => undefined));
        ipamMade = true;
        // Key order as the reference prints them: interface, address, gateway.
        result.ips = (r.ips ?? []).map(({ version: _v, interface: _i, ...rest }) => ({ interface: 2, ...rest }));
        result.routes = r.routes ?? [];
        if (result.ips.length === 0) throw internal('IPAM plugin returned missing IP config');
        const gws = calcGateways(result, c);
        await contSysctls;
        await configureIface(cont, veth.contIndex, inv.ifName, result);
        await waitPortUp(inv.host, hostIf.index);
        if (c.isGateway) {
          let listed = brAddrs;
          for (const g of gws) {
            for (const gw of g.gws) {
              const changed = await ensureAddr(inv.host, br, gw, c.forceAddress, listed).catch((e) => { throw e instanceof CniError && e.msg.startsWith('failed') ? e : internal(`failed to set bridge addr: ${errText(e)}`, e); });
              if (changed) listed = undefined;
            }
            if (g.gws.length > 0) {
              const key = g.family === 4 ? 'net/ipv4/ip_forward' : 'net/ipv6/conf/all/forwarding';
              pending.push(inv.host.sysctl.set(key, '1').catch((e) => { throw internal(`failed to enable forwarding: ${errText(e)}`, e); }));
            }
          }
        }
        if (c.ipMasq) {
          masqMade = true;
          await masqueradeAdd(inv.host, conf.name as string, inv.containerId, result.ips.map((i) => parseNet(i.address)!));
        }
      } else {
        await cont.links.setUp(veth.contIndex).catch((e) => { throw internal(`failed to set "${inv.ifName}" up: ${errText(e)}`, e); });
      }
      await Promise.all(pending);
      // With a gateway address the bridge's MAC was pinned (ensureAddr); otherwise it follows its
      // ports and is read again, as the reference does.
      if (!(c.isLayer3 && c.isGateway)) {
        const brNow = await inv.host.links.get(br.index).catch((e) => { throw internal(`could not lookup "${c.bridge}": ${errText(e)}`, e); });
        result.interfaces![0].mac = brNow.mac;
      }
      result.dns = conf.dns ?? {};
      return result;
    } catch (e) {
      // Unlocks the store when the allocation never ran (a no-op after it ran).
      await ipamPrep?.then((p) => p.abort(), () => undefined);
      await Promise.allSettled(pending);
      if (masqMade) await masqueradeDel(inv.host, conf.name as string, inv.containerId).catch(() => undefined);
      if (ipamMade) await ipamDel(conf, inv).catch(() => undefined);
      if (vethMade) await cont.links.delete(inv.ifName, { ifExists: true }).catch(() => undefined);
      throw e;
    } finally {
      await cont.close();
    }
  } finally {
    await release(inv);
  }
}

/** DEL: idempotent: a missing namespace or interface is success; addresses and NAT rules are released either way. */
export async function bridgeDel(conf: NetConf, rt: CniRuntime): Promise<void> {
  const inv = await invocation(rt);
  try {
    const c = loadBridgeConf(conf, inv.args);
    if (inv.netns) {
      let cont: Netns | undefined;
      try {
        cont = await Netns.open(inv.netns);
      } catch (e) {
        if (!isNotFound(e)) throw internal(`failed to open netns "${inv.netns}": ${errText(e)}`, e);
      }
      if (cont) {
        try {
          await cont.links.delete(inv.ifName, { ifExists: true }).catch((e) => { throw internal(`failed to delete "${inv.ifName}": ${errText(e)}`, e); });
        } finally {
          await cont.close();
        }
      }
    }
    if (c.isLayer3) await ipamDel(conf, inv);
    // Rules are found by the container id, not by the link's addresses, so they go even when the
    // namespace is already gone (the reference leaves its iptables chain behind then).
    if (c.isLayer3 && c.ipMasq) await masqueradeDel(inv.host, conf.name as string, inv.containerId);
  } finally {
    await release(inv);
  }
}

/** CHECK: the interfaces, addresses and routes of prevResult are all still there. */
export async function bridgeCheck(conf: NetConf, rt: CniRuntime): Promise<void> {
  const inv = await invocation(rt);
  try {
    const c = loadBridgeConf(conf, inv.args);
    const prev = conf.prevResult;
    if (!prev) throw internal('Required prevResult missing');
    if (c.isLayer3) await ipamCheck(conf, inv);
    const ifs = prev.interfaces ?? [];
    const contIf = ifs.find((i) => i.sandbox !== undefined && i.sandbox !== '' && i.name === inv.ifName);
    const brIf = ifs.find((i) => i.name === c.bridge && !i.sandbox);
    if (!contIf) throw internal(`Sandbox interface "${inv.ifName}" not found in prevResult`);
    if (!brIf) throw internal(`bridge "${c.bridge}" not found in prevResult`);
    const br = await inv.host.links.find(c.bridge);
    if (!br) throw internal(`Error: Link not found "${c.bridge}"`);
    if (br.kind !== 'bridge') throw internal(`Error: Container interface ${c.bridge} not of type bridge`);
    const cont = await openContainer(inv.netns);
    try {
      const link = await cont.links.find(inv.ifName);
      if (!link) throw internal(`Error: Link not found "${inv.ifName}"`);
      if (link.kind !== 'veth') throw internal(`Error: Container interface ${inv.ifName} not of type veth`);
      if (contIf.mac && link.mac !== contIf.mac) throw internal(`Interface ${inv.ifName} Mac ${contIf.mac} doesn't match container Mac: ${link.mac}`);
      const hostIfs = ifs.filter((i) => !i.sandbox && i !== brIf);
      const hostLinks = (await inv.host.links.list()).filter((l) => l.master === br.index && l.index === link.peerIndex);
      if (hostLinks.length === 0 || !hostIfs.some((h) => h.name === hostLinks[0].name)) {
        throw internal(`CNI veth not found: no port of "${c.bridge}" is the peer of "${inv.ifName}"`);
      }
      const index = ifs.indexOf(contIf);
      const addrs = await cont.addresses.list({ dev: link.index });
      for (const ip of prev.ips ?? []) {
        if (ip.interface !== undefined && ip.interface !== index) continue;
        const want = parseNet(ip.address)!;
        if (!addrs.some((a) => a.family === want.family && a.prefixLength === want.prefix && parseAddr(a.address)?.value === want.value)) {
          throw internal(`Failed to match addr ${ip.address} on interface ${inv.ifName}`);
        }
      }
      const routes = await cont.routes.list();
      for (const r of prev.routes ?? []) {
        const dst = parseNet(r.dst)!;
        const found = routes.some((x) => {
          const xd = x.destination === 'default' ? (dst.family === 4 ? '0.0.0.0/0' : '::/0') : x.destination;
          const xn = parseNet(xd.includes('/') ? xd : `${xd}/${dst.family === 4 ? 32 : 128}`);
          return !!xn && xn.family === dst.family && xn.prefix === dst.prefix && xn.value === dst.value && (!r.gw || parseAddr(x.gateway)?.value === parseAddr(r.gw)?.value);
        });
        if (!found) throw internal(`Failed to match route ${r.dst} via ${r.gw ?? '<nil>'} in container ${inv.netns}`);
      }
    } finally {
      await cont.close();
    }
  } finally {
    await release(inv);
  }
}

/** Run a network-wide command (GC, STATUS) with the configuration loaded. */
async function forNetwork(conf: NetConf, rt: Omit<CniRuntime, 'containerId' | 'ifName'>, fn: (c: BridgeConf, inv: Invocation) => Promise<void>): Promise<void> {
  const inv = await invocation({ ...rt, containerId: '', ifName: '' });
  try {
    await fn(loadBridgeConf(conf, inv.args), inv);
  } finally {
    await release(inv);
  }
}

/** GC (spec 1.1.0): addresses and NAT rules of attachments not in `cni.dev/attachments` go. */
export async function bridgeGc(conf: NetConf, rt: Omit<CniRuntime, 'containerId' | 'ifName'>): Promise<void> {
  await forNetwork(conf, rt, async (c, inv) => {
    if (c.isLayer3) await ipamGc(conf, inv);
    const attachments = (conf['cni.dev/attachments'] ?? []) as { containerID: string }[];
    await masqueradeGc(inv.host, conf.name as string, attachments.map((a) => a.containerID));
  });
}

/** STATUS (spec 1.1.0): ready when the IPAM can still allocate. */
export async function bridgeStatus(conf: NetConf, rt: Omit<CniRuntime, 'containerId' | 'ifName'>): Promise<void> {
  await forNetwork(conf, rt, async (c, inv) => {
    if (c.isLayer3) await ipamStatus(conf, inv);
  });
}

/**
 * `netns-native doctor NS`: the tutorial's "Troubleshooting Namespace Issues" checklist, run by a
 * machine. Each check reads the kernel through the library (no process is spawned); traffic checks
 * (the nameserver query, the target's TCP connect) use sockets opened inside the namespace.
 * @module
 */
import { Netns } from '../api/netns/index.js';
import type { Link } from '../api/link/view.js';
import type { Route } from '../api/route/view.js';
import type { ResolvConf } from '../process/dns.js';
import { parseIp } from '../validate/ip.js';
import { ValidationError } from '../errors.js';
import { checkKeys } from '../validate/options.js';
import { validateNetnsName } from '../validate/names.js';
import { ping, type PingResult } from '../observe/ping.js';
import { isSourceNat, ruleText } from '../format/nat.js';

/** The ids of the checks, in the order they run. */
export const CHECK_IDS = ['exists', 'lo-up', 'links-up', 'addresses', 'default-route', 'gateway', 'peer', 'mtu', 'forwarding', 'nat', 'dns-config', 'dns', 'target'] as const;
export type CheckId = (typeof CHECK_IDS)[number];

/**
 * One verdict. `ok` is `null` when the check did not apply or could not run because a check it
 * depends on failed (the detail says which): only the root cause fails, so a link that is down is
 * reported as `links-up`, not also as the routes the kernel removed with it.
 */
export interface Check {
  id: CheckId;
  ok: boolean | null;
  /** What was seen. */
  detail: string;
  /** What to do about it (empty when ok). */
  hint: string;
}

/** What `doctor` returns (and `--json` prints). */
export interface DoctorReport {
  namespace: string;
  checks: Check[];
}

/** Options of {@link doctor}. */
export interface DoctorOptions {
  /** `IP` or `IP:PORT` (`[IPv6]:PORT`): route lookup, ping, and a TCP connect when a port is given. */
  target?: string;
  /** A name to resolve with one UDP query to the namespace's first nameserver. */
  dns?: string;
  /** How long a probe waits for an answer, in ms (default 2000). */
  timeoutMs?: number;
}

/** RFC 1918, RFC 6598 (CGNAT) and loopback/link-local: next hops behind which NAT is not needed. */
function isPrivateV4(ip: string): boolean {
  const [a, b] = ip.split('.').map(Number) as [number, number];
  return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254);
}

/** Split `IP`, `IP:PORT` or `[IPv6]:PORT`, validated. */
export function parseTarget(s: string): { ip: string; port?: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? (/^([^:]+):(\d+)$/.exec(s) as RegExpExecArray | null);
  const ip = m ? m[1]! : s;
  parseIp(ip, 'target');
  if (!m) return { ip };
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ValidationError('target port', m[2], 'must be 1..65535');
  return { ip, port };
}

/** A DNS query (RFC 1035 4.1) for the A record of `name`, with id `id`. */
export function dnsQuery(name: string, id: number): Buffer {
  const labels = name.replace(/\.$/, '').split('.');
  if (labels.some((l) => l.length === 0 || l.length > 63)) throw new ValidationError('dns name', name, 'must be a domain name');
  const header = Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD, QDCOUNT 1
  const q = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])), Buffer.from([0, 0, 1, 0, 1])]); // QTYPE A, QCLASS IN
  return Buffer.concat([header, q]);
}

/** RCODE names of RFC 1035 4.1.1. */
const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

/** Everything read once from the namespace. */
interface Seen {
  ns: Netns;
  links: Link[];
  routes: Route[];
  addrsByDev: Map<string, string[]>;
}

/**
 * Run the troubleshooting checklist against a named namespace.
 *
 * Equivalent to: the tutorial's `ip netns exec NS ip link/addr/route show`, `ping <gateway>`,
 * `cat /etc/resolv.conf`, `nslookup NAME` and `nc -vz IP PORT`, with a verdict for each.
 * @example
 * ```ts
 * const { checks } = await doctor('container1', { dns: 'example.test', target: '203.0.113.10:80' });
 * for (const c of checks) if (c.ok === false) console.log(c.id, c.detail, c.hint);
 * ```
 */
export async function doctor(name: string, opts: DoctorOptions = {}): Promise<DoctorReport> {
  validateNetnsName(name);
  checkKeys('', opts, ['target', 'dns', 'timeoutMs']);
  if (opts.timeoutMs !== undefined && !(typeof opts.timeoutMs === 'number' && opts.timeoutMs > 0 && opts.timeoutMs <= 3_600_000)) throw new ValidationError('timeoutMs', opts.timeoutMs, 'must be a number of milliseconds, > 0 and <= 3600000');
  if (opts.target !== undefined && typeof opts.target !== 'string') throw new ValidationError('target', opts.target, 'must be a string (IP or IP:PORT)');
  if (opts.dns !== undefined && typeof opts.dns !== 'string') throw new ValidationError('dns', opts.dns, 'must be a host name');
  const target = opts.target === undefined ? undefined : parseTarget(opts.target);
  if (opts.dns !== undefined) dnsQuery(opts.dns, 0);
  const timeoutMs = opts.timeoutMs ?? 2000;
  const checks: Check[] = [];
  const add = (id: CheckId, ok: boolean | null, detail: string, hint = ''): Check => {
    const c = { id, ok, detail, hint: ok === false ? hint : '' };
    checks.push(c);
    return c;
  };
  const skip = (id: CheckId, because: string) => add(id, null, `skipped: ${because}`);
  const entry = (await Netns.list()).find((e) => e.name === name);
  if (!entry || !entry.identity) {
    add('exists', false, entry ? `/run/netns/${name} is pinned but is not a namespace any more (stale pin)` : `no namespace ${name} under /run/netns`, entry ? `ip netns delete ${name}` : `ip netns add ${name}, or check the name with: netns-native ls`);
    for (const id of CHECK_IDS.slice(1)) skip(id, 'the namespace does not exist');
    return { namespace: name, checks };
  }
  const ns = await Netns.open(name);
  try {
    add('exists', true, `pinned at /run/netns/${name}, inode ${entry.identity.ino}`);
    const [links, addrs, routes] = await Promise.all([ns.links.list(), ns.addresses.list(), ns.routes.list()]);
    const addrsByDev = new Map<string, string[]>();
    for (const a of addrs) if (a.dev) addrsByDev.set(a.dev, [...(addrsByDev.get(a.dev) ?? []), a.cidr]);
    const seen: Seen = { ns, links, routes, addrsByDev };
    const byIndex = new Map(links.map((l) => [l.index, l]));

    const lo = links.find((l) => l.name === 'lo');
    add('lo-up', lo?.up ?? false, lo ? `lo is ${lo.up ? 'UP' : 'DOWN'}` : 'no lo', `ip -n ${name} link set lo up`);

    const peers = await peerStates(seen);
    const others = links.filter((l) => l.name !== 'lo');
    // A veth without carrier because its peer is down is the peer's fault: reported by `peer`.
    const notUp = others.filter((l) => !l.up || (!l.lowerUp && !(l.kind === 'veth' && peers.get(l.index)?.up === false)));
    const linksUp = add(
      'links-up',
      notUp.length === 0,
      others.length === 0 ? 'no links but lo' : notUp.length ? notUp.map((l) => `${l.name} ${l.up ? 'UP, NO-CARRIER' : 'DOWN'}`).join('; ') : others.map((l) => `${l.name} UP`).join(', '),
      notUp.map((l) => (l.up ? `${l.name} has no carrier: check what it is attached to` : `ip -n ${name} link set ${l.name} up`)).join('; '),
    );

    const global = others.filter((l) => (addrsByDev.get(l.name) ?? []).some((c) => !c.startsWith('fe80:')) && l.master === undefined);
    add('addresses', global.length > 0, global.length ? global.map((l) => `${l.name} ${addrsByDev.get(l.name)!.join(' ')}`).join('; ') : 'no address on any link but lo', `ip -n ${name} addr add CIDR dev LINK`);

    const defaults = routes.filter((r) => r.destination === 'default');
    let defaultOk: boolean | null = null;
    if (!linksUp.ok) skip('default-route', 'links-up failed (the kernel removes the routes of a link that is down)');
    else defaultOk = add('default-route', defaults.length > 0, defaults.length ? defaults.map((r) => `default${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}`).join('; ') : `no default route (${routes.length} routes)`, `ip -n ${name} route add default via GATEWAY`).ok;

    const peerBad = [...peers.values()].filter((p) => !p.ok);
    const gw = defaults.find((r) => r.gateway)?.gateway;
    if (!defaultOk) skip('gateway', 'no default route');
    else if (!gw) add('gateway', true, 'the default route has no gateway (a device route)');
    else if (peerBad.length) skip('gateway', 'peer failed');
    else await pingCheck(add, ns, 'gateway', gw, timeoutMs, `the gateway ${gw} does not answer: is the address configured on the other end, is that end up? ip -n ${name} neigh show ${gw}`);

    const veths = [...peers.values()];
    add('peer', peerBad.length === 0, veths.length ? veths.map((p) => p.detail).join('; ') : 'no veth links', peerBad.map((p) => p.hint).join('; '));

    const mtuBad: string[] = [];
    const mtuSeen: string[] = [];
    for (const p of veths) {
      const l = byIndex.get(p.index)!;
      if (p.mtu === undefined) continue;
      mtuSeen.push(`${l.name} ${l.mtu} / peer ${p.mtu}`);
      if (p.mtu !== l.mtu) mtuBad.push(`${l.name} has mtu ${l.mtu}, its peer ${p.where} has ${p.mtu}`);
    }
    for (const port of links.filter((l) => l.master !== undefined)) {
      const br = byIndex.get(port.master!);
      if (!br) continue;
      mtuSeen.push(`${port.name} ${port.mtu} / ${br.name} ${br.mtu}`);
      if (br.mtu !== port.mtu) mtuBad.push(`${port.name} has mtu ${port.mtu}, its bridge ${br.name} ${br.mtu}`);
    }
    if (peerBad.some((p) => p.mtu === undefined && p.exists === false)) skip('mtu', 'peer failed');
    else add('mtu', mtuBad.length === 0, mtuBad.length ? mtuBad.join('; ') : mtuSeen.length ? mtuSeen.join('; ') : 'no veth or bridge port', mtuBad.length ? `make both ends agree: ip -n NS link set LINK mtu N` : '');

    // A namespace routes between links when at least two of them carry addresses (bridge ports excluded).
    const forward = await ns.sysctl.get('net.ipv4.ip_forward').then((v) => v.trim() === '1');
    if (global.length < 2) add('forwarding', true, `not a router (${global.length} addressed link${global.length === 1 ? '' : 's'}); ip_forward ${forward ? 1 : 0}`);
    else add('forwarding', forward, `routes between ${global.map((l) => l.name).join(' and ')}; net.ipv4.ip_forward = ${forward ? 1 : 0}`, `ip netns exec ${name} sysctl -w net.ipv4.ip_forward=1`);

    if (!(forward && global.length >= 2 && gw && gw.includes('.') && !isPrivateV4(gw))) {
      add('nat', true, gw && forward && global.length >= 2 ? `next hop ${gw} is private: no NAT needed` : 'does not forward to a public next hop: no NAT needed');
    } else {
      // Any source NAT in any table: this library's, nft's, or iptables-nft's (its MASQUERADE/SNAT targets).
      const tables = await ns.firewall.ruleset();
      const nat = tables.flatMap((t) => t.chains.flatMap((c) => c.rules.filter((r) => isSourceNat(r.action)).map((r) => `${t.family} ${t.name} ${c.name}: ${ruleText(r)}`)));
      add('nat', nat.length > 0, nat.length ? `forwards to the public next hop ${gw}; source NAT: ${nat.join('; ')}` : `forwards to the public next hop ${gw} without any masquerade or SNAT rule: replies to private sources cannot come back`, `iptables -t nat -A POSTROUTING -s LAN/PREFIX -o ${defaults[0]?.dev ?? 'WAN'} -j MASQUERADE (netns-native: a nat: entry in a topology, ns.firewall.masquerade)`);
    }

    const conf = await ns.dns.get();
    const nameserver = dnsConfigCheck(add, name, conf);

    // Traffic checks only run on a path the checks above found sound: their failure would only
    // repeat the root cause (a link down also times out every query).
    const broken = checks.find((k) => k.ok === false && ['links-up', 'default-route', 'gateway', 'peer'].includes(k.id));
    if (opts.dns === undefined) skip('dns', 'no --dns NAME given');
    else if (!nameserver) skip('dns', 'dns-config failed');
    else if (broken) skip('dns', `${broken.id} failed`);
    else await dnsCheck(add, ns, nameserver, opts.dns, timeoutMs);

    if (!target) skip('target', 'no --target given');
    else if (broken) skip('target', `${broken.id} failed`);
    else await targetCheck(add, ns, name, target, timeoutMs);
  } finally {
    await ns.close();
  }
  return { namespace: name, checks };
}

type Add = (id: CheckId, ok: boolean | null, detail: string, hint?: string) => Check;

/** A veth's other end, as {@link peerStates} found it. */
export interface PeerState {
  index: number;
  /** The peer's name, when it was found. */
  name?: string;
  ok: boolean;
  exists: boolean;
  up?: boolean;
  mtu?: number;
  where: string;
  detail: string;
  hint: string;
}

/** Each veth's other end: which namespace holds it, whether it exists and is up, its MTU. */
export async function peerStates(seen: Pick<Seen, 'ns' | 'links'>): Promise<Map<number, PeerState>> {
  const out = new Map<number, PeerState>();
  const veths = seen.links.filter((l) => l.kind === 'veth');
  if (veths.length === 0) return out;
  const ids = veths.some((l) => l.linkNetnsid !== undefined) ? await seen.ns.nsids.list() : [];
  const self = seen.ns.name ?? 'this namespace';
  for (const l of veths) {
    const peerIndex = l.peerIndex ?? l.linkIndex;
    let where = self;
    let peer: Link | undefined;
    if (l.linkNetnsid === undefined) {
      peer = seen.links.find((p) => p.index === peerIndex);
    } else {
      const nsName = ids.find((e) => e.nsid === l.linkNetnsid)?.name;
      where = nsName ?? `an unnamed namespace (nsid ${l.linkNetnsid})`;
      if (nsName) {
        const other = await Netns.open(nsName);
        try {
          peer = peerIndex === undefined ? undefined : await other.links.find(peerIndex);
        } finally {
          await other.close();
        }
      } else {
        // The peer lives in a namespace with no name: it exists (the kernel reports its nsid) but
        // cannot be opened by name. Carrier on this end tells whether it is up.
        out.set(l.index, { index: l.index, ok: l.lowerUp, exists: true, where, detail: `${l.name}: peer in ${where}, ${l.lowerUp ? 'up' : 'down'}`, hint: `bring the peer up in the namespace that holds it` });
        continue;
      }
    }
    if (!peer && peerIndex === 0 && l.linkNetnsid === undefined) {
      out.set(l.index, { index: l.index, ok: false, exists: false, where, detail: `${l.name}: its peer is gone`, hint: `delete ${l.name} and create the pair again` });
    } else if (!peer) {
      out.set(l.index, { index: l.index, ok: false, exists: false, where, detail: `${l.name}: peer index ${peerIndex} not found in ${where}`, hint: `create the pair again` });
    } else {
      const state: PeerState = { index: l.index, name: peer.name, ok: peer.up, exists: true, up: peer.up, where, detail: `${l.name} <-> ${peer.name} in ${where}, ${peer.up ? 'UP' : 'DOWN'}`, hint: `ip -n ${where} link set ${peer.name} up` };
      if (peer.mtu !== undefined) state.mtu = peer.mtu;
      out.set(l.index, state);
    }
  }
  return out;
}

/** `dns-config`: the namespace's own resolv.conf; returns the first nameserver when there is one. */
function dnsConfigCheck(add: Add, name: string, conf: ResolvConf | undefined): string | undefined {
  if (!conf) {
    add('dns-config', false, `no /etc/netns/${name}/resolv.conf: processes started in ${name} read the host's /etc/resolv.conf, whose nameservers are addresses of the host's network`, `mkdir -p /etc/netns/${name} && echo 'nameserver IP' > /etc/netns/${name}/resolv.conf (netns-native: ns.dns.set)`);
    return undefined;
  }
  if (conf.nameservers.length === 0) {
    add('dns-config', false, `/etc/netns/${name}/resolv.conf lists no nameserver`, `add a 'nameserver IP' line`);
    return undefined;
  }
  add('dns-config', true, `/etc/netns/${name}/resolv.conf: nameserver ${conf.nameservers.join(', ')}`);
  return conf.nameservers[0];
}

/** `dns`: one UDP query from inside the namespace to the first nameserver, answered in time. */
async function dnsCheck(add: Add, ns: Netns, server: string, name: string, timeoutMs: number): Promise<void> {
  const v6 = server.includes(':');
  const id = (Math.random() * 0xffff) | 0;
  const sock = await ns.createUdpSocket({ type: v6 ? 'udp6' : 'udp4' });
  try {
    const t0 = performance.now();
    const answer = await new Promise<Buffer | Error | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      sock.on('message', (msg, rinfo) => {
        if (rinfo.address === server && msg.length >= 12 && msg.readUInt16BE(0) === id) {
          clearTimeout(timer);
          resolve(msg);
        }
      });
      sock.on('error', (e) => {
        clearTimeout(timer);
        resolve(e);
      });
      sock.send(dnsQuery(name, id), 53, server);
    });
    const ms = (performance.now() - t0).toFixed(1);
    if (answer === undefined) add('dns', false, `no answer from ${server}:53 for ${name} within ${timeoutMs} ms`, `is the nameserver reachable from the namespace? netns-native doctor NS --target ${server}:53`);
    else if (answer instanceof Error) add('dns', false, `query to ${server}:53 failed: ${answer.message}`, `check the route to ${server}`);
    else {
      const rcode = answer[3]! & 0x0f;
      const count = answer.readUInt16BE(6);
      add('dns', rcode === 0 && count > 0, `${server} answered ${RCODES[rcode] ?? `rcode ${rcode}`} with ${count} answer${count === 1 ? '' : 's'} in ${ms} ms`, rcode === 3 ? `${name} does not exist for this nameserver` : `the nameserver answers but not with an address for ${name}`);
    }
  } finally {
    sock.close();
  }
}

/** A ping check: a few echo requests from inside the namespace (lib/observe/ping.ts); any reply passes. */
async function pingCheck(add: Add, ns: Netns, id: CheckId, ip: string, timeoutMs: number, hint: string): Promise<PingResult> {
  const r = await ping(ns, ip, { count: 3, intervalMs: 200, timeoutMs });
  const rtt = r.rtt ? `, rtt avg ${r.rtt.avg.toFixed(2)} ms` : '';
  const errors = r.errors.length ? `; ${r.errors[0]!.message}` : '';
  add(id, r.received > 0, `ping ${ip}: ${r.transmitted} sent, ${r.received} received${rtt}${errors}`, hint);
  return r;
}

/** `target`: route lookup, ping, and a TCP connect when a port is given. */
async function targetCheck(add: Add, ns: Netns, name: string, target: { ip: string; port?: number }, timeoutMs: number): Promise<void> {
  let route: Route;
  try {
    route = await ns.routes.get(target.ip);
  } catch (e) {
    add('target', false, `no route to ${target.ip}: ${(e as Error).message}`, `ip -n ${name} route add ${target.ip} via GATEWAY (or a default route)`);
    return;
  }
  const via = `${route.gateway ? `via ${route.gateway} ` : ''}dev ${route.dev}${route.source ? ` src ${route.source}` : ''}`;
  const echo = await ping(ns, target.ip, { count: 3, intervalMs: 200, timeoutMs });
  const pinged = `ping ${echo.received}/${echo.transmitted}${echo.rtt ? ` (avg ${echo.rtt.avg.toFixed(2)} ms)` : ''}`;
  if (target.port === undefined) {
    add('target', echo.received > 0, `route ${via}; ${pinged}`, `no echo reply from ${target.ip}: check the path (forwarding, return route, NAT, firewall)`);
    return;
  }
  const t0 = performance.now();
  let result: string | undefined;
  try {
    (await ns.connect({ host: target.ip, port: target.port, connectTimeout: timeoutMs })).destroy();
  } catch (e) {
    result = (e as { code?: string }).code ?? (e as Error).message;
  }
  const ms = (performance.now() - t0).toFixed(1);
  add('target', result === undefined, result === undefined ? `route ${via}; ${pinged}; TCP ${target.ip}:${target.port} connected in ${ms} ms` : `route ${via}; ${pinged}; TCP ${target.ip}:${target.port}: ${result}`, result === 'ECONNREFUSED' ? `nothing listens on ${target.ip}:${target.port}` : `check the path to ${target.ip} (firewall, return route, NAT)`);
}

/**
 * The topology file: its shape, and its validation. Everything a file says is checked here, before
 * any system call, so a typo or a dangling reference fails `plan`/`up` with nothing made.
 * @module
 */
import { ValidationError } from '../errors.js';
import { validateSpec, type LinkSpec } from '../api/link/spec.js';
import { checkRoute, type RouteSpec } from '../api/route/spec.js';
import { validateIfname, validateNetnsName } from '../validate/names.js';
import { parseCidr } from '../validate/ip.js';
import { formatIp } from '../netlink/wire_formats.js';
import { formatSysctlValue, parseSysctlKey } from '../validate/sysctl.js';
import { validateBoolean } from '../validate/link.js';
import { formatResolvConf, type DnsConfig } from '../process/dns.js';
import { parseRate, parseSize, parseTime } from '../validate/units.js';
import type { ShapeOptions } from '../api/tc/index.js';
import { compileDnat, compileMasquerade, compileSnat, type DnatSpec, type MasqueradeSpec, type SnatSpec } from '../api/firewall/spec.js';

/** A veth's other end in a topology file: `netns` names a namespace of the file. */
export interface TopologyPeer {
  name: string;
  netns?: string;
  mtu?: number;
  mac?: string;
  txqueuelen?: number;
  up?: boolean;
}

/**
 * A link of a topology file: a {@link LinkSpec} whose namespace references (`peer.netns`) are the
 * names of namespaces declared in the same file.
 */
export type TopologyLink = Omit<LinkSpec, 'peer' | 'netns'> & { peer?: TopologyPeer };

/** One namespace of a topology file. */
export interface TopologyNamespace {
  /** Bring `lo` up (`ip -n NS link set lo up`); default true, as every tutorial namespace does. */
  loopback?: boolean;
  /** Links created in this namespace, in order (a bridge before its ports). */
  links?: TopologyLink[];
  /** Addresses by link name: `{ br0: ['10.0.2.1/24'] }`. */
  addresses?: Record<string, string[]>;
  /** Routes, as {@link RouteSpec} (`{ destination: 'default', gateway: '10.0.2.1' }`). */
  routes?: RouteSpec[];
  /** `net.*` sysctls set inside the namespace: `{ 'net.ipv4.ip_forward': 1 }`. */
  sysctls?: Record<string, string | number>;
  /** /etc/netns/NS/resolv.conf. */
  dns?: DnsConfig;
  /** Bandwidth limits by link name, as `ns.tc.shape` takes them: `{ eth0: { egress: '10mbit' } }`. */
  tc?: Record<string, ShapeOptions>;
  /**
   * NAT rules, in the library's nf_tables table: `[{ masquerade: { source: '10.0.10.0/24',
   * outInterface: 'wan0' } }]`. Each is found again by its comment (default `topology nat[N]`).
   */
  nat?: TopologyNat[];
}

/** One NAT rule of a topology file. */
export type TopologyNat = { masquerade: MasqueradeSpec } | { snat: SnatSpec } | { dnat: DnatSpec };

/** The comment that identifies NAT rule `i` of a namespace (the rule's own comment when it has one). */
export function natKey(rule: TopologyNat, i: number): string {
  const spec = Object.values(rule)[0] as { comment?: string };
  return spec.comment ?? `topology nat[${i}]`;
}

/** A whole topology file. */
export interface TopologyFile {
  /** Free text shown by `plan`. */
  description?: string;
  /** Namespaces by name, created in this order. */
  namespaces: Record<string, TopologyNamespace>;
}

const FILE_KEYS = ['description', 'namespaces'];
const NS_KEYS = ['loopback', 'links', 'addresses', 'routes', 'sysctls', 'dns', 'tc', 'nat'];
const TC_KEYS = ['egress', 'ingress', 'burst', 'latency'];
const DNS_KEYS = ['nameservers', 'search', 'options'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function keysOf(field: string, v: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (!isObject(v)) throw new ValidationError(field, v, 'must be a mapping');
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) throw new ValidationError(`${field}.${k}`, v[k], `is not a key here (known: ${allowed.join(', ')})`);
  }
  return v;
}

function arrayOf(field: string, v: unknown): unknown[] {
  if (!Array.isArray(v)) throw new ValidationError(field, v, 'must be a list');
  return v;
}

/**
 * A stand-in handle used only to run the library's own link validator on a file's link before the
 * namespaces it names exist; it is never passed to a system call.
 */
const VALIDATION_ONLY_HANDLE = { fd: 0 };

/** An address as the kernel will print it (`10.0.2.1/24`, IPv6 compressed), to compare with reads. */
export function canonicalCidr(s: string, field = 'address'): string {
  const c = parseCidr(s, field);
  return `${formatIp(c.bytes)}/${c.prefixLength}`;
}

/**
 * Check a parsed file: keys, names, every link/route/sysctl/DNS value through the library's own
 * validators, and references (a peer's namespace, an address's link, a master) to things the file
 * declares. Throws {@link ValidationError} naming the path of the bad value (`namespaces.host.links[1].mtu`).
 */
export function validateTopology(doc: unknown): TopologyFile {
  const top = keysOf('topology', doc, FILE_KEYS);
  if (top.description !== undefined && typeof top.description !== 'string') throw new ValidationError('description', top.description, 'must be a string');
  const nss = keysOf('namespaces', top.namespaces ?? {}, Object.keys(isObject(top.namespaces) ? top.namespaces : {}));
  const names = Object.keys(nss);
  if (names.length === 0) throw new ValidationError('namespaces', top.namespaces, 'must declare at least one namespace');
  // Links each namespace will hold once the file is applied: its own and the veth peers born in it.
  const declared = new Map<string, Set<string>>(names.map((n) => [n, new Set(['lo'])]));
  const pending: (() => void)[] = [];
  for (const name of names) {
    validateNetnsName(name, `namespaces.${name}`);
    const at = `namespaces.${name}`;
    const ns = keysOf(at, nss[name] ?? {}, NS_KEYS);
    if (ns.loopback !== undefined) validateBoolean(`${at}.loopback`, ns.loopback);
    const own = declared.get(name)!;
    arrayOf(`${at}.links`, ns.links ?? []).forEach((raw, i) => {
      const f = `${at}.links[${i}]`;
      const link = keysOf(f, raw, Object.keys(isObject(raw) ? raw : {})) as TopologyLink & { netns?: unknown };
      if (link.netns !== undefined) throw new ValidationError(`${f}.netns`, link.netns, 'is not a key here: declare the link under the namespace it lives in');
      const peer = link.peer;
      const spec = { ...link } as LinkSpec;
      if (isObject(peer)) {
        if (peer.netns !== undefined && (typeof peer.netns !== 'string' || !declared.has(peer.netns))) {
          throw new ValidationError(`${f}.peer.netns`, peer.netns, `must name a namespace of this file (${names.join(', ')})`);
        }
        const { netns, ...rest } = peer;
        (spec as { peer: unknown }).peer = netns === undefined ? rest : { ...rest, netns: VALIDATION_ONLY_HANDLE };
      }
      try {
        validateSpec(spec);
      } catch (e) {
        if (e instanceof ValidationError) throw new ValidationError(f, raw, e.message);
        throw e;
      }
      if (own.has(link.name)) throw new ValidationError(`${f}.name`, link.name, `is declared twice in namespace ${name}`);
      own.add(link.name);
      if (isObject(peer)) {
        const where = declared.get(peer.netns ?? name)!;
        if (where.has(peer.name)) throw new ValidationError(`${f}.peer.name`, peer.name, `is declared twice in namespace ${peer.netns ?? name}`);
        where.add(peer.name);
      }
      if (link.master !== undefined) {
        const master = link.master;
        pending.push(() => {
          if (typeof master === 'string' && !own.has(master)) throw new ValidationError(`${f}.master`, master, `is not a link declared in namespace ${name}`);
        });
      }
    });
    const addrs = keysOf(`${at}.addresses`, ns.addresses ?? {}, Object.keys(isObject(ns.addresses) ? ns.addresses : {}));
    for (const [dev, list] of Object.entries(addrs)) {
      validateIfname(dev, `${at}.addresses key`);
      arrayOf(`${at}.addresses.${dev}`, list).forEach((c, i) => canonicalCidr(c as string, `${at}.addresses.${dev}[${i}]`));
      pending.push(() => {
        if (!own.has(dev)) throw new ValidationError(`${at}.addresses.${dev}`, dev, `is not a link of namespace ${name} (declared: ${[...own].join(', ')})`);
      });
    }
    arrayOf(`${at}.routes`, ns.routes ?? []).forEach((r, i) => {
      try {
        checkRoute(r as RouteSpec, 'modify');
      } catch (e) {
        if (e instanceof ValidationError) throw new ValidationError(`${at}.routes[${i}]`, r, e.message);
        throw e;
      }
      const dev = (r as RouteSpec).dev;
      if (typeof dev === 'string') {
        pending.push(() => {
          if (!own.has(dev)) throw new ValidationError(`${at}.routes[${i}].dev`, dev, `is not a link of namespace ${name}`);
        });
      }
    });
    const sysctls = keysOf(`${at}.sysctls`, ns.sysctls ?? {}, Object.keys(isObject(ns.sysctls) ? ns.sysctls : {}));
    for (const [k, v] of Object.entries(sysctls)) {
      parseSysctlKey(k, `${at}.sysctls key`);
      formatSysctlValue(v, `${at}.sysctls.${k}`);
    }
    if (ns.dns !== undefined) {
      keysOf(`${at}.dns`, ns.dns, DNS_KEYS);
      formatResolvConf(ns.dns as unknown as DnsConfig, name);
    }
    const tc = keysOf(`${at}.tc`, ns.tc ?? {}, Object.keys(isObject(ns.tc) ? ns.tc : {}));
    for (const [dev, shape] of Object.entries(tc)) {
      const f = `${at}.tc.${dev}`;
      const o = keysOf(f, shape, TC_KEYS);
      if (o.egress === undefined && o.ingress === undefined) throw new ValidationError(f, shape, 'needs egress, ingress or both');
      if (o.egress !== undefined) parseRate(`${f}.egress`, o.egress);
      if (o.ingress !== undefined) parseRate(`${f}.ingress`, o.ingress);
      if (o.burst !== undefined) parseSize(`${f}.burst`, o.burst);
      if (o.latency !== undefined) parseTime(`${f}.latency`, o.latency);
      pending.push(() => {
        if (!own.has(dev)) throw new ValidationError(f, dev, `is not a link of namespace ${name}`);
      });
    }
    arrayOf(`${at}.nat`, ns.nat ?? []).forEach((rule, i) => {
      const f = `${at}.nat[${i}]`;
      const r = keysOf(f, rule, ['masquerade', 'snat', 'dnat']);
      const kinds = Object.keys(r);
      if (kinds.length !== 1) throw new ValidationError(f, rule, 'must have exactly one of masquerade, snat, dnat');
      try {
        if (r.masquerade !== undefined) compileMasquerade(r.masquerade as MasqueradeSpec);
        if (r.snat !== undefined) compileSnat(r.snat as SnatSpec);
        if (r.dnat !== undefined) compileDnat(r.dnat as DnatSpec);
      } catch (e) {
        if (e instanceof ValidationError) throw new ValidationError(f, rule, e.message);
        throw e;
      }
    });
  }
  for (const check of pending) check();
  return top as unknown as TopologyFile;
}

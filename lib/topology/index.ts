/**
 * Declarative topologies: a YAML or JSON file of namespaces, links, addresses, routes, sysctls and
 * DNS, compared with what the kernel holds (`plan`), applied idempotently with rollback (`up`) and
 * removed (`down`). What `netns-native up/down/plan FILE` runs.
 * @module
 */
import { access, readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Netns } from '../api/netns/index.js';
import { NetnsError, RequestAbortedError, ValidationError, fromNodeError, isNotFound } from '../errors.js';
import { abortSignal, checkKeys } from '../validate/options.js';
import { validateNetnsName } from '../validate/names.js';
import { Dns, NETNS_ETC_DIR } from '../process/dns.js';
import type { NsContext } from '../api/context.js';
import type { LinkSpec } from '../api/link/spec.js';
import type { RouteSpec } from '../api/route/spec.js';
import type { Link } from '../api/link/view.js';
import type { Route } from '../api/route/view.js';
import { parseRoutePrefix } from '../validate/ip.js';
import { formatIp } from '../netlink/wire_formats.js';
import { formatSysctlValue } from '../validate/sysctl.js';
import { canonicalCidr, natKey, validateTopology, type TopologyFile, type TopologyLink } from './spec.js';
import { ingressIfbName } from '../api/tc/index.js';
import { DEFAULT_TABLE } from '../api/firewall/index.js';
import { parseRate } from '../validate/units.js';

export type { TopologyFile, TopologyLink, TopologyNamespace, TopologyPeer, TopologyNat } from './spec.js';

/** What a step of a plan does: `create`/`change` are made by `up`, `delete` by `down`, `none` is already so. */
export type PlanAction = 'create' | 'change' | 'delete' | 'none';

/** One line of a plan: an `ip`-style command and whether it has to run. */
export interface PlanStep {
  action: PlanAction;
  /** What the step is about: namespace, link, link-up, address, route, sysctl, dns. */
  kind: 'namespace' | 'link' | 'link-up' | 'link-set' | 'address' | 'route' | 'sysctl' | 'dns' | 'tc' | 'nat';
  /** The real namespace name. */
  namespace: string;
  /** The command it stands for (`ip -n host addr add 10.0.2.1/24 dev br0`). */
  command: string;
  /** For `change`: what the kernel holds now. */
  current?: string;
}

/** Options of {@link Topology.load} and {@link Topology.from}. */
export interface TopologyOptions {
  /**
   * Real name of the namespace a file calls `name` (default: the same). Tests and parallel runs
   * prefix them so that two applications of one file never collide.
   */
  rename?: (name: string) => string;
}

/** Options of {@link Topology.up} and {@link Topology.down}. */
export interface ApplyOptions {
  /** Called after each step that changed something, with its duration in milliseconds. */
  onStep?: (step: PlanStep, ms: number) => void;
  /**
   * Stop between steps when it fires. `up` then undoes what this run made, as after a failed step,
   * and throws a {@link TopologyError} with code 'ABORT_ERR'; `down` stops where it is (what it
   * deleted stays deleted) and rejects with 'ABORT_ERR'. Already aborted: nothing is done.
   */
  signal?: AbortSignal;
}

/** The error for an apply stopped by its signal. */
function aborted(signal: AbortSignal, what: string): RequestAbortedError {
  return new RequestAbortedError('ABORT_ERR', what, 'aborted', signal.reason);
}

/** What {@link Topology.up} and {@link Topology.down} did. */
export interface ApplyResult {
  /** The steps that changed something, in order (empty: nothing to do, nothing done). */
  changed: PlanStep[];
  /** Steps already as declared. */
  unchanged: number;
}

/** A failed `up`: what failed, and that what this run had made was rolled back. */
export class TopologyError extends NetnsError {
  /** The step that failed. */
  readonly step: PlanStep;
  /** Undo steps that themselves failed (empty when the machine is as before). */
  readonly rollbackFailures: unknown[];
  constructor(step: PlanStep, cause: unknown, rollbackFailures: unknown[]) {
    const why = cause instanceof Error ? cause.message : String(cause);
    const tail = rollbackFailures.length ? `; rollback incomplete (${rollbackFailures.length} undo steps failed)` : '; everything this run made was rolled back';
    super(`${step.command}: ${why}${tail}`, { code: cause instanceof NetnsError ? cause.code : 'ERR_TOPOLOGY', operation: step.command, cause });
    this.name = 'TopologyError';
    this.step = step;
    this.rollbackFailures = rollbackFailures;
  }
}

type Undo = () => Promise<unknown>;

/** A step with what makes it and what unmakes it. */
interface Action extends PlanStep {
  /** The file's name of the namespace the step acts in. */
  role: string;
  /** Make the step; returns how to undo it. */
  run(h: Handles): Promise<Undo | undefined>;
  /** The undo must run even when the namespace is deleted (files under /etc/netns outlive it). */
  outlivesNamespace?: boolean;
}

/** What one namespace holds now, read once per plan. */
interface NsState {
  links: Map<string, Link>;
  addresses: Set<string>;
  routes: Route[];
}

/** Open handles by the file's namespace names, opened (or created) as a run needs them. */
class Handles {
  private readonly byRole = new Map<string, Netns>();
  constructor(private readonly real: (role: string) => string) {}
  async get(role: string): Promise<Netns> {
    let ns = this.byRole.get(role);
    if (!ns) {
      ns = await Netns.open(this.real(role));
      this.byRole.set(role, ns);
    }
    return ns;
  }
  set(role: string, ns: Netns): void {
    this.byRole.set(role, ns);
  }
  forget(role: string): void {
    const ns = this.byRole.get(role);
    this.byRole.delete(role);
    void ns?.close().catch(() => undefined);
  }
  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.byRole.values()].map((ns) => ns.close()));
    this.byRole.clear();
  }
}

function hostRoute(dst: string): string {
  const p = parseRoutePrefix(dst, 'destination');
  if (p.prefixLength === 0) return 'default';
  const addr = formatIp(p.bytes);
  return p.prefixLength === p.bytes.length * 8 ? addr : `${addr}/${p.prefixLength}`;
}

function routeLabel(r: RouteSpec): string {
  return [r.destination, r.gateway ? `via ${r.gateway}` : '', r.dev ? `dev ${r.dev}` : ''].filter(Boolean).join(' ');
}

function sameDns(a: { nameservers: readonly string[]; search?: readonly string[]; options?: readonly string[] }, b: { nameservers: string[]; search: string[]; options: string[] }): boolean {
  const eq = (x: readonly string[] = [], y: readonly string[] = []) => x.length === y.length && x.every((v, i) => v === y[i]);
  return eq(a.nameservers, b.nameservers) && eq(a.search, b.search) && eq(a.options, b.options);
}

/**
 * A declarative topology: namespaces with their links (veth, bridge, any kind `links.add` takes),
 * addresses, routes, sysctls and DNS, as a YAML or JSON file describes them.
 *
 * @example
 * ```ts
 * import { Topology } from 'netns-native';
 * const topo = await Topology.load('examples/container.yaml');
 * console.log(await topo.plan());      // what up would do
 * await topo.up();                     // make it (again: nothing to do)
 * await topo.down();                   // remove exactly what the file declares
 * ```
 */
export class Topology {
  private constructor(
    /** The validated file. */
    readonly file: TopologyFile,
    private readonly real: (name: string) => string,
  ) {}

  /**
   * Read and validate a topology file: `.json` is JSON, anything else YAML (1.2: `yes` stays a string).
   *
   * Equivalent to: reading the script of `ip netns add` / `ip link add` / `ip addr add` ... commands.
   * @example
   * ```ts
   * const topo = await Topology.load('examples/router.yaml', { rename: (n) => `lab-${n}` });
   * ```
   * @throws {@link ValidationError} for a malformed file or value, naming where it is.
   */
  static async load(path: string, opts: TopologyOptions = {}): Promise<Topology> {
    if (typeof path !== 'string' || path === '' || path.includes('\0')) throw new ValidationError('path', path, 'must be a file name (no NUL bytes)');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      throw fromNodeError(e, `read topology ${path}`, path);
    }
    return Topology.parse(text, extname(path) === '.json' ? 'json' : 'yaml', opts);
  }

  /**
   * A topology from text.
   *
   * Equivalent to: a script of `ip` commands.
   * @example
   * ```ts
   * const topo = Topology.parse('namespaces: { blue: {} }', 'yaml');
   * ```
   */
  static parse(text: string, format: 'yaml' | 'json', opts: TopologyOptions = {}): Topology {
    if (typeof text !== 'string') throw new ValidationError('topology', text, 'must be the text of a YAML or JSON file');
    if (format !== 'yaml' && format !== 'json') throw new ValidationError('format', format, "must be 'yaml' or 'json'");
    let doc: unknown;
    try {
      doc = format === 'json' ? JSON.parse(text) : parseYaml(text, { uniqueKeys: true });
    } catch (e) {
      throw new ValidationError('topology', format, `is not valid ${format.toUpperCase()}: ${(e as Error).message}`);
    }
    return Topology.from(doc, opts);
  }

  /**
   * A topology from an object of the file's shape ({@link TopologyFile}).
   *
   * Equivalent to: a script of `ip` commands.
   * @example
   * ```ts
   * const topo = Topology.from({ namespaces: { blue: {} } });
   * ```
   */
  static from(doc: unknown, opts: TopologyOptions = {}): Topology {
    checkKeys('', opts, ['rename']);
    if (opts.rename !== undefined && typeof opts.rename !== 'function') throw new ValidationError('rename', opts.rename, 'must be a function (name in the file) => real name');
    const file = validateTopology(doc);
    const rename = opts.rename ?? ((n: string) => n);
    const seen = new Set<string>();
    for (const n of Object.keys(file.namespaces)) {
      const r = validateNetnsName(rename(n), `rename(${n})`);
      if (seen.has(r)) throw new ValidationError('rename', r, 'gives two namespaces the same name');
      seen.add(r);
    }
    return new Topology(file, rename);
  }

  /** The real names of the file's namespaces, in the file's order. */
  get namespaces(): string[] {
    return Object.keys(this.file.namespaces).map(this.real);
  }

  /** The real name of the namespace the file calls `role`. */
  nameOf(role: string): string {
    if (!(role in this.file.namespaces)) throw new ValidationError('namespace', role, 'is not declared in this topology');
    return this.real(role);
  }

  /**
   * Compare the file with the kernel: every step `up` would take, each marked `none` when the kernel
   * already holds it.
   *
   * Equivalent to: `ip netns list; ip -n NS -j link/addr/route show; sysctl ...` compared by hand.
   * @example
   * ```ts
   * for (const s of await topo.plan()) if (s.action !== 'none') console.log(s.command);
   * ```
   */
  async plan(): Promise<PlanStep[]> {
    const handles = new Handles(this.real);
    try {
      return (await this.actions(handles)).map(({ action, kind, namespace, command, current }) => (current === undefined ? { action, kind, namespace, command } : { action, kind, namespace, command, current }));
    } finally {
      await handles.closeAll();
    }
  }

  /**
   * Make the kernel hold what the file declares. Steps already done are skipped (a second `up`
   * changes nothing and returns `changed: []`). When a step fails, everything this run made is
   * undone in reverse order (namespaces it created are deleted, sysctls it changed are set back)
   * and a {@link TopologyError} is thrown: the machine is as it was before the call.
   *
   * Equivalent to: the `ip netns add`, `ip link add`, `ip addr add`, `ip route add`, `sysctl -w` and
   * resolv.conf commands of the file, skipping those already done.
   * @example
   * ```ts
   * const { changed } = await topo.up({ onStep: (s, ms) => console.error(s.command, ms) });
   * ```
   */
  async up(opts: ApplyOptions = {}): Promise<ApplyResult> {
    const signal = abortSignal(opts.signal);
    if (signal?.aborted) throw aborted(signal, 'topology up');
    const handles = new Handles(this.real);
    const undos: UndoRecord[] = [];
    const created = new Set<string>();
    const changed: PlanStep[] = [];
    let unchanged = 0;
    try {
      for (const a of await this.actions(handles)) {
        if (a.action === 'none') {
          unchanged++;
          continue;
        }
        if (signal?.aborted) throw new TopologyError(publicStep(a), aborted(signal, a.command), await rollback(undos, created));
        const t0 = performance.now();
        let undo: Undo | undefined;
        try {
          undo = await a.run(handles);
        } catch (e) {
          throw new TopologyError(publicStep(a), e, await rollback(undos, created));
        }
        if (a.kind === 'namespace') created.add(a.role);
        if (undo) undos.push({ role: a.role, kind: a.kind, undo, outlives: a.outlivesNamespace ?? false });
        changed.push(publicStep(a));
        opts.onStep?.(publicStep(a), performance.now() - t0);
      }
      return { changed, unchanged };
    } finally {
      await handles.closeAll();
    }
  }

  /**
   * Remove exactly what the file declares: its namespaces (and with them everything inside) and the
   * DNS files it wrote. Namespaces already gone are skipped; a second `down` changes nothing.
   *
   * Equivalent to: `ip netns delete NS` and `rm /etc/netns/NS/resolv.conf` for each declared namespace.
   * @example
   * ```ts
   * const { changed } = await topo.down();
   * ```
   */
  async down(opts: ApplyOptions = {}): Promise<ApplyResult> {
    const signal = abortSignal(opts.signal);
    const changed: PlanStep[] = [];
    let unchanged = 0;
    for (const step of await this.downPlan()) {
      if (step.action === 'none') {
        unchanged++;
        continue;
      }
      if (signal?.aborted) throw aborted(signal, step.command);
      const t0 = performance.now();
      if (step.kind === 'dns') {
        // The namespace may be gone already: the file under /etc/netns needs only its name.
        await new Dns({ name: step.namespace } as NsContext).clear(); // Dns reads only the handle's name
      } else {
        await Netns.delete(step.namespace, { ifExists: true });
      }
      changed.push(step);
      opts.onStep?.(step, performance.now() - t0);
    }
    return { changed, unchanged };
  }

  /**
   * What {@link down} would remove: each declared namespace (and DNS file) marked `delete` when it
   * exists, `none` when it is already gone.
   *
   * Equivalent to: `ip netns list` compared with the file.
   * @example
   * ```ts
   * const steps = await topo.downPlan();
   * ```
   */
  async downPlan(): Promise<PlanStep[]> {
    const pinned = new Set((await Netns.list()).map((e) => e.name));
    const steps: PlanStep[] = [];
    for (const role of Object.keys(this.file.namespaces).reverse()) {
      const name = this.real(role);
      const ns = this.file.namespaces[role]!;
      if (ns.dns) {
        const present = await access(`${NETNS_ETC_DIR}/${name}/resolv.conf`).then(() => true, () => false);
        steps.push({ action: present ? 'delete' : 'none', kind: 'dns', namespace: name, command: `rm /etc/netns/${name}/resolv.conf` });
      }
      steps.push({ action: pinned.has(name) ? 'delete' : 'none', kind: 'namespace', namespace: name, command: `ip netns delete ${name}` });
    }
    return steps;
  }

  /** Every step of `up`, with the kernel's current state decided. */
  private async actions(handles: Handles): Promise<Action[]> {
    const pinned = new Set((await Netns.list()).filter((e) => e.identity).map((e) => e.name));
    const roles = Object.keys(this.file.namespaces);
    const states = new Map<string, NsState | undefined>();
    await Promise.all(
      roles.map(async (role) => {
        if (!pinned.has(this.real(role))) return states.set(role, undefined);
        const ns = await handles.get(role);
        const [links, addrs, routes] = await Promise.all([ns.links.list(), ns.addresses.list(), ns.routes.list()]);
        states.set(role, {
          links: new Map(links.map((l) => [l.name, l])),
          addresses: new Set(addrs.map((a) => `${a.dev}\0${canonicalCidr(a.cidr)}`)),
          routes,
        });
      }),
    );
    const out: Action[] = [];
    const label = (role: string) => this.real(role);
    const step = (role: string, kind: PlanStep['kind'], present: boolean | 'change', command: string, run: Action['run'], extra: Partial<Action> = {}): void => {
      out.push({ role, kind, namespace: label(role), command, action: present === 'change' ? 'change' : present ? 'none' : 'create', run, ...extra });
    };
    for (const role of roles) {
      step(role, 'namespace', states.get(role) !== undefined, `ip netns add ${label(role)}`, async (h) => {
        const ns = await Netns.create(label(role));
        h.set(role, ns);
        return async () => {
          h.forget(role);
          await Netns.delete(label(role), { ifExists: true });
        };
      });
    }
    // Links first everywhere (a veth's peer lands in another namespace), then their up state.
    const upSteps: (() => void)[] = [];
    for (const role of roles) {
      const spec = this.file.namespaces[role]!;
      const st = states.get(role);
      const n = label(role);
      for (const link of spec.links ?? []) {
        const have = st?.links.get(link.name);
        if (have && have.kind !== link.kind) {
          throw new ValidationError(`namespaces.${role}.links`, link.name, `exists in ${n} as a ${have.kind ?? 'device'} link, the file declares a ${link.kind}`);
        }
        step(role, 'link', have !== undefined, `ip -n ${n} link add ${link.name}${link.master ? ` master ${link.master}` : ''}${link.up ? ' up' : ''} type ${link.kind}${link.peer ? ` peer name ${link.peer.name}${link.peer.netns ? ` netns ${label(link.peer.netns)}` : ''}` : ''}`, async (h) => {
          const ns = await h.get(role);
          await ns.links.add(await this.linkSpec(link, h));
          return () => ns.links.delete(link.name, { ifExists: true });
        });
        if (have) this.linkChanges(out, role, link, have);
        if (link.up) upSteps.push(() => this.upStep(out, role, link.name, have, link.up === true && !have, st?.addresses));
        if (link.peer?.up) {
          const peerRole = link.peer.netns ?? role;
          const peerHave = states.get(peerRole)?.links.get(link.peer.name);
          upSteps.push(() => this.upStep(out, peerRole, link.peer!.name, peerHave, false, states.get(peerRole)?.addresses));
        }
      }
      if (spec.loopback ?? true) upSteps.unshift(() => this.upStep(out, role, 'lo', st?.links.get('lo'), false, st?.addresses));
    }
    for (const u of upSteps) u();
    for (const role of roles) {
      const spec = this.file.namespaces[role]!;
      const st = states.get(role);
      const n = label(role);
      for (const [dev, list] of Object.entries(spec.addresses ?? {})) {
        for (const cidr of list) {
          const c = canonicalCidr(cidr);
          step(role, 'address', st?.addresses.has(`${dev}\0${c}`) ?? false, `ip -n ${n} addr add ${c} dev ${dev}`, async (h) => {
            const ns = await h.get(role);
            await ns.addresses.add(dev, c);
            return () => ns.addresses.delete(dev, c, { ifExists: true });
          });
        }
      }
    }
    for (const role of roles) {
      const spec = this.file.namespaces[role]!;
      const st = states.get(role);
      const n = label(role);
      for (const r of spec.routes ?? []) {
        const dst = hostRoute(r.destination);
        const present = st?.routes.some((k) => k.destination === dst && (r.gateway === undefined || k.gateway === r.gateway) && (r.dev === undefined || k.dev === r.dev)) ?? false;
        step(role, 'route', present, `ip -n ${n} route add ${routeLabel(r)}`, async (h) => {
          const ns = await h.get(role);
          await ns.routes.add(r);
          return () => ns.routes.delete(r, { ifExists: true });
        });
      }
    }
    for (const role of roles) {
      const spec = this.file.namespaces[role]!;
      const exists = states.get(role) !== undefined;
      const n = label(role);
      for (const [key, value] of Object.entries(spec.sysctls ?? {})) {
        const want = formatSysctlValue(value);
        const now = exists ? (await (await handles.get(role)).sysctl.get(key)).trim() : undefined;
        const same = now !== undefined && now.split(/\s+/).join(' ') === want.split(/\s+/).join(' ');
        step(role, 'sysctl', same ? true : now === undefined ? false : 'change', `ip netns exec ${n} sysctl -w ${key}=${want}`, async (h) => {
          const ns = await h.get(role);
          const before = await ns.sysctl.get(key);
          await ns.sysctl.set(key, value);
          return () => ns.sysctl.set(key, before.trim());
        }, now === undefined || same ? {} : { current: now });
      }
      if (spec.dns) {
        const dns = spec.dns;
        const now = exists ? await (await handles.get(role)).dns.get() : undefined;
        const same = now !== undefined && sameDns(dns, now);
        step(role, 'dns', same ? true : now === undefined ? false : 'change', `echo 'nameserver ${dns.nameservers.join(' ')}' > /etc/netns/${n}/resolv.conf`, async (h) => {
          const ns = await h.get(role);
          const before = await ns.dns.get();
          await ns.dns.set(dns);
          return () => (before ? ns.dns.set(before) : ns.dns.clear());
        }, { outlivesNamespace: true });
      }
    }
    for (const role of roles) {
      const spec = this.file.namespaces[role]!;
      const exists = states.get(role) !== undefined;
      const n = label(role);
      for (const [dev, shape] of Object.entries(spec.tc ?? {})) {
        const now = exists ? await shapedAs(await handles.get(role), dev) : undefined;
        const want = { egress: shape.egress === undefined ? undefined : parseRate('egress', shape.egress), ingress: shape.ingress === undefined ? undefined : parseRate('ingress', shape.ingress) };
        const same = now !== undefined && now.egress === want.egress && now.ingress === want.ingress;
        const shaped = now !== undefined && (now.egress !== undefined || now.ingress !== undefined);
        const words = [shape.egress !== undefined ? `root tbf rate ${shape.egress}` : '', shape.ingress !== undefined ? `ingress ${shape.ingress} (ifb)` : ''].filter(Boolean).join(', ');
        step(role, 'tc', same ? true : shaped ? 'change' : false, `tc -n ${n} qdisc replace dev ${dev} ${words}`, async (h) => {
          const ns = await h.get(role);
          await ns.tc.shape(dev, shape);
          return () => ns.tc.clear(dev);
        }, shaped && !same ? { current: `egress ${now!.egress ?? '-'} B/s, ingress ${now!.ingress ?? '-'} B/s` } : {});
      }
      // The library's table before this run: a rule's undo removes the table too when the run made it.
      const tables = exists && spec.nat?.length ? await (await handles.get(role)).firewall.ruleset() : [];
      const ours = tables.find((t) => t.family === 'inet' && t.name === DEFAULT_TABLE);
      const rules = ours ? ours.chains.flatMap((c) => c.rules) : [];
      const chainsBefore = new Set(ours?.chains.map((c) => c.name));
      (spec.nat ?? []).forEach((rule, i) => {
        const key = natKey(rule, i);
        const [kind, body] = Object.entries(rule)[0] as [string, Record<string, unknown>];
        const words = Object.entries(body).filter(([k]) => k !== 'comment').map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(',') : String(v)}`).join(' ');
        step(role, 'nat', rules.some((r) => r.comment === key), `nft -n ${n} add rule inet ${DEFAULT_TABLE} ${kind} ${words} comment "${key}"`, async (h) => {
          const ns = await h.get(role);
          const [made] = await ns.firewall.add([{ [kind]: { ...body, comment: key } } as never]);
          return async () => {
            await ns.firewall.delete(made!);
            // nft's `add rule` made the table and the chain if they were missing: remove what this run made.
            const left = (await ns.firewall.ruleset()).find((t) => t.family === 'inet' && t.name === DEFAULT_TABLE);
            if (left && !ours && left.chains.every((c) => c.rules.length === 0)) await ns.firewall.flush();
            else if (left && ours && left.chains.some((c) => !chainsBefore.has(c.name) && c.rules.length === 0)) {
              throw new NetnsError(`nft -n ${n}: chain(s) ${left.chains.filter((c) => !chainsBefore.has(c.name)).map((c) => c.name).join(', ')} made by this run were left in table ${DEFAULT_TABLE}`, { code: 'ERR_TOPOLOGY', operation: `nft delete chain inet ${DEFAULT_TABLE}` });
            }
          };
        });
      });
    }
    return out;
  }

  /** A file link's spec for `links.add`, its peer's namespace name replaced by a handle. */
  private async linkSpec(link: TopologyLink, h: Handles): Promise<LinkSpec> {
    if (!link.peer?.netns) return link as LinkSpec;
    return { ...link, peer: { ...link.peer, netns: await h.get(link.peer.netns) } } as LinkSpec;
  }

  /** MTU and master of an existing link that differ from the file: a `change` step each. */
  private linkChanges(out: Action[], role: string, link: TopologyLink, have: Link): void {
    const n = this.real(role);
    if (link.mtu !== undefined && have.mtu !== link.mtu) {
      const before = have.mtu;
      out.push({ role, kind: 'link-set', namespace: n, action: 'change', current: `mtu ${before}`, command: `ip -n ${n} link set ${link.name} mtu ${link.mtu}`, run: async (h) => {
        const ns = await h.get(role);
        await ns.links.setMtu(link.name, link.mtu!);
        return before === undefined ? undefined : () => ns.links.setMtu(link.name, before);
      } });
    }
  }

  /**
   * `ip link set DEV up` for a declared up link: `none` when it is up or is born up by its add step.
   * Undone (for a link that existed) by setting it down and removing the addresses the kernel gave
   * it on the way up: lo gets 127.0.0.1/8 and ::1, which setting it down again leaves in place.
   */
  private upStep(out: Action[], role: string, dev: string, have: Link | undefined, bornUp: boolean, before: ReadonlySet<string> = new Set()): void {
    const n = this.real(role);
    const done = bornUp || (have?.up ?? false);
    out.push({ role, kind: 'link-up', namespace: n, action: done ? 'none' : 'create', command: `ip -n ${n} link set ${dev} up`, run: async (h) => {
      const ns = await h.get(role);
      await ns.links.setUp(dev);
      if (!have) return undefined;
      return async () => {
        await ns.links.setDown(dev);
        for (const a of await ns.addresses.list({ dev })) {
          if (!before.has(`${dev}\0${canonicalCidr(a.cidr)}`)) await ns.addresses.delete(dev, a.cidr, { ifExists: true });
        }
      };
    } });
  }
}

/** The tbf rates (bytes/s) a link is shaped to now: its root qdisc, and the root of its ingress ifb. */
async function shapedAs(f: Netns, dev: string): Promise<{ egress?: number; ingress?: number }> {
  const rate = (qs: { root: boolean; kind: string; options?: unknown }[]) => {
    const q = qs.find((x) => x.root && x.kind === 'tbf');
    return q ? (q.options as { rate: number }).rate : undefined;
  };
  let qdiscs;
  try {
    qdiscs = await f.tc.qdiscs.list(dev);
  } catch (e) {
    if (isNotFound(e)) return {};
    throw e;
  }
  const out: { egress?: number; ingress?: number } = {};
  const egress = rate(qdiscs);
  if (egress !== undefined) out.egress = egress;
  const ifindex = qdiscs[0]?.ifindex;
  if (ifindex !== undefined) {
    try {
      const ingress = rate(await f.tc.qdiscs.list(ingressIfbName(ifindex)));
      if (ingress !== undefined) out.ingress = ingress;
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  return out;
}

function publicStep(a: Action): PlanStep {
  return a.current === undefined ? { action: a.action, kind: a.kind, namespace: a.namespace, command: a.command } : { action: a.action, kind: a.kind, namespace: a.namespace, command: a.command, current: a.current };
}

interface UndoRecord {
  role: string;
  kind: PlanStep['kind'];
  undo: Undo;
  outlives: boolean;
}

/**
 * Undo a failed run, newest first. Steps inside a namespace the run created go with the namespace
 * (deleted by its own undo), except those that outlive it (DNS files).
 */
async function rollback(undos: UndoRecord[], created: Set<string>): Promise<unknown[]> {
  const failures: unknown[] = [];
  for (const { role, kind, undo, outlives } of [...undos].reverse()) {
    if (created.has(role) && kind !== 'namespace' && !outlives) continue;
    try {
      await undo();
    } catch (e) {
      if (!isNotFound(e)) failures.push(e);
    }
  }
  return failures;
}

/**
 * The tutorial's topologies (seed "How to Use Network Namespaces for Pod Isolation"), built through
 * the library only: each is declared (the library's `Topology`, what `netns-native up` applies; blue
 * and red/green are examples/*.yaml themselves), except the tutorial's own way of joining red and
 * green, which moves links after creating them and so is a sequence of steps, not a declaration. The demo (examples/demo.ts) and the integration tests
 * (test/integration/tutorial_*.test.ts) share these builders, so what the demo shows is what the
 * tests check.
 *
 * Where the tutorial works in the machine's own namespace ("the host"), these builders use a
 * namespace that plays the host (role `host`): the machine's own namespace is never changed.
 * @module
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Netns, Topology as Declared, type TopologyFile } from '../lib/index.js';

/** examples/NAME, from the sources (tests) or from dist/examples (the built demo). */
function exampleFile(name: string): string {
  for (const rel of [`./${name}`, `../../examples/${name}`]) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error(`examples/${name} not found next to ${fileURLToPath(import.meta.url)}`);
}

/** Runs one step of a build, labelled with the `ip` command it replaces. The demo times each step. */
export type StepRunner = <T>(label: string, fn: () => Promise<T>, describe?: (value: T) => { result: string; ok: boolean }) => Promise<T>;

/** A {@link StepRunner} that just runs the step. */
export const untimed: StepRunner = (_label, fn) => fn();

/**
 * The namespaces of one build, by the role they play in the tutorial ('blue', 'red', 'host', ...).
 * Real names come from `nameOf(role)`, so several builds (a demo, parallel tests) never collide.
 */
export class Lab {
  private readonly byRole = new Map<string, Netns>();

  /**
   * @param naming the real name to give the namespace playing a role (called once per role).
   * @param step runs each step of a build (the demo times them).
   */
  constructor(private readonly naming: (role: string) => string, readonly step: StepRunner = untimed) {}

  /** Create the namespace playing `role` (`ip netns add ROLE`); it is remembered for {@link teardown}. */
  async create(role: string): Promise<Netns> {
    if (this.byRole.has(role)) throw new Error(`this lab already has a namespace playing ${role}`);
    const ns = await this.step(`ip netns add ${role}`, () => Netns.create(this.naming(role)));
    this.byRole.set(role, ns);
    return ns;
  }

  /**
   * Apply a declared topology (`netns-native up`, one timed step) and take its namespaces into the
   * lab: a YAML file of examples/ or an object of the same shape.
   */
  async declare(source: string | TopologyFile): Promise<void> {
    // `naming` is called once per role; the topology asks for a name as often as it needs it.
    const names = new Map<string, string>();
    const rename = (role: string): string => names.get(role) ?? names.set(role, this.naming(role)).get(role)!;
    const topo = typeof source === 'string' ? await Declared.load(exampleFile(source), { rename }) : Declared.from(source, { rename });
    const roles = Object.keys(topo.file.namespaces);
    const roleOf = (real: string): string => [...names].find(([, n]) => n === real)?.[0] ?? real;
    // Like create(): the lab makes its namespaces, it never takes over existing ones.
    const existing = new Set((await Netns.list()).map((e) => e.name));
    for (const role of roles) {
      if (this.byRole.has(role)) throw new Error(`this lab already has a namespace playing ${role}`);
      if (existing.has(topo.nameOf(role))) throw new Error(`namespace ${topo.nameOf(role)} exists already`);
    }
    // One step in the demo's report, with the commands it stands for (`Topology.up` makes them in order).
    await this.step(`netns-native up ${typeof source === 'string' ? `examples/${source}` : `{ ${roles.join(', ')} }`}`, () => topo.up(), (r) => ({
      result: `${r.changed.length} steps: ${r.changed.map((c) => c.command.split(' ').map(roleOf).join(' ')).join('; ')}`,
      ok: true,
    }));
    for (const role of roles) this.byRole.set(role, await Netns.open(topo.nameOf(role)));
  }

  /** The handle of the namespace playing `role`. */
  ns(role: string): Netns {
    const ns = this.byRole.get(role);
    if (!ns) throw new Error(`no namespace plays ${role} in this lab`);
    return ns;
  }

  /** The real name of the namespace playing `role` (what `ip netns list` shows). */
  name(role: string): string {
    return this.ns(role).name as string;
  }

  /** Roles created so far, in creation order. */
  roles(): string[] {
    return [...this.byRole.keys()];
  }

  /**
   * Delete every namespace of the lab (`ip netns delete`), also after a failed build; one already
   * gone is fine. Every deletion is attempted; the first failure is thrown at the end.
   */
  async teardown(): Promise<void> {
    let failure: unknown;
    for (const [role, ns] of [...this.byRole].reverse()) {
      try {
        await this.step(`ip netns delete ${role}`, () => ns.delete({ ifExists: true }));
      } catch (e) {
        failure ??= e;
      }
      this.byRole.delete(role);
    }
    if (failure !== undefined) throw failure;
  }
}

/**
 * A proof that traffic flows from the namespace playing `from` to the address `to`, which the
 * namespace playing `at` holds. The tests send a ping; the demo opens a TCP connection to a server
 * listening on `to` inside `at`.
 */
export interface Check {
  from: string;
  to: string;
  /** The role whose namespace holds `to` (where the demo's server listens). */
  at: string;
  /** What it shows, in the tutorial's words. */
  what: string;
}

/** One of the tutorial's topologies. */
export interface Topology {
  id: string;
  title: string;
  /**
   * Roles of the namespaces that make up the result (what the equivalence test compares). A build
   * may create others, such as the host the tutorial's way creates a veth pair in.
   */
  roles: string[];
  checks: Check[];
  build(lab: Lab): Promise<void>;
}

/** Bring `lo` up in a namespace (`ip -n ROLE link set lo up`). */
async function loUp(lab: Lab, role: string): Promise<void> {
  await lab.step(`ip -n ${role} link set lo up`, () => lab.ns(role).links.setUp('lo'));
}

/** Give a link of a namespace an address and bring it up, as the tutorial does after creating it. */
async function configure(lab: Lab, role: string, dev: string, cidr: string): Promise<void> {
  await lab.step(`ip -n ${role} addr add ${cidr} dev ${dev}`, () => lab.ns(role).addresses.add(dev, cidr));
  await lab.step(`ip -n ${role} link set ${dev} up`, () => lab.ns(role).links.setUp(dev));
}

/** `blue`: a fresh namespace with its loopback brought up (examples/blue.yaml). */
export const blue: Topology = {
  id: 'blue',
  title: 'blue: a namespace with loopback up',
  roles: ['blue'],
  checks: [{ from: 'blue', to: '127.0.0.1', at: 'blue', what: 'loopback inside blue' }],
  build: (lab) => lab.declare('blue.yaml'),
};

const RED_GREEN_CHECKS: Check[] = [
  { from: 'red', to: '10.0.1.2', at: 'green', what: 'red to green over the veth' },
  { from: 'green', to: '10.0.1.1', at: 'red', what: 'green to red over the veth' },
];

/** Addresses, up state and loopback of red and green, once each holds its end of the veth. */
async function configureRedGreen(lab: Lab): Promise<void> {
  await configure(lab, 'red', 'veth-red', '10.0.1.1/24');
  await loUp(lab, 'red');
  await configure(lab, 'green', 'veth-green', '10.0.1.2/24');
  await loUp(lab, 'green');
}

/**
 * `red` and `green` joined by a veth, the fast way: the pair is created inside red with its peer
 * born directly in green (one request, no move: what CNI plugins do); examples/red-green.yaml.
 */
export const redGreenDirect: Topology = {
  id: 'red-green-direct',
  title: 'red/green joined by a veth (peer created directly in green)',
  roles: ['red', 'green'],
  checks: RED_GREEN_CHECKS,
  build: (lab) => lab.declare('red-green.yaml'),
};

/**
 * `red` and `green` joined by a veth, the tutorial's way: the pair is created in a namespace that
 * plays the host, then each end is moved into its namespace.
 */
export const redGreenMoved: Topology = {
  id: 'red-green-moved',
  title: "red/green joined by a veth (the tutorial's way: created in host, both ends moved)",
  roles: ['red', 'green'],
  checks: RED_GREEN_CHECKS,
  async build(lab) {
    const host = await lab.create('host');
    const red = await lab.create('red');
    const green = await lab.create('green');
    await lab.step('ip -n host link add veth-red type veth peer name veth-green', () =>
      host.links.add({ kind: 'veth', name: 'veth-red', peer: { name: 'veth-green' } }));
    await lab.step('ip -n host link set veth-red netns red', () => host.links.moveTo('veth-red', red));
    await lab.step('ip -n host link set veth-green netns green', () => host.links.moveTo('veth-green', green));
    await configureRedGreen(lab);
  },
};

/**
 * `container1` behind a bridge: `br0` (10.0.2.1/24) in the namespace playing the host, `veth-host` a
 * port of br0, `veth-container` in container1 with 10.0.2.10/24 and a default route via the bridge.
 */
export const bridgedContainer: Topology = {
  id: 'container1',
  title: 'container1 behind bridge br0 in a namespace playing the host',
  roles: ['host', 'container1'],
  checks: [
    { from: 'container1', to: '10.0.2.1', at: 'host', what: 'container1 to its gateway (br0)' },
    { from: 'host', to: '10.0.2.10', at: 'container1', what: 'host to container1 through br0' },
  ],
  build: (lab) =>
    lab.declare({
      namespaces: {
        host: {
          links: [
            { kind: 'bridge', name: 'br0', up: true },
            { kind: 'veth', name: 'veth-host', master: 'br0', up: true, peer: { name: 'veth-container', netns: 'container1', up: true } },
          ],
          addresses: { br0: ['10.0.2.1/24'] },
        },
        container1: {
          addresses: { 'veth-container': ['10.0.2.10/24'] },
          routes: [{ destination: 'default', gateway: '10.0.2.1' }],
        },
      },
    }),
};

/**
 * The tutorial's name for the host end of the "limited" veth, `veth-limited-host`, is 17 bytes: the
 * kernel allows 15, so `ip` and the library both refuse it. This shorter name stands in for it.
 */
export const LIMITED_HOST_END = 'veth-lim-host';

/**
 * The "limited" namespace's links and addresses: a veth to the namespace playing the host,
 * 10.0.3.10/24 inside, 10.0.3.1/24 on the host end ({@link LIMITED_HOST_END}). The tutorial's
 * `tc qdisc ... tbf` bandwidth limit is applied and measured on top of it by ./bandwidth.ts.
 */
export const limited: Topology = {
  id: 'limited',
  title: 'limited: a veth to the host (its tc bandwidth limit: see the bandwidth section)',
  roles: ['host', 'limited'],
  checks: [
    { from: 'limited', to: '10.0.3.1', at: 'host', what: 'limited to the host end' },
    { from: 'host', to: '10.0.3.10', at: 'limited', what: 'host to limited' },
  ],
  // examples/limited.yaml without its tc key: the demo and the tests shape it themselves.
  build: (lab) =>
    lab.declare({
      namespaces: {
        host: {
          links: [{ kind: 'veth', name: LIMITED_HOST_END, up: true, peer: { name: 'veth-limited', netns: 'limited', up: true } }],
          addresses: { [LIMITED_HOST_END]: ['10.0.3.1/24'] },
        },
        limited: { addresses: { 'veth-limited': ['10.0.3.10/24'] } },
      },
    }),
};

/**
 * The pod-isolation topologies, in the tutorial's order: what the equivalence test compares with the
 * tutorial's own commands. The router scenario ({@link router}) is not among them: its tutorial
 * commands also enable forwarding and NAT, which only make sense in a whole scenario.
 */
export const TOPOLOGIES: readonly Topology[] = [blue, redGreenDirect, redGreenMoved, bridgedContainer, limited];

/**
 * The router's WAN, numbered from a documentation range (RFC 5737) where the tutorial uses
 * 192.168.1.0/24: the WAN host {@link WAN_HOST}, the router's WAN end {@link ROUTER_WAN}.
 */
export const WAN_HOST = '203.0.113.1';
export const ROUTER_WAN = '203.0.113.2';

/**
 * The tutorial's "Namespace Routing and Policies", every host a namespace: `router` with a WAN side
 * (`veth-wan-ns`, {@link ROUTER_WAN}/24) and a LAN side (`veth-lan-ns`, 10.0.10.254/24) and a default
 * route via the WAN host; `wan` (`veth-wan`, {@link WAN_HOST}/24) plays the tutorial's host on the WAN
 * side; `lan` (`veth-lan`, 10.0.10.1/24) a LAN host whose default route goes through the router. The
 * WAN host routes the LAN back through the router, so forwarding alone connects them; the demo then
 * removes that route and shows the tutorial's MASQUERADE instead (examples/router.yaml declares the
 * NAT version). Forwarding is left as the new namespace has it: switch it with
 * `lab.ns('router').sysctl.set('net.ipv4.ip_forward', 1)` ({@link ROUTED} then holds).
 */
export const router: Topology = {
  id: 'router',
  title: 'router: a router namespace between a LAN host and a WAN host (Namespace Routing and Policies)',
  roles: ['router', 'wan', 'lan'],
  checks: [
    { from: 'lan', to: '10.0.10.254', at: 'router', what: 'lan host to the router (LAN side)' },
    { from: 'wan', to: ROUTER_WAN, at: 'router', what: 'wan host to the router (WAN side)' },
  ],
  build: (lab) =>
    lab.declare({
      namespaces: {
        router: {
          links: [
            { kind: 'veth', name: 'veth-wan-ns', up: true, peer: { name: 'veth-wan', netns: 'wan', up: true } },
            { kind: 'veth', name: 'veth-lan-ns', up: true, peer: { name: 'veth-lan', netns: 'lan', up: true } },
          ],
          addresses: { 'veth-wan-ns': [`${ROUTER_WAN}/24`], 'veth-lan-ns': ['10.0.10.254/24'] },
          routes: [{ destination: 'default', gateway: WAN_HOST }],
        },
        wan: {
          addresses: { 'veth-wan': [`${WAN_HOST}/24`] },
          // Instead of NAT: the demo removes it to show the masquerade.
          routes: [{ destination: '10.0.10.0/24', gateway: ROUTER_WAN }],
        },
        lan: {
          addresses: { 'veth-lan': ['10.0.10.1/24'] },
          routes: [{ destination: 'default', gateway: '10.0.10.254' }],
        },
      },
    }),
};

/** Through the router: what forwarding in {@link router} allows, and only it. */
export const ROUTED: Check = { from: 'lan', to: WAN_HOST, at: 'wan', what: 'lan host to the wan host through the router' };

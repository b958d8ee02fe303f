/**
 * The tutorial's own `ip` commands and the library's builders (examples/topologies.ts) make the same
 * thing: each topology is built twice, by `ip` in one set of namespaces and by the library in
 * another (same interface names, different namespace names), and the normalized `ip -j` views of
 * links, addresses and routes (tutorial_views.ts) must be equal.
 *
 * Adaptations of the tutorial, the same on both sides: its "host" is a test namespace (role `host`),
 * so `ip link ...` run on the host becomes `ip -n HOST link ...`, and that namespace's loopback is up
 * as a real host's is; `veth-limited-host` (17 bytes, refused by the kernel) is LIMITED_HOST_END.
 * Left out: sysctl ip_forward, iptables NAT and pinging 8.8.8.8 (they reach beyond the test
 * namespaces), and tc (a later issue).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITED_HOST_END, Lab, TOPOLOGIES, type Topology } from '../../examples/topologies.js';
import { nsName, run } from './helpers.js';
import { dadPending, ipView, type NsView, type RoleNames } from './tutorial_views.js';

/** The tutorial's commands per topology; `{role}` stands for the namespace playing that role. */
const RED_GREEN = `
  ip netns add {host}
  ip netns add {red}
  ip netns add {green}
  ip -n {host} link add veth-red type veth peer name veth-green
  ip -n {host} link set veth-red netns {red}
  ip -n {host} link set veth-green netns {green}
  ip netns exec {red} ip addr add 10.0.1.1/24 dev veth-red
  ip netns exec {green} ip addr add 10.0.1.2/24 dev veth-green
  ip netns exec {red} ip link set veth-red up
  ip netns exec {red} ip link set lo up
  ip netns exec {green} ip link set veth-green up
  ip netns exec {green} ip link set lo up`;

const SCRIPTS: Record<string, string> = {
  blue: `
  ip netns add {blue}
  ip netns exec {blue} ip link set lo up`,
  'red-green-direct': RED_GREEN,
  'red-green-moved': RED_GREEN,
  container1: `
  ip netns add {host}
  ip -n {host} link set lo up
  ip netns add {container1}
  ip -n {host} link add br0 type bridge
  ip -n {host} link set br0 up
  ip -n {host} addr add 10.0.2.1/24 dev br0
  ip -n {host} link add veth-container type veth peer name veth-host
  ip -n {host} link set veth-container netns {container1}
  ip -n {host} link set veth-host master br0
  ip -n {host} link set veth-host up
  ip netns exec {container1} ip addr add 10.0.2.10/24 dev veth-container
  ip netns exec {container1} ip link set veth-container up
  ip netns exec {container1} ip link set lo up
  ip netns exec {container1} ip route add default via 10.0.2.1`,
  limited: `
  ip netns add {host}
  ip -n {host} link set lo up
  ip netns add {limited}
  ip -n {host} link add veth-limited type veth peer name ${LIMITED_HOST_END}
  ip -n {host} link set veth-limited netns {limited}
  ip netns exec {limited} ip addr add 10.0.3.10/24 dev veth-limited
  ip netns exec {limited} ip link set veth-limited up
  ip netns exec {limited} ip link set lo up
  ip -n {host} addr add 10.0.3.1/24 dev ${LIMITED_HOST_END}
  ip -n {host} link set ${LIMITED_HOST_END} up`,
};

/** Run a script, naming each role's namespace on first use; returns the names. */
function runScript(script: string, tag: string): RoleNames {
  const names = new Map<string, string>();
  for (const line of script.trim().split('\n')) {
    const [cmd, ...args] = line.trim().split(/\s+/).map((word) =>
      word.replace(/^\{(\w+)\}$/, (_m, role: string) => names.get(role) ?? names.set(role, nsName(`${tag}-${role}`)).get(role)!));
    run(cmd, args);
  }
  return names;
}

interface Pair {
  byIp: RoleNames;
  byLibrary: RoleNames;
}

const pairs = new Map<string, Pair>();
const labs: Lab[] = [];

function everyNamespace(): string[] {
  return [...pairs.values()].flatMap((p) => [...p.byIp.values(), ...p.byLibrary.values()]);
}

beforeAll(async () => {
  for (const t of TOPOLOGIES) {
    const byIp = runScript(SCRIPTS[t.id], 'ip');
    const lab = new Lab((role) => nsName(`lib-${role}`));
    labs.push(lab);
    await t.build(lab);
    pairs.set(t.id, { byIp, byLibrary: new Map(lab.roles().map((r) => [r, lab.name(r)])) });
  }
  // Compare settled states: IPv6 link-local addresses finish duplicate address detection (and get
  // their local route) a second or two after their link comes up.
  const deadline = Date.now() + 10_000;
  while (everyNamespace().some(dadPending) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
});

afterAll(async () => {
  await Promise.all(labs.map((l) => l.teardown()));
});

/** Views of the compared roles; retried for a while, since operstate follows carrier asynchronously. */
async function views(t: Topology): Promise<{ ip: Record<string, NsView>; library: Record<string, NsView> }> {
  const { byIp, byLibrary } = pairs.get(t.id)!;
  const take = (names: RoleNames) => Object.fromEntries(t.roles.map((r) => [r, ipView(names, r)]));
  let v = { ip: take(byIp), library: take(byLibrary) };
  for (let i = 0; i < 20 && JSON.stringify(v.ip) !== JSON.stringify(v.library); i++) {
    await new Promise((r) => setTimeout(r, 100));
    v = { ip: take(byIp), library: take(byLibrary) };
  }
  return v;
}

describe.each(TOPOLOGIES.map((t) => [t.title, t] as const))('%s', (_title, t) => {
  it("the library's build looks to ip -j exactly like the tutorial's commands", async () => {
    const { ip, library } = await views(t);
    expect(library).toEqual(ip);
    // Not vacuous: every compared namespace has links, addresses and routes.
    for (const role of t.roles) {
      expect(library[role].links.length).toBeGreaterThan(0);
      expect(library[role].addresses.length).toBeGreaterThan(0);
      expect(library[role].routes.length).toBeGreaterThan(0);
    }
  });
});

/**
 * The tutorial's topologies (examples/topologies.ts, also what `npm run demo` builds), configured
 * through the library only. `ip -j` checks the result and `ping` (iputils, installed by .ci/run)
 * proves that traffic flows. Every namespace is a per-run test namespace (helpers.nsName); the one
 * that plays the host is one of them, never the machine's own.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LIMITED_HOST_END, Lab, blue, bridgedContainer, limited, redGreenDirect, redGreenMoved, type Topology } from '../../examples/topologies.js';
import { Netns, ValidationError } from '../../lib/index.js';
import { ipJson, nsName, run } from './helpers.js';
import { ipv4Of, ipView, linkOf, type RoleNames } from './tutorial_views.js';

let labs: Lab[] = [];
afterEach(async () => {
  await Promise.all(labs.map((l) => l.teardown()));
  labs = [];
});

async function build(t: Topology): Promise<{ lab: Lab; names: RoleNames }> {
  const lab = new Lab((role) => nsName(role));
  labs.push(lab);
  await t.build(lab);
  return { lab, names: new Map(lab.roles().map((r) => [r, lab.name(r)])) };
}

/** One echo request from inside the namespace playing `from`; throws (failing the test) without a reply. */
function ping(lab: Lab, from: string, to: string): string {
  return run('ip', ['netns', 'exec', lab.name(from), 'ping', '-n', '-c', '1', '-W', '2', to]);
}

/** Every check the topology declares answers. */
function expectTraffic(lab: Lab, t: Topology): void {
  for (const c of t.checks) expect(ping(lab, c.from, c.to), c.what).toMatch(/1 packets transmitted, 1 received/);
}

/** Names of the links of the namespace this process runs in (only read). */
function ownLinkNames(): string[] {
  return ipJson<{ ifname: string }[]>(['link', 'show']).map((l) => l.ifname);
}

const UP = expect.arrayContaining(['UP', 'LOWER_UP']);

describe('blue: a namespace with loopback up', () => {
  it('has only lo, up, with 127.0.0.1/8, and answers ping 127.0.0.1', async () => {
    const { lab, names } = await build(blue);
    const v = ipView(names, 'blue');
    expect(v.links.map((l) => l.ifname)).toEqual(['lo']);
    expect(linkOf(v, 'lo')).toMatchObject({ flags: ['LOOPBACK', 'UP', 'LOWER_UP'], mtu: 65536, kind: null });
    expect(ipv4Of(names.get('blue')!, 'lo')).toEqual(['127.0.0.1/8']);
    expectTraffic(lab, blue);
  });
});

describe.each([
  ['peer created directly in green', redGreenDirect],
  ["the tutorial's way: created in a host namespace, each end moved", redGreenMoved],
])('red/green joined by a veth (%s)', (_how, t) => {
  it('each end is in its namespace, up, addressed, with its subnet route, and pings go both ways', async () => {
    const before = ownLinkNames();
    const { lab, names } = await build(t);
    for (const [role, dev, other, cidr, subnet] of [
      ['red', 'veth-red', 'green/veth-green', '10.0.1.1/24', '10.0.1.0/24'],
      ['green', 'veth-green', 'red/veth-red', '10.0.1.2/24', '10.0.1.0/24'],
    ]) {
      const v = ipView(names, role);
      expect(v.links.map((l) => l.ifname)).toEqual([dev, 'lo'].sort());
      expect(linkOf(v, dev)).toMatchObject({ kind: 'veth', flags: UP, mtu: 1500, peer: other });
      expect(linkOf(v, 'lo')).toMatchObject({ flags: UP });
      expect(ipv4Of(names.get(role)!, dev)).toEqual([cidr]);
      const routes = ipJson<Record<string, unknown>[]>(['route', 'show'], names.get(role));
      expect(routes).toEqual([{ dst: subnet, dev, protocol: 'kernel', scope: 'link', prefsrc: cidr.split('/')[0], flags: [] }]);
    }
    if (t === redGreenMoved) {
      // Both ends left the namespace they were born in.
      expect(ipView(names, 'host').links.map((l) => l.ifname)).toEqual(['lo']);
    }
    expect(ownLinkNames()).toEqual(before);
    expectTraffic(lab, t);
  });
});

describe('container1 behind bridge br0 in a namespace playing the host', () => {
  it('br0 holds the gateway and veth-host; container1 routes default via 10.0.2.1 and reaches it', async () => {
    const before = ownLinkNames();
    const { lab, names } = await build(bridgedContainer);
    const host = ipView(names, 'host');
    expect(host.links.map((l) => l.ifname)).toEqual(['br0', 'lo', 'veth-host']);
    expect(linkOf(host, 'br0')).toMatchObject({ kind: 'bridge', flags: UP, info_data: { stp_state: 0 } });
    expect(linkOf(host, 'veth-host')).toMatchObject({
      kind: 'veth', flags: UP, master: 'br0', slave_kind: 'bridge', slave_data: { state: 'forwarding' }, peer: 'container1/veth-container',
    });
    expect(ipv4Of(names.get('host')!, 'br0')).toEqual(['10.0.2.1/24']);
    expect(ipv4Of(names.get('host')!, 'veth-host')).toEqual([]);

    const c1 = ipView(names, 'container1');
    expect(c1.links.map((l) => l.ifname)).toEqual(['lo', 'veth-container']);
    expect(linkOf(c1, 'veth-container')).toMatchObject({ kind: 'veth', flags: UP, mtu: 1500, peer: 'host/veth-host' });
    expect(ipv4Of(names.get('container1')!, 'veth-container')).toEqual(['10.0.2.10/24']);
    expect(ipJson(['route', 'show'], names.get('container1'))).toEqual([
      { dst: 'default', gateway: '10.0.2.1', dev: 'veth-container', flags: [] },
      { dst: '10.0.2.0/24', dev: 'veth-container', protocol: 'kernel', scope: 'link', prefsrc: '10.0.2.10', flags: [] },
    ]);
    expect(ownLinkNames()).toEqual(before);
    expectTraffic(lab, bridgedContainer);
    // The gateway's MAC was learned through real ARP, and it is br0's.
    const neigh = ipJson<{ dst: string; lladdr?: string }[]>(['neigh', 'show', 'dev', 'veth-container'], names.get('container1'));
    const br0Mac = ipJson<{ address: string }[]>(['link', 'show', 'br0'], names.get('host'))[0].address;
    expect(neigh.find((n) => n.dst === '10.0.2.1')?.lladdr).toBe(br0Mac);
  });
});

describe('limited: a veth between a namespace and the host', () => {
  it('both ends addressed and up, pings go both ways', async () => {
    const { lab, names } = await build(limited);
    const host = ipView(names, 'host');
    const lim = ipView(names, 'limited');
    expect(linkOf(host, LIMITED_HOST_END)).toMatchObject({ kind: 'veth', flags: UP, peer: 'limited/veth-limited' });
    expect(linkOf(lim, 'veth-limited')).toMatchObject({ kind: 'veth', flags: UP, peer: `host/${LIMITED_HOST_END}` });
    expect(ipv4Of(names.get('host')!, LIMITED_HOST_END)).toEqual(['10.0.3.1/24']);
    expect(ipv4Of(names.get('limited')!, 'veth-limited')).toEqual(['10.0.3.10/24']);
    expectTraffic(lab, limited);
  });

  it("the tutorial's own name for the host end, veth-limited-host (17 bytes), is refused by ip and by the library", async () => {
    const ns = nsName('lim');
    run('ip', ['netns', 'add', ns]);
    await using handle = await Netns.open(ns);
    expect(() => run('ip', ['-n', ns, 'link', 'add', 'veth-limited', 'type', 'veth', 'peer', 'name', 'veth-limited-host'])).toThrow();
    const refusal = await handle.links.add({ kind: 'veth', name: 'veth-limited', peer: { name: 'veth-limited-host' } }).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(ValidationError);
    expect(refusal).toMatchObject({ field: 'peer.name', value: 'veth-limited-host' });
    expect(ipJson<{ ifname: string }[]>(['link', 'show'], ns).map((l) => l.ifname)).toEqual(['lo']);
  });

  it.todo("the tutorial's `tc qdisc add dev veth-limited root tbf rate 10mbit burst 32kbit latency 400ms` (traffic control is a later issue)");
});

/**
 * Firewall and NAT through nf_tables netlink against the real kernel, every host a namespace; the
 * "internet" is a namespace numbered from 203.0.113.0/24, which has no route back to the LAN: only
 * NAT lets the LAN reach it. Traffic is made by the library's in-namespace sockets; `nft -j` and
 * iptables-nft (inside the test namespaces only) are the oracles.
 *
 * LAN host 10.0.10.1/24 (lan) -- 10.0.10.254/24 router 203.0.113.2/24 -- 203.0.113.1/24 (internet)
 */
import { execFileSync } from 'node:child_process';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TABLE, Firewall } from '../../lib/api/firewall/index.js';
import { NetlinkError, ValidationError } from '../../lib/errors.js';
import { Netns } from '../../lib/index.js';
import * as C from '../../lib/nfnl/constants.js';
import { nsName, run } from './helpers.js';

interface Site {
  router: Netns;
  internet: Netns;
  lan: Netns;
  fw: Firewall;
}
const sites: Site[] = [];
const extra: Netns[] = [];

async function veth(a: Netns, aName: string, b: Netns, bName: string): Promise<void> {
  await a.links.add({ kind: 'veth', name: aName, up: true, peer: { name: bName, netns: b, up: true } });
}

async function site(tag: string): Promise<Site> {
  const [router, internet, lan] = [await Netns.create(nsName(`${tag}r`)), await Netns.create(nsName(`${tag}i`)), await Netns.create(nsName(`${tag}l`))];
  await veth(router, 'veth-wan-ns', internet, 'veth-wan');
  await veth(router, 'veth-lan-ns', lan, 'veth-lan');
  for (const ns of [router, internet, lan]) await ns.links.set('lo', { up: true });
  await router.addresses.add('veth-wan-ns', '203.0.113.2/24');
  await router.addresses.add('veth-lan-ns', '10.0.10.254/24');
  await internet.addresses.add('veth-wan', '203.0.113.1/24');
  await lan.addresses.add('veth-lan', '10.0.10.1/24');
  await lan.routes.add({ destination: 'default', gateway: '10.0.10.254' });
  await router.sysctl.set('net.ipv4.ip_forward', 1);
  const s = { router, internet, lan, fw: router.firewall };
  sites.push(s);
  return s;
}

/** A TCP server in `ns` answering with the peer address it sees. */
async function echoPeer(ns: Netns, host: string, port: number): Promise<net.Server> {
  return ns.createServer({ host, port }, (s) => s.end(`${s.remoteAddress}\n`));
}

async function ask(ns: Netns, host: string, port: number, timeoutMs: number): Promise<string> {
  const sock = await ns.connect({ host, port, connectTimeout: timeoutMs });
  sock.setEncoding('utf8');
  let out = '';
  for await (const chunk of sock) out += chunk as string;
  return out.trim();
}

const nftJson = (ns: Netns): any[] => JSON.parse(run('ip', ['netns', 'exec', ns.name!, 'nft', '-j', 'list', 'ruleset'])).nftables.filter((o: any) => !o.metainfo);
const closeServer = (s: net.Server) => new Promise<void>((r) => s.close(() => r()));

// The machine's own ruleset, read (never written) before and after: nothing outside the test's
// namespaces may change. test/global_setup.ts makes the same comparison around the whole run.
const hostRuleset = () => run('nft', ['-j', 'list', 'ruleset']);
let hostBefore: string;
beforeAll(() => {
  hostBefore = hostRuleset();
});

afterAll(async () => {
  expect(hostRuleset()).toBe(hostBefore);
  for (const s of sites) {
    for (const ns of [s.router, s.internet, s.lan]) await ns.delete({ ifExists: true });
  }
  for (const ns of extra) await ns.delete({ ifExists: true });
});

describe('NAT router (the tutorial scenario with masquerade)', () => {
  let s: Site;
  let server: net.Server;
  beforeAll(async () => {
    s = await site('m');
    server = await echoPeer(s.internet, '203.0.113.1', 8080);
  });
  afterAll(async () => server && closeServer(server));

  it('without a NAT rule the LAN cannot reach the internet namespace (it has no route back)', async () => {
    await expect(ask(s.lan, '203.0.113.1', 8080, 1500)).rejects.toMatchObject({ code: expect.stringMatching(/^(ETIMEDOUT|EHOSTUNREACH)$/) });
  });

  it("with the library's masquerade the connection succeeds and the server sees the router's WAN address", async () => {
    const rule = await s.fw.masquerade({ source: '10.0.10.0/24', outInterface: 'veth-wan-ns' });
    expect(rule).toMatchObject({ table: DEFAULT_TABLE, chain: 'postrouting', match: { source: '10.0.10.0/24', outInterface: 'veth-wan-ns' }, action: { kind: 'masquerade' } });
    expect(rule.handle).toBeGreaterThan(0);
    expect(await ask(s.lan, '203.0.113.1', 8080, 5000)).toBe('203.0.113.2');
    const [listed] = await s.fw.list();
    expect(listed.handle).toBe(rule.handle);
    // Masquerade is evaluated for the first packet of a connection only (conntrack does the rest).
    expect(listed.counters!.packets).toBe(1n);
    const oracle = nftJson(s.router).find((o) => o.rule)?.rule;
    expect(oracle.expr.find((e: any) => e.counter).counter.packets).toBe(1);
  });

  it('deleting the rule stops new connections again', async () => {
    const [rule] = await s.fw.list();
    await s.fw.delete(rule);
    expect(await s.fw.list()).toEqual([]);
    await expect(ask(s.lan, '203.0.113.1', 8080, 1500)).rejects.toMatchObject({ code: expect.stringMatching(/^(ETIMEDOUT|EHOSTUNREACH)$/) });
  });
});

describe('port forwarding', () => {
  it("a connection to the router's WAN address and port reaches the LAN server, which sees the client's real address", async () => {
    const s = await site('p');
    const server = await echoPeer(s.lan, '10.0.10.1', 80);
    try {
      await expect(ask(s.internet, '203.0.113.2', 8080, 1500)).rejects.toMatchObject({ code: expect.stringMatching(/^(ECONNREFUSED|ETIMEDOUT)$/) });
      const rule = await s.fw.portForward({ protocol: 'tcp', port: 8080, to: '10.0.10.1', toPort: 80, inInterface: 'veth-wan-ns', destination: '203.0.113.2' });
      expect(rule.action).toEqual({ kind: 'dnat', to: '10.0.10.1', toPort: 80 });
      expect(await ask(s.internet, '203.0.113.2', 8080, 5000)).toBe('203.0.113.1');
    } finally {
      await closeServer(server);
    }
  });
});

describe('equivalence with iptables (iptables-nft) and nft', () => {
  it("the seed's iptables MASQUERADE and the library's masquerade give the same outcome; the library's dump lists the iptables rule", async () => {
    const [viaLib, viaIptables] = [await site('el'), await site('ei')];
    await viaLib.fw.masquerade({ source: '10.0.10.0/24', outInterface: 'veth-wan-ns' });
    run('ip', ['netns', 'exec', viaIptables.router.name!, 'iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', '10.0.10.0/24', '-o', 'veth-wan-ns', '-j', 'MASQUERADE']);
    const outcomes: string[] = [];
    for (const s of [viaLib, viaIptables]) {
      const server = await echoPeer(s.internet, '203.0.113.1', 8080);
      try {
        outcomes.push(await ask(s.lan, '203.0.113.1', 8080, 5000));
      } finally {
        await closeServer(server);
      }
    }
    expect(outcomes).toEqual(['203.0.113.2', '203.0.113.2']);

    const ruleset = await viaIptables.fw.ruleset();
    const nat = ruleset.find((t) => t.family === 'ip' && t.name === 'nat');
    const post = nat?.chains.find((c) => c.name === 'POSTROUTING');
    expect(post).toMatchObject({ type: 'nat', hook: 'postrouting', priority: 100, policy: 'accept' });
    expect(post!.rules).toHaveLength(1);
    expect(post!.rules[0]).toMatchObject({ match: { source: '10.0.10.0/24', outInterface: 'veth-wan-ns' }, action: { kind: 'xt', name: 'MASQUERADE' }, unparsed: [] });
    // The xt target is not modelled: it is kept by name with its raw attributes.
    expect(post!.rules[0].expressions.find((e) => e.name === 'target')).toHaveProperty('raw');
    // Reading changed nothing: iptables still lists its rule.
    expect(run('ip', ['netns', 'exec', viaIptables.router.name!, 'iptables', '-t', 'nat', '-S', 'POSTROUTING'])).toContain('-A POSTROUTING -s 10.0.10.0/24 -o veth-wan-ns -j MASQUERADE');
  });

  it("nft -j list ruleset shows the library's rules exactly as the same rules made with nft add rule", async () => {
    const [a, b] = [await Netns.create(nsName('nja')), await Netns.create(nsName('njb'))];
    extra.push(a, b);
    const fw = a.firewall;
    const t = DEFAULT_TABLE;
    const made: [() => Promise<unknown>, string][] = [
      [() => fw.masquerade({ source: '10.0.10.0/24', outInterface: 'veth-wan' }), `add rule inet ${t} postrouting ip saddr 10.0.10.0/24 oifname "veth-wan" counter masquerade`],
      [() => fw.ipMasq('10.88.0.5/32', { subnet: '10.88.0.0/16', comment: 'pod abc' }), `add rule inet ${t} postrouting ip saddr 10.88.0.5 ip daddr != 10.88.0.0/16 ip daddr != 224.0.0.0/4 counter masquerade comment "pod abc"`],
      [() => fw.snat({ source: 'fd00::/64', outInterface: 'w', to: 'fd01::1' }), `add rule inet ${t} postrouting ip6 saddr fd00::/64 oifname "w" counter snat ip6 to fd01::1`],
      [() => fw.snat({ source: '10.0.0.0/8', protocol: 'tcp', to: '192.0.2.1-192.0.2.9', toPort: [1000, 2000] }), `add rule inet ${t} postrouting ip saddr 10.0.0.0/8 meta l4proto tcp counter snat ip to 192.0.2.1-192.0.2.9:1000-2000`],
      [() => fw.portForward({ protocol: 'tcp', port: 8080, to: '10.0.10.2', toPort: 80, inInterface: 'wan0' }), `add rule inet ${t} prerouting iifname "wan0" tcp dport 8080 counter dnat ip to 10.0.10.2:80`],
      [() => fw.dnat({ destination: '198.51.100.7', inInterface: 'wan0', protocol: 'udp', destinationPort: [5000, 5010], to: '10.0.10.3' }), `add rule inet ${t} prerouting ip daddr 198.51.100.7 iifname "wan0" udp dport 5000-5010 counter dnat ip to 10.0.10.3`],
      [() => fw.filter({ chain: 'forward', state: ['established', 'related'], action: 'accept' }), `add rule inet ${t} forward ct state established,related counter accept`],
      [() => fw.filter({ chain: 'forward', source: '10.0.16.0/20', destination: '192.0.2.0/24', inInterface: 'a', outInterface: 'eth*', protocol: 'tcp', sourcePort: [1024, 65535], destinationPort: 443, action: 'drop' }), `add rule inet ${t} forward ip saddr 10.0.16.0/20 ip daddr 192.0.2.0/24 iifname "a" oifname "eth*" tcp sport 1024-65535 tcp dport 443 counter drop`],
      [() => fw.filter({ chain: 'input', protocol: 'tcp', destinationPort: 22, action: 'reject', rejectWith: 'tcp-reset' }), `add rule inet ${t} input tcp dport 22 counter reject with tcp reset`],
      [() => fw.filter({ chain: 'input', source: 'fd00::/64', action: 'reject', rejectWith: 'admin-prohibited' }), `add rule inet ${t} input ip6 saddr fd00::/64 counter reject with icmpx admin-prohibited`],
      [() => fw.filter({ chain: 'output', protocol: 'icmp', state: ['new'], action: 'drop' }), `add rule inet ${t} output meta l4proto icmp ct state new counter drop`],
    ];
    for (const [lib] of made) await lib();
    // The same chains, in the order the library created them, then the same rules with nft.
    const script = [
      `add table inet ${t}`,
      `add chain inet ${t} postrouting { type nat hook postrouting priority srcnat; policy accept; }`,
      `add chain inet ${t} prerouting { type nat hook prerouting priority dstnat; policy accept; }`,
      `add chain inet ${t} forward { type filter hook forward priority filter; policy accept; }`,
      `add chain inet ${t} input { type filter hook input priority filter; policy accept; }`,
      `add chain inet ${t} output { type filter hook output priority filter; policy accept; }`,
      ...made.map(([, cmd]) => cmd),
    ].join('\n');
    execFileSync('ip', ['netns', 'exec', b.name!, 'nft', '-f', '-'], { input: script });
    const strip = (objs: any[]) => JSON.parse(JSON.stringify(objs, (k, v) => (k === 'handle' ? undefined : v)));
    const [ours, theirs] = [strip(nftJson(a)), strip(nftJson(b))];
    expect(ours.filter((o: any) => o.rule)).toHaveLength(made.length);
    expect(ours).toEqual(theirs);
  });
});

describe('transactions', () => {
  let ns: Netns;
  let fw: Firewall;
  beforeAll(async () => {
    ns = await Netns.create(nsName('tx'));
    extra.push(ns);
    fw = ns.firewall;
  });

  it('a batch whose last rule the kernel refuses leaves the ruleset exactly as before, and names that rule', async () => {
    await fw.masquerade({ source: '10.0.10.0/24', outInterface: 'veth-wan' });
    run('ip', ['netns', 'exec', ns.name!, 'iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'DROP']);
    const before = run('ip', ['netns', 'exec', ns.name!, 'nft', '-j', 'list', 'ruleset']);
    const err = await fw
      .add([
        { masquerade: { source: '10.0.20.0/24' } },
        { dnat: { protocol: 'tcp', destinationPort: 80, to: '10.0.10.2' } },
        { filter: { chain: 'input', protocol: 'udp', destinationPort: 53, action: 'accept' } },
        // Valid on its face; only the kernel knows the set does not exist.
        { raw: { chain: 'forward', expressions: [{ name: 'lookup', set: 'no_such_set', sreg: C.NFT_REG_1 }] } },
      ])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err).toMatchObject({ code: 'ENOENT', change: `add rule inet ${DEFAULT_TABLE} forward` });
    // table + 4 chains (postrouting, prerouting, input, forward) + 4 rules: the 9th message.
    expect((err as Error).message).toMatch(/change 9 of 9 \(add rule inet netns_native forward\)/);
    expect((err as Error).message).toContain(`ip netns exec ${ns.name}`);
    expect(run('ip', ['netns', 'exec', ns.name!, 'nft', '-j', 'list', 'ruleset'])).toBe(before);
  });

  it('invalid input is rejected before anything is sent', async () => {
    const before = run('ip', ['netns', 'exec', ns.name!, 'nft', '-j', 'list', 'ruleset']);
    await expect(fw.add([{ masquerade: { source: '10.0.30.0/24' } }, { filter: { chain: 'input', destinationPort: 22, action: 'drop' } }])).rejects.toBeInstanceOf(ValidationError);
    await expect(fw.masquerade({ outInterface: 'x'.repeat(16) })).rejects.toThrow(/interface name/);
    await expect(fw.dnat({ to: '10.0.0.1', toPort: 80 })).rejects.toThrow(/'tcp' or 'udp'/);
    expect(run('ip', ['netns', 'exec', ns.name!, 'nft', '-j', 'list', 'ruleset'])).toBe(before);
  });

  it('100 concurrent rule changes on one namespace all land, none lost', async () => {
    const ports = Array.from({ length: 100 }, (_, i) => 10000 + i);
    const rules = await Promise.all(ports.map((p) => fw.filter({ chain: 'input', protocol: 'tcp', destinationPort: p, action: 'accept' })));
    expect(new Set(rules.map((r) => r.handle)).size).toBe(100);
    const listed = (await fw.list()).filter((r) => r.chain === 'input' && r.match.protocol === 'tcp');
    expect(listed.map((r) => r.match.destinationPort).sort()).toEqual(ports);
    const oracle = JSON.parse(run('ip', ['netns', 'exec', ns.name!, 'nft', '-j', 'list', 'chain', 'inet', DEFAULT_TABLE, 'input'])).nftables.filter((o: any) => o.rule);
    expect(oracle).toHaveLength(100);
    // And 100 concurrent deletions.
    await Promise.all(rules.map((r) => fw.delete(r)));
    expect((await fw.list()).filter((r) => r.chain === 'input' && r.match.protocol === 'tcp')).toEqual([]);
  });

  it('flush removes only the library table; iptables-nft tables stay', async () => {
    expect(await fw.flush()).toBe(true);
    expect(await fw.flush()).toBe(false);
    expect(await fw.list()).toEqual([]); // no table: nothing, not an error
    await expect(fw.delete(5)).rejects.toBeInstanceOf(ValidationError);
    const tables = (await fw.ruleset()).map((t) => `${t.family} ${t.name}`);
    expect(tables).toEqual(['ip filter']);
    expect(run('ip', ['netns', 'exec', ns.name!, 'iptables', '-S', 'INPUT'])).toContain('-A INPUT -p tcp -m tcp --dport 22 -j DROP');
  });

  it('an owned table (NFT_TABLE_F_OWNER) refuses other writers and vanishes when its handle closes', async () => {
    const handle = await Netns.open(`/run/netns/${ns.name}`);
    const owned = handle.firewall.table('daemon_rules', { owner: true });
    await owned.masquerade({ outInterface: 'veth-wan' });
    const t = (await owned.ruleset()).find((x) => x.name === 'daemon_rules');
    expect(t!.flags & C.NFT_TABLE_F_OWNER).toBe(C.NFT_TABLE_F_OWNER);
    expect(t!.owner).toBeGreaterThan(0);
    // The other handle's socket is not the owner either.
    await expect(ns.firewall.table('daemon_rules').masquerade({ outInterface: 'x' })).rejects.toMatchObject({ code: 'EPERM' });
    // Another socket (nft here) may not change it: the kernel's answer.
    expect(() => execFileSync('ip', ['netns', 'exec', ns.name!, 'nft', 'add', 'chain', 'inet', 'daemon_rules', 'x'], { stdio: 'pipe' })).toThrow(/Operation not permitted/);
    await handle.close();
    for (let i = 0; i < 50 && run('ip', ['netns', 'exec', ns.name!, 'nft', 'list', 'tables']).includes('daemon_rules'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(run('ip', ['netns', 'exec', ns.name!, 'nft', 'list', 'tables'])).not.toContain('daemon_rules');
  });
});

/**
 * `netns-native up/plan/down` on each of examples/*.yaml, checked with `ip -j` (and sysctl, the DNS
 * file) as the oracle; a second `up` must report and make no change; `down` must leave nothing. A
 * topology whose last element is wrong must fail and leave the machine exactly as before.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Topology } from '../../lib/topology/index.js';
import { parseRate } from '../../lib/validate/units.js';
import { ipJson, run } from './helpers.js';
import { assertBuilt, BIN, cli, etcNetns, pinned, topoPrefix } from './cli_helpers.js';

beforeAll(assertBuilt);

const EXAMPLES = readdirSync(new URL('../../examples/', import.meta.url).pathname).filter((f) => f.endsWith('.yaml')).sort();

/** What the kernel holds in the namespaces of a topology: links (no counters), addresses, routes, sysctls, DNS. */
function snapshot(t: Topology): string {
  const out: Record<string, unknown> = {};
  for (const [role, spec] of Object.entries(t.file.namespaces)) {
    const ns = t.nameOf(role);
    out[ns] = {
      // Bridge timers move by themselves: links are compared by what a topology sets.
      links: ipJson<{ ifname: string; flags: string[]; mtu: number; master?: string; address: string; linkinfo?: { info_kind?: string } }[]>(['-d', 'link', 'show'], ns).map((l) => [l.ifname, l.flags, l.mtu, l.master, l.address, l.linkinfo?.info_kind]),
      // IPv4 only: IPv6 link-local addresses finish duplicate address detection on their own time.
      addresses: ipJson(['-4', 'address', 'show'], ns),
      routes: ipJson(['-4', 'route', 'show', 'table', 'all'], ns),
      sysctls: Object.keys(spec.sysctls ?? {}).map((k) => run('ip', ['netns', 'exec', ns, 'sysctl', '-n', k]).trim()),
      dns: existsSync(`/etc/netns/${ns}/resolv.conf`) ? readFileSync(`/etc/netns/${ns}/resolv.conf`, 'utf8') : null,
    };
  }
  return JSON.stringify(out);
}

describe.each(EXAMPLES)('examples/%s', (file) => {
  const path = `examples/${file}`;
  it('up builds what the file declares (ip -j agrees), up again changes nothing, down leaves nothing', async () => {
    const prefix = topoPrefix(file.replace('.yaml', ''));
    const t = await Topology.load(path, { rename: (n) => `${prefix}${n}` });
    const mine = () => ({ pinned: pinned().filter((n) => n.startsWith(prefix)), etc: etcNetns().filter((n) => n.startsWith(prefix)) });
    const before = mine();

    const plan = cli(['plan', path, '--prefix', prefix, '--json']);
    expect(plan.status, plan.stderr).toBe(0);
    const planned = JSON.parse(plan.stdout) as { changes: number; steps: { action: string }[] };
    expect(planned.changes).toBeGreaterThan(0);
    expect(mine()).toEqual(before); // plan changed nothing

    const up = cli(['up', path, '--prefix', prefix, '--json']);
    expect(up.status, up.stderr).toBe(0);
    const r1 = JSON.parse(up.stdout) as { changed: unknown[]; unchanged: number };
    expect(r1.changed.length).toBe(planned.changes);

    for (const [role, spec] of Object.entries(t.file.namespaces)) {
      const ns = t.nameOf(role);
      expect(pinned()).toContain(ns);
      const links = ipJson<{ ifname: string; flags: string[]; master?: string; linkinfo?: { info_kind?: string } }[]>(['-d', 'link', 'show'], ns);
      const link = (name: string) => links.find((l) => l.ifname === name);
      if (spec.loopback ?? true) expect(link('lo')?.flags).toContain('UP');
      for (const l of spec.links ?? []) {
        expect(link(l.name)?.linkinfo?.info_kind, `${ns}/${l.name}`).toBe(l.kind);
        if (l.up) expect(link(l.name)?.flags).toContain('UP');
        if (l.master) expect(link(l.name)?.master).toBe(l.master);
        if (l.peer) {
          const peerNs = l.peer.netns ? t.nameOf(l.peer.netns) : ns;
          const peer = ipJson<{ ifname: string; flags: string[]; linkinfo?: { info_kind?: string } }[]>(['-d', 'link', 'show', 'dev', l.peer.name], peerNs)[0];
          expect(peer?.linkinfo?.info_kind).toBe('veth');
          if (l.peer.up) expect(peer?.flags).toContain('UP');
        }
      }
      const addrs = ipJson<{ ifname: string; addr_info: { local: string; prefixlen: number }[] }[]>(['address', 'show'], ns);
      for (const [dev, list] of Object.entries(spec.addresses ?? {})) {
        const have = addrs.find((a) => a.ifname === dev)?.addr_info.map((a) => `${a.local}/${a.prefixlen}`);
        for (const c of list) expect(have, `${ns} ${dev}`).toContain(c);
      }
      const routes = ipJson<{ dst: string; gateway?: string }[]>(['route', 'show'], ns);
      for (const r of spec.routes ?? []) expect(routes).toContainEqual(expect.objectContaining({ dst: r.destination, ...(r.gateway ? { gateway: r.gateway } : {}) }));
      for (const [k, v] of Object.entries(spec.sysctls ?? {})) expect(run('ip', ['netns', 'exec', ns, 'sysctl', '-n', k]).trim()).toBe(String(v));
      for (const [dev, shape] of Object.entries(spec.tc ?? {})) {
        const q = JSON.parse(run('tc', ['-n', ns, '-j', 'qdisc', 'show', 'dev', dev])) as { kind: string; root?: boolean; options?: { rate?: number } }[];
        expect(q.find((x) => x.root)).toMatchObject({ kind: 'tbf', options: { rate: parseRate('egress', shape.egress) } });
      }
      if (spec.nat?.length) {
        const rules = (JSON.parse(run('ip', ['netns', 'exec', ns, 'nft', '-j', 'list', 'ruleset'])).nftables as { rule?: { comment?: string; expr: Record<string, unknown>[] } }[]).flatMap((e) => (e.rule ? [e.rule] : []));
        spec.nat.forEach((r, i) => {
          const rule = rules.find((x) => x.comment === `topology nat[${i}]`);
          expect(rule?.expr.some((e) => Object.keys(r).includes(Object.keys(e)[0]!)), `${ns} nat[${i}]`).toBe(true);
        });
      }
      if (spec.dns) expect(readFileSync(`/etc/netns/${ns}/resolv.conf`, 'utf8')).toContain(`nameserver ${spec.dns.nameservers[0]}`);
    }

    // The tutorial's proofs: the container reaches the internet's server through the host's NAT,
    // the LAN host the WAN host through the router's (neither far side has a route back).
    const proofs: Record<string, [string, string]> = { 'container.yaml': ['container1', '203.0.113.10'], 'router.yaml': ['lan', '203.0.113.1'] };
    const proof = proofs[file];
    if (proof) expect(run('ip', ['netns', 'exec', t.nameOf(proof[0]), 'ping', '-n', '-c', '1', '-W', '2', proof[1]])).toMatch(/1 received/);

    const held = snapshot(t);
    const again = cli(['up', path, '--prefix', prefix, '--json']);
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ changed: [], unchanged: r1.changed.length + r1.unchanged });
    expect(cli(['up', path, '--prefix', prefix]).stdout).toMatch(/^up: nothing to do, nothing changed/);
    expect(snapshot(t)).toBe(held);
    expect(JSON.parse(cli(['plan', path, '--prefix', prefix, '--json']).stdout).changes).toBe(0);

    const down = cli(['down', path, '--prefix', prefix, '--json']);
    expect(down.status, down.stderr).toBe(0);
    expect(mine()).toEqual(before);
    expect(JSON.parse(cli(['down', path, '--prefix', prefix, '--json']).stdout).changed).toEqual([]);
  });
});

/** Everything a failed `up` could have touched, to compare before and after. */
function machine(prefix: string, names: string[]): string {
  return JSON.stringify({
    // Other test files create namespaces meanwhile: only this test's names are compared.
    pinned: pinned().filter((n) => n.startsWith(prefix)),
    etc: etcNetns().filter((n) => n.startsWith(prefix)),
    inside: names.filter((n) => pinned().includes(n)).map((n) => ({
      links: ipJson<Record<string, unknown>[]>(['link', 'show'], n).map(({ ifname, flags, mtu }) => ({ ifname, flags, mtu })),
      addresses: ipJson(['-4', 'address', 'show'], n),
      routes: ipJson(['-4', 'route', 'show', 'table', 'all'], n),
      // lo's IPv6 (::1 comes with lo up); other links' link-local addresses finish DAD on their own time.
      lo6: ipJson(['-6', 'address', 'show', 'dev', 'lo'], n),
      forward: run('ip', ['netns', 'exec', n, 'sysctl', '-n', 'net.ipv4.ip_forward']),
      nft: (JSON.parse(run('ip', ['netns', 'exec', n, 'nft', '-j', 'list', 'ruleset'])) as { nftables: Record<string, unknown>[] }).nftables.filter((e) => !('metainfo' in e)),
      // The default qdisc (handle 0:) the kernel attaches when a link first comes up stays after it
      // is set down again (noqueue instead of noop), and no request detaches it: not compared.
      tc: (JSON.parse(run('tc', ['-n', n, '-j', 'qdisc', 'show'])) as { handle: string }[]).filter((q) => q.handle !== '0:'),
    })),
  });
}

describe('a topology whose last element is wrong', () => {
  it('an address on a link that does not exist: up fails with a clear message before changing anything', () => {
    const prefix = topoPrefix('bad');
    const file = `${process.env.TMPDIR ?? '/tmp'}/${prefix}bad.yaml`;
    execFileSync('sh', ['-c', `cat > ${file}`], {
      input: [
        'namespaces:',
        '  a:',
        '    links: [{ kind: veth, name: veth-a, up: true, peer: { name: veth-b, netns: b, up: true } }]',
        '    addresses: { veth-a: [10.77.0.1/24] }',
        '  b:',
        '    addresses: { veth-b: [10.77.0.2/24], eth9: [10.77.1.2/24] }',
      ].join('\n'),
    });
    const before = machine(prefix, [`${prefix}a`, `${prefix}b`]);
    const r = cli(['up', file, '--prefix', prefix]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^netns-native: ERR_INVALID_ARG: .*namespaces\.b\.addresses\.eth9.*is not a link of namespace b/);
    expect(machine(prefix, [`${prefix}a`, `${prefix}b`])).toBe(before);
    const j = cli(['up', file, '--prefix', prefix, '--json']);
    expect(JSON.parse(j.stderr)).toMatchObject({ error: { code: 'ERR_INVALID_ARG' } });
  });

  it('a step the kernel refuses: up fails naming it and rolls back, a namespace that existed keeps its state', () => {
    const prefix = topoPrefix('rb');
    const a = `${prefix}a`;
    run('ip', ['netns', 'add', a]); // exists before: lo up, ip_forward 0, no DNS file
    run('ip', ['-n', a, 'link', 'set', 'lo', 'up']);
    const file = `${process.env.TMPDIR ?? '/tmp'}/${prefix}rb.yaml`;
    execFileSync('sh', ['-c', `cat > ${file}`], {
      input: [
        'namespaces:',
        '  a:',
        '    links: [{ kind: veth, name: veth-a, up: true, peer: { name: veth-b, netns: b, up: true } }]',
        '    addresses: { veth-a: [10.78.0.1/24] }',
        "    sysctls: { net.ipv4.ip_forward: 1 }",
        '    dns: { nameservers: [10.78.0.2] }',
        '  b:',
        '    addresses: { veth-b: [10.78.0.2/24] }',
        '    routes: [{ destination: default, gateway: 10.78.0.1 }]',
        // Valid syntax, but b has no link called nosuchlink: the kernel answers ENOENT, last.
        '    sysctls: { net.ipv4.conf.nosuchlink.forwarding: 1 }',
      ].join('\n'),
    });
    const before = machine(prefix, [a, `${prefix}b`]);
    const r = cli(['up', file, '--prefix', prefix]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^netns-native: ENOENT: ip netns exec .*b sysctl -w net\.ipv4\.conf\.nosuchlink\.forwarding=1: .*everything this run made was rolled back/);
    expect(machine(prefix, [a, `${prefix}b`])).toBe(before);
    expect(existsSync(`/etc/netns/${a}`)).toBe(false);
    run('ip', ['netns', 'delete', a]);
  });

  it('rollback leaves a namespace that existed exactly as before: lo set down again without 127.0.0.1/::1, the nft table and the tc qdisc it made removed', () => {
    const prefix = topoPrefix('rl');
    const a = `${prefix}a`;
    run('ip', ['netns', 'add', a]); // exists before: lo DOWN without addresses, no nft table, default qdiscs
    const file = `${process.env.TMPDIR ?? '/tmp'}/${prefix}rl.yaml`;
    execFileSync('sh', ['-c', `cat > ${file}`], {
      input: [
        'namespaces:',
        '  a:',
        '    links: [{ kind: veth, name: veth-a, up: true, peer: { name: veth-b, netns: b, up: true } }]',
        '    addresses: { veth-a: [10.79.0.1/24] }',
        '    tc: { lo: { egress: 1mbit } }',
        '    nat: [{ masquerade: { source: 10.79.0.0/24, outInterface: veth-a } }]',
        '  b:',
        '    addresses: { veth-b: [10.79.0.2/24] }',
        '    sysctls: { net.ipv4.conf.nosuchlink.forwarding: 1 }',
      ].join('\n'),
    });
    const before = machine(prefix, [a, `${prefix}b`]);
    const plan = JSON.parse(cli(['plan', file, '--prefix', prefix, '--json']).stdout) as { steps: { action: string; command: string }[] };
    expect(plan.steps.filter((s) => s.action !== 'none').map((s) => s.command)).toEqual(expect.arrayContaining([`ip -n ${a} link set lo up`, expect.stringMatching(/^tc -n \S+a qdisc replace dev lo /), expect.stringMatching(/^nft -n \S+a add rule inet netns_native masquerade /)]));
    const r = cli(['up', file, '--prefix', prefix]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/nosuchlink.*everything this run made was rolled back/);
    expect(JSON.parse(machine(prefix, [a, `${prefix}b`]))).toEqual(JSON.parse(before));
    run('ip', ['netns', 'delete', a]);
  });

  it('^C during up stops it between steps and undoes what it made', async () => {
    const prefix = topoPrefix('int');
    const file = `${process.env.TMPDIR ?? '/tmp'}/${prefix}int.yaml`;
    // Sixty namespaces (120 steps): the run is still going when its first namespace appears.
    execFileSync('sh', ['-c', `cat > ${file}`], { input: ['namespaces:', ...Array.from({ length: 60 }, (_, i) => `  n${i}: {}`)].join('\n') });
    const child = spawn(process.execPath, [BIN, 'up', file, '--prefix', prefix], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const deadline = Date.now() + 20_000;
    // A synchronous poll: the signal goes out as soon as the first namespace is pinned.
    while (!pinned().some((n) => n.startsWith(prefix)) && Date.now() < deadline) readdirSync('/run');
    child.kill('SIGINT');
    expect(await exited).toBe(1);
    expect(stderr).toMatch(/^netns-native: ABORT_ERR: ip netns add \S+: .*everything this run made was rolled back/);
    expect(pinned().filter((n) => n.startsWith(prefix))).toEqual([]);
  });
});

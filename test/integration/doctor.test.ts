/**
 * `netns-native doctor`: a healthy pod behind a router namespace passes every check; each way of
 * breaking it (done with `ip`/`sysctl`, the outside oracle) fails exactly the check that names it,
 * with a hint. The nameserver is a real UDP responder bound inside the router namespace; the "dead"
 * one is an address of a test namespace where nothing answers.
 */
import type dgram from 'node:dgram';
import type net from 'node:net';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Netns } from '../../lib/index.js';
import { Topology } from '../../lib/topology/index.js';
import { CHECK_IDS, type DoctorReport } from '../../lib/cli/doctor.js';
import { run } from './helpers.js';
import { assertBuilt, cli, cliAsync, topoPrefix } from './cli_helpers.js';

beforeAll(assertBuilt);

const LAB = {
  namespaces: {
    gw: {
      links: [
        { kind: 'veth', name: 'veth-pod', up: true, peer: { name: 'eth0', netns: 'pod', up: true } },
        { kind: 'veth', name: 'veth-wan', up: true, peer: { name: 'eth0', netns: 'wan', up: true } },
      ],
      addresses: { 'veth-pod': ['10.91.0.1/24'], 'veth-wan': ['10.91.1.1/24'] },
      routes: [{ destination: 'default', gateway: '10.91.1.2' }],
      sysctls: { 'net.ipv4.ip_forward': 1 },
      dns: { nameservers: ['10.91.0.1'] },
    },
    pod: {
      addresses: { eth0: ['10.91.0.2/24'] },
      routes: [{ destination: 'default', gateway: '10.91.0.1' }],
      dns: { nameservers: ['10.91.0.1'] },
    },
    wan: {
      addresses: { eth0: ['10.91.1.2/24'] },
      routes: [{ destination: '10.91.0.0/24', gateway: '10.91.1.1' }],
    },
  },
};

/** An A-record answer (RFC 1035 4.1) to `query`: 192.0.2.80 for any name. */
function answer(query: Buffer): Buffer {
  const qEnd = query.indexOf(0, 12) + 5; // end of QNAME, then QTYPE and QCLASS
  const header = Buffer.from(query.subarray(0, 12));
  header.writeUInt16BE(0x8180, 2); // QR, RD, RA, NOERROR
  header.writeUInt16BE(1, 6); // ANCOUNT
  const rr = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 80]);
  return Buffer.concat([header, query.subarray(12, qEnd), rr]);
}

let topo: Topology;
let gw: Netns;
let dns: dgram.Socket;
let web: net.Server;
const name = (role: string) => topo.nameOf(role);

beforeEach(async () => {
  const prefix = topoPrefix('doc');
  topo = Topology.from(LAB, { rename: (n) => `${prefix}${n}` });
  await topo.up();
  gw = await Netns.open(name('gw'));
  dns = await gw.createUdpSocket({ type: 'udp4', address: '10.91.0.1', port: 53 }, (msg, rinfo) => dns.send(answer(msg), rinfo.port, rinfo.address));
  web = await gw.createServer({ host: '10.91.0.1', port: 8080 });
});

afterEach(async () => {
  dns.close();
  await new Promise((r) => web.close(r));
  await gw.close();
  await topo.down();
});

/** The command runs while this process serves DNS and TCP in `gw`: it must not block the event loop. */
async function doctor(ns: string, ...args: string[]): Promise<{ status: number; report: DoctorReport; stderr: string }> {
  const r = await cliAsync(['doctor', ns, '--json', '--timeout', '700', ...args]);
  return { status: r.status, report: JSON.parse(r.stdout) as DoctorReport, stderr: r.stderr };
}

/**
 * The router's default route to a non-private next hop (a documentation address, RFC 5737, of the
 * wan namespace): the pod's private source now needs a source NAT in the router.
 */
function publicNextHop(): void {
  run('ip', ['-n', name('gw'), 'addr', 'add', '192.0.2.1/24', 'dev', 'veth-wan']);
  run('ip', ['-n', name('wan'), 'addr', 'add', '192.0.2.2/24', 'dev', 'eth0']);
  run('ip', ['-n', name('gw'), 'route', 'replace', 'default', 'via', '192.0.2.2']);
}

const failed = (rep: DoctorReport) => rep.checks.filter((c) => c.ok === false).map((c) => c.id);

describe('doctor on a healthy namespace', () => {
  it('passes every check, with its JSON shape, exit 0', async () => {
    const { status, report } = await doctor(name('pod'), '--dns', 'www.example.test', '--target', '10.91.0.1:8080');
    expect(report.namespace).toBe(name('pod'));
    expect(report.checks.map((c) => c.id)).toEqual([...CHECK_IDS]);
    for (const c of report.checks) expect(Object.keys(c).sort()).toEqual(['detail', 'hint', 'id', 'ok']);
    expect(report.checks.filter((c) => c.ok === false)).toEqual([]);
    expect(status).toBe(0);
    const byId = Object.fromEntries(report.checks.map((c) => [c.id, c]));
    for (const id of ['exists', 'lo-up', 'links-up', 'addresses', 'default-route', 'gateway', 'peer', 'mtu', 'forwarding', 'nat', 'dns-config', 'dns', 'target'] as const) {
      expect(byId[id]!.ok, `${id}: ${byId[id]!.detail}`).toBe(true);
    }
    expect(byId.dns!.detail).toMatch(/10\.91\.0\.1 answered NOERROR with 1 answer/);
    expect(byId.target!.detail).toMatch(/ping 3\/3 .*TCP 10\.91\.0\.1:8080 connected/);
    expect(byId.gateway!.detail).toMatch(/^ping 10\.91\.0\.1: 3 sent, 3 received/);
    expect(byId.peer!.detail).toContain(`eth0 <-> veth-pod in ${name('gw')}, UP`);
  });

  it('passes on the router too (two links, forwarding on)', async () => {
    const { status, report } = await doctor(name('gw'));
    expect(failed(report)).toEqual([]);
    expect(report.checks.find((c) => c.id === 'forwarding')!.detail).toMatch(/routes between veth-pod and veth-wan; net.ipv4.ip_forward = 1/);
    expect(status).toBe(0);
  });
});

describe('doctor on a namespace broken in exactly one way', () => {
  const cases: [string, string, string, () => void, string[]?][] = [
    ['lo down', 'pod', 'lo-up', () => run('ip', ['-n', name('pod'), 'link', 'set', 'lo', 'down'])],
    // 10.91.0.99 is on the pod's subnet, but nobody holds it.
    ['an unreachable gateway', 'pod', 'gateway', () => run('ip', ['-n', name('pod'), 'route', 'replace', 'default', 'via', '10.91.0.99'])],
    ['its link down', 'pod', 'links-up', () => run('ip', ['-n', name('pod'), 'link', 'set', 'eth0', 'down'])],
    ['no default route', 'pod', 'default-route', () => run('ip', ['-n', name('pod'), 'route', 'del', 'default'])],
    ['the veth peer down', 'pod', 'peer', () => run('ip', ['-n', name('gw'), 'link', 'set', 'veth-pod', 'down'])],
    ['an MTU mismatch on the veth pair', 'pod', 'mtu', () => run('ip', ['-n', name('gw'), 'link', 'set', 'veth-pod', 'mtu', '1400'])],
    ['a router with ip_forward 0', 'gw', 'forwarding', () => run('ip', ['netns', 'exec', name('gw'), 'sysctl', '-qw', 'net.ipv4.ip_forward=0'])],
    ['no resolv.conf', 'pod', 'dns-config', () => run('rm', [`/etc/netns/${name('pod')}/resolv.conf`])],
    ['a router forwarding to a public next hop without masquerade', 'gw', 'nat', publicNextHop],
    // 10.91.1.2 is the wan namespace: routed, up, but nothing listens on port 53 there.
    ['a dead nameserver', 'pod', 'dns', () => run('sh', ['-c', `echo 'nameserver 10.91.1.2' > /etc/netns/${name('pod')}/resolv.conf`])],
  ];
  it.each(cases)('%s fails exactly that check, with a hint, exit 1', async (_what, role, id, breakIt) => {
    breakIt();
    const { status, report } = await doctor(name(role), '--dns', 'www.example.test', '--target', '10.91.0.1:8080');
    expect(failed(report)).toEqual([id]);
    const c = report.checks.find((k) => k.id === id)!;
    expect(c.hint.length).toBeGreaterThan(0);
    expect(c.detail.length).toBeGreaterThan(0);
    expect(status).toBe(1);
  });

  it('nat passes once the router masquerades (an iptables-nft rule, read from its table)', async () => {
    publicNextHop();
    run('ip', ['netns', 'exec', name('gw'), 'iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', '10.91.0.0/24', '-o', 'veth-wan', '-j', 'MASQUERADE']);
    const { status, report } = await doctor(name('gw'));
    expect(failed(report)).toEqual([]);
    expect(report.checks.find((c) => c.id === 'nat')!.detail).toMatch(/^forwards to the public next hop 192\.0\.2\.2; source NAT: ip nat POSTROUTING: oifname "veth-wan" ip saddr 10\.91\.0\.0\/24 /);
    expect(status).toBe(0);
  });

  it('a namespace that does not exist fails `exists` and skips the rest', async () => {
    const { status, report } = await doctor(`${name('pod')}-nope`);
    expect(failed(report)).toEqual(['exists']);
    expect(report.checks.slice(1).every((c) => c.ok === null)).toBe(true);
    expect(status).toBe(1);
  });

  it('prints a table without --json, FAIL and its hint on the broken check', () => {
    run('ip', ['-n', name('pod'), 'link', 'set', 'lo', 'down']);
    const r = cli(['doctor', name('pod')]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^FAIL\s+lo-up\s+lo is DOWN\s+-> ip -n \S+ link set lo up$/m);
    expect(r.stdout).toMatch(/^ok\s+links-up\s+eth0 UP$/m);
    expect(r.stdout).not.toMatch(/\x1b\[/); // not a terminal: no colour
  });
});

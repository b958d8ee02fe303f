/**
 * `npm run demo`: builds the tutorial's topologies and its router scenario with the library, shows
 * what the kernel then reports, proves that traffic flows with TCP sockets made inside the
 * namespaces, switches forwarding in the router and shows what it changes, limits a namespace's
 * bandwidth as the tutorial does (tbf by ns.tc, then ingress through an ifb) and measures it with TCP
 * transfers, prints how long each step took, and removes everything, even when a step fails. It
 * starts no process.
 *
 * Every namespace is named `demo-<pid>-<role>`, so runs never collide; the process's own namespace
 * is only read (its links and its net.ipv4.ip_forward are read before and after, to show it was
 * left alone).
 * @module
 */
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { Netns } from '../lib/index.js';
import { PROOF_METHOD, proveConnectivity, type Proof } from './connectivity.js';
import { demoBandwidth } from './bandwidth.js';
import { inventory } from './inventory.js';
import { monitoring } from './monitoring.js';
import { Report } from './report.js';
import { Lab, ROUTED, ROUTER_WAN, blue, bridgedContainer, redGreenDirect, router, type Check, type Topology } from './topologies.js';

const PREFIX = `demo-${process.pid}-`;
const TOPOLOGIES: Topology[] = [blue, redGreenDirect, bridgedContainer, router];
/** How long the LAN host tries to reach the WAN host while the router does not forward. */
const BLOCKED_TIMEOUT_MS = 1000;

/** Names of the links of the namespace this process runs in (read only). */
async function ownLinks(): Promise<string> {
  await using own = await Netns.current();
  return (await own.links.list()).map((l) => l.name).sort().join(', ');
}

/**
 * net.ipv4.ip_forward of the namespace this process runs in, read from /proc by the JS thread (which
 * never leaves it), not through the library whose effect it checks.
 */
function ownForwarding(): string {
  return readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
}

/** Namespaces with this run's prefix still pinned under /run/netns. */
async function leftovers(): Promise<string[]> {
  return (await Netns.list()).map((e) => e.name).filter((n) => n.startsWith(PREFIX));
}

const label = (c: Check): string => `${c.what}: ${c.from} -> ${c.to}`;
const asResult = (p: Proof): { result: string; ok: boolean } => ({ result: p.detail, ok: p.ok });

/** Set net.ipv4.ip_forward inside the router namespace only. */
async function routerForwarding(lab: Lab, report: Report, value: 0 | 1): Promise<void> {
  await report.timed(`ip netns exec router sysctl -w net.ipv4.ip_forward=${value}`, () => lab.ns('router').sysctl.set('net.ipv4.ip_forward', value));
}

/** The router scenario: no connection through the router while it does not forward, one once it does. */
async function proveForwarding(lab: Lab, report: Report): Promise<void> {
  report.section("connectivity through the router: forwarding switched by ns.sysctl inside the router namespace only");
  await routerForwarding(lab, report, 0);
  await report.timed(`${label(ROUTED)}, connectTimeout ${BLOCKED_TIMEOUT_MS} ms`, () => proveConnectivity(lab, ROUTED, BLOCKED_TIMEOUT_MS), (p) =>
    // A router that does not forward drops silently (no ICMP), so the SYN goes unanswered.
    p.ok || (p.code !== 'ETIMEDOUT' && p.code !== 'EHOSTUNREACH')
      ? { result: `UNEXPECTED with forwarding off: ${p.detail}`, ok: false }
      : { result: `blocked, as expected: ${p.detail}`, ok: true });
  await routerForwarding(lab, report, 1);
  await report.timed(label(ROUTED), () => proveConnectivity(lab, ROUTED), (p) =>
    p.ok && p.peer !== '10.0.10.1'
      ? { result: `${p.detail}: expected the LAN host's own address`, ok: false }
      : { result: p.ok ? `${p.detail} (routed, not translated)` : p.detail, ok: p.ok });
}

/**
 * The tutorial's NAT: the WAN host forgets its route back to the LAN, so only a masquerade in the
 * router lets the LAN reach it; then the WAN server sees the router's WAN address. The rule lives in
 * the router namespace's own nf_tables table, made over netlink (no iptables run).
 */
async function proveNat(lab: Lab, report: Report): Promise<void> {
  report.section('connectivity through the router with NAT: ns.firewall.masquerade inside the router namespace only');
  const [router, wan] = [lab.ns('router'), lab.ns('wan')];
  await report.timed(`ip -n wan route del 10.0.10.0/24 via ${ROUTER_WAN} (the WAN knows no way back to the LAN)`, () => wan.routes.delete({ destination: '10.0.10.0/24', gateway: ROUTER_WAN }));
  await report.timed(`${label(ROUTED)}, connectTimeout ${BLOCKED_TIMEOUT_MS} ms`, () => proveConnectivity(lab, ROUTED, BLOCKED_TIMEOUT_MS), (p) =>
    p.ok || (p.code !== 'ETIMEDOUT' && p.code !== 'EHOSTUNREACH')
      ? { result: `UNEXPECTED without NAT and without a route back: ${p.detail}`, ok: false }
      : { result: `blocked, as expected: ${p.detail}`, ok: true });
  await report.timed('ip netns exec router iptables -t nat -A POSTROUTING -s 10.0.10.0/24 -o veth-wan-ns -j MASQUERADE', () =>
    router.firewall.masquerade({ source: '10.0.10.0/24', outInterface: 'veth-wan-ns', comment: 'demo' }));
  await report.timed(label(ROUTED), () => proveConnectivity(lab, ROUTED), (p) =>
    p.ok && p.peer !== ROUTER_WAN
      ? { result: `${p.detail}: expected the router's WAN address`, ok: false }
      : { result: p.ok ? `${p.detail} (translated: the router's WAN address)` : p.detail, ok: p.ok });
  const rules = await report.timed('ip netns exec router iptables -t nat -L POSTROUTING -n -v', () => router.firewall.list());
  report.text(
    'the router\'s NAT rules read back (ns.firewall.list)',
    rules.map((r) => `${r.family} ${r.table} ${r.chain} handle ${r.handle}: ${JSON.stringify(r.match)} -> ${r.action?.kind}, ${r.counters?.packets} packets ${r.counters?.bytes} bytes${r.comment ? ` (${r.comment})` : ''}`),
  );
}

async function buildAndProve(lab: Lab, report: Report): Promise<void> {
  for (const t of TOPOLOGIES) {
    report.section(t.title);
    await t.build(lab);
  }
  report.text('what the namespaces hold now, read back through ns.links / ns.addresses / ns.routes (IPv4)', await inventory(lab));
  report.section(`connectivity (${PROOF_METHOD})`);
  for (const t of TOPOLOGIES) {
    for (const c of t.checks) await report.timed(label(c), () => proveConnectivity(lab, c), asResult);
  }
  await proveForwarding(lab, report);
  await proveNat(lab, report);
  await monitoring(lab, report, PREFIX);
}

/** The tutorial's "Bandwidth Limiting": its own namespaces (a second host), so it runs in a lab of its own. */
async function bandwidth(lab: Lab, report: Report): Promise<void> {
  report.section("bandwidth limiting: the tutorial's tbf by ns.tc, then ingress shaping through an ifb; TCP bulk transfers between the namespaces, no iperf3");
  await demoBandwidth(lab, report);
}

/** The signal that interrupted the run (Ctrl-C is SIGINT), if one did. */
let interrupted: NodeJS.Signals | undefined;

/**
 * Ctrl-C or SIGTERM at any step: no further step starts (the one running finishes: at most the
 * length of one timed transfer), then the usual teardown removes every namespace of the run and
 * the process exits with 128 + the signal's number, as a shell reports a process the signal killed.
 * A second signal while removing changes nothing: leaving pins behind is worse than a few hundred
 * milliseconds' wait. Tested in test/integration/interrupt.test.ts.
 */
function stopOnSignals(report: Report, phase: () => 'run' | 'teardown'): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (interrupted === undefined) console.error(`\n${sig}: stopping after the current step and removing every ${PREFIX}* namespace`);
      interrupted ??= sig;
      if (phase() === 'run') report.refuse(new Error(`interrupted by ${sig}`));
    });
  }
}

async function main(): Promise<number> {
  console.log(`netns-native demo: the tutorial's topologies and router scenario through netlink and in-namespace sockets, no process spawned; namespaces are named ${PREFIX}<role>`);
  const before = await ownLinks();
  const forwardBefore = ownForwarding();
  const report = new Report();
  const lab = new Lab((role) => PREFIX + role, report.step);
  const bwLab = new Lab((role) => `${PREFIX}bw-${role}`, report.step);
  let failure: unknown;
  let phase: 'run' | 'teardown' = 'run';
  stopOnSignals(report, () => phase);
  try {
    await buildAndProve(lab, report);
    await bandwidth(bwLab, report);
  } catch (e) {
    failure = e;
  } finally {
    phase = 'teardown';
    report.accept();
    report.section('teardown');
    for (const l of [lab, bwLab]) {
      try {
        await l.teardown();
      } catch (e) {
        failure ??= e;
      }
    }
  }
  const left = await leftovers();
  const after = await ownLinks();
  const forwardAfter = ownForwarding();
  const [all, traffic, shaping, teardown] = [report.total(), report.total('connectivity'), report.total('bandwidth'), report.total('teardown')];
  report.note(`${report.steps} steps, ${all.toFixed(1)} ms in all: build ${(all - traffic - shaping - teardown).toFixed(1)} ms, connectivity ${traffic.toFixed(1)} ms, bandwidth ${shaping.toFixed(1)} ms (mostly timed transfers), teardown ${teardown.toFixed(1)} ms`);
  report.note(left.length === 0 ? `left behind: nothing (no ${PREFIX}* namespace in /run/netns)` : `LEFT BEHIND: ${left.join(' ')}`);
  report.note(before === after ? `this process's own namespace untouched: links before and after are [${after}]` : `OWN NAMESPACE CHANGED: links were [${before}], now [${after}]`);
  report.note(forwardBefore === forwardAfter
    ? `and its net.ipv4.ip_forward (read from /proc/sys) is ${forwardAfter} before and after: only the router's was switched`
    : `OWN ip_forward CHANGED: was ${forwardBefore}, now ${forwardAfter}`);
  console.log(report.render());
  if (interrupted !== undefined) {
    console.error(`\ninterrupted by ${interrupted}; ${left.length === 0 ? 'nothing left behind' : `LEFT BEHIND: ${left.join(' ')}`}`);
    return 128 + constants.signals[interrupted];
  }
  if (failure !== undefined) console.error(`\ndemo failed: ${failure instanceof Error ? failure.stack ?? failure.message : String(failure)}`);
  return failure === undefined && report.ok && left.length === 0 && before === after && forwardBefore === forwardAfter ? 0 : 1;
}

process.exitCode = await main();

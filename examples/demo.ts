/**
 * `npm run demo`: builds the tutorial's topologies with the library, shows what the kernel then
 * reports, proves that traffic flows with TCP sockets made inside the namespaces, prints how long
 * each step took, and removes everything, even when a step fails. It starts no process.
 *
 * Every namespace is named `demo-<pid>-<role>`, so runs never collide; the process's own namespace
 * is only read (its links are listed before and after, to show it was left alone).
 * @module
 */
import { Netns } from '../lib/index.js';
import { PROOF_METHOD, proveConnectivity, type Proof } from './connectivity.js';
import { inventory } from './inventory.js';
import { Report } from './report.js';
import { Lab, blue, bridgedContainer, redGreenDirect, type Check, type Topology } from './topologies.js';

const PREFIX = `demo-${process.pid}-`;
const TOPOLOGIES: Topology[] = [blue, redGreenDirect, bridgedContainer];

/** Names of the links of the namespace this process runs in (read only). */
async function ownLinks(): Promise<string> {
  await using own = await Netns.current();
  return (await own.links.list()).map((l) => l.name).sort().join(', ');
}

/** Namespaces with this run's prefix still pinned under /run/netns. */
async function leftovers(): Promise<string[]> {
  return (await Netns.list()).map((e) => e.name).filter((n) => n.startsWith(PREFIX));
}

const label = (c: Check): string => `${c.what}: ${c.from} -> ${c.to}`;
const asResult = (p: Proof): { result: string; ok: boolean } => ({ result: p.detail, ok: p.ok });

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
}

async function main(): Promise<number> {
  console.log(`netns-native demo: the tutorial's topologies through netlink and in-namespace sockets, no process spawned; namespaces are named ${PREFIX}<role>`);
  const before = await ownLinks();
  const report = new Report();
  const lab = new Lab((role) => PREFIX + role, report.step);
  let failure: unknown;
  try {
    await buildAndProve(lab, report);
  } catch (e) {
    failure = e;
  } finally {
    report.section('teardown');
    try {
      await lab.teardown();
    } catch (e) {
      failure ??= e;
    }
  }
  const left = await leftovers();
  const after = await ownLinks();
  const [all, traffic, teardown] = [report.total(), report.total('connectivity'), report.total('teardown')];
  report.note(`${report.steps} steps, ${all.toFixed(1)} ms in all: build ${(all - traffic - teardown).toFixed(1)} ms, connectivity ${traffic.toFixed(1)} ms, teardown ${teardown.toFixed(1)} ms`);
  report.note(left.length === 0 ? `left behind: nothing (no ${PREFIX}* namespace in /run/netns)` : `LEFT BEHIND: ${left.join(' ')}`);
  report.note(before === after ? `this process's own namespace untouched: links before and after are [${after}]` : `OWN NAMESPACE CHANGED: links were [${before}], now [${after}]`);
  console.log(report.render());
  if (failure !== undefined) console.error(`\ndemo failed: ${failure instanceof Error ? failure.stack ?? failure.message : String(failure)}`);
  return failure === undefined && report.ok && left.length === 0 && before === after ? 0 : 1;
}

process.exitCode = await main();

/**
 * iproute2 as the oracle: after setup, before teardown, every method must have built the same
 * thing. Checked on the first repetition of each workload (untimed).
 */
import { execFileSync } from 'node:child_process';
import { GATEWAY, type Plan } from './workloads.js';

function ipJson(ns: string, args: string[]): any[] {
  const out = execFileSync('ip', ['-n', ns, '-j', ...args], { encoding: 'utf8' });
  return out.trim() ? JSON.parse(out) : [];
}

function fail(plan: Plan, what: string): never {
  throw new Error(`verification failed (${plan.variant}, N=${plan.n}, ${plan.tag}): ${what}`);
}

/** The host bridge has N ports, all up; sampled pods have lo and eth0 up, their address and default route. */
export function verifyPods(plan: Plan): void {
  const ports = ipJson(plan.host, ['link', 'show', 'master', 'br0']);
  if (ports.length !== plan.n) fail(plan, `br0 has ${ports.length} ports, expected ${plan.n}`);
  const down = ports.filter((l) => !l.flags.includes('UP'));
  if (down.length > 0) fail(plan, `${down.length} host-side veths are down`);
  const sample = [...new Set([0, plan.n >> 1, plan.n - 1])];
  for (const i of sample) {
    const pod = plan.pod(i);
    const links = ipJson(pod, ['link', 'show']);
    const names = links.map((l) => l.ifname).sort();
    if (names.join(',') !== 'eth0,lo') fail(plan, `${pod} has links ${names.join(',')}`);
    for (const l of links) if (!l.flags.includes('UP')) fail(plan, `${pod}: ${l.ifname} is down`);
    const addrs = ipJson(pod, ['-4', 'addr', 'show', 'dev', 'eth0']).flatMap((l) => l.addr_info);
    const want = plan.address(i);
    if (!addrs.some((a) => `${a.local}/${a.prefixlen}` === want)) fail(plan, `${pod}: eth0 lacks ${want}`);
    const routes = ipJson(pod, ['route', 'show', 'default']);
    if (routes.length !== 1 || routes[0].gateway !== GATEWAY || routes[0].dev !== 'eth0') fail(plan, `${pod}: default route is ${JSON.stringify(routes)}`);
  }
}

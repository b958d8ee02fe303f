/**
 * The CNI bridge plugin's pod setup, done four ways: by the library (veth peer created in the pod,
 * or created on the host side and moved), by one `ip` process per operation, and by `ip -batch`.
 *
 * Every way does the same operations, one `ip` command per library call, so that ip gets the
 * fewest processes the library's requests allow (`link add ... master br0 up` in one command, as the
 * library sends one request):
 *
 *   host namespace: netns add H; link add br0 type bridge; addr add 10.200.0.1/16 dev br0; link set br0 up
 *   per pod i:      netns add P
 *     fast:         ip -n H link add vethI master br0 up type veth peer name eth0 netns P
 *                   ip -n P link set eth0 up
 *     move:         ip -n H link add vethI master br0 up type veth peer name tmpI
 *                   ip -n H link set tmpI netns P name eth0
 *                   ip -n P link set eth0 up
 *                   ip -n P link set lo up; addr add ADDR/16 dev eth0; route add default via 10.200.0.1
 *   teardown:       netns del P (the pod's eth0 takes the host's vethI with it), then netns del H
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns } from '../lib/index.js';
import { timedExec } from './util.js';

export type Variant = 'fast' | 'move';

/** Names and addresses of one run. */
export class Plan {
  readonly host: string;
  constructor(readonly prefix: string, readonly tag: string, readonly n: number, readonly variant: Variant) {
    this.host = `${prefix}${tag}-h`;
  }
  pod(i: number): string {
    return `${this.prefix}${this.tag}-p${i}`;
  }
  /** 10.200.0.2 ... inside 10.200.0.0/16; the bridge is 10.200.0.1. */
  address(i: number): string {
    const k = i + 2;
    return `10.200.${k >> 8}.${k & 255}/16`;
  }
}

export const GATEWAY = '10.200.0.1';

/** Wall-clock of the two phases, in ms. */
export interface PhaseTimes {
  setup: number;
  teardown: number;
  total: number;
}

/** Extra work done while every pod exists (between setup and teardown), untimed. */
export type Between = (plan: Plan) => Promise<void> | void;

/**
 * The library: every pod set up concurrently, the way an agent handles a burst of pods; or, with
 * `oneByOne`, one pod after another and each call awaited, the way a CNI plugin (one process per
 * pod) or a simple agent is written, which is what the C floor does.
 */
export async function libraryRun(plan: Plan, between?: Between, oneByOne = false): Promise<PhaseTimes> {
  const t0 = performance.now();
  const host = await Netns.create(plan.host);
  const pods: Netns[] = [];
  const pod = async (i: number) => {
    const pod = await Netns.create(plan.pod(i));
    pods.push(pod);
    if (plan.variant === 'fast') {
      await host.links.add({ kind: 'veth', name: `veth${i}`, master: 'br0', up: true, peer: { name: 'eth0', netns: pod, up: true } });
    } else {
      await host.links.add({ kind: 'veth', name: `veth${i}`, master: 'br0', up: true, peer: { name: `tmp${i}` } });
      await host.links.moveTo(`tmp${i}`, pod, { name: 'eth0' });
      await pod.links.setUp('eth0');
    }
    await pod.links.setUp('lo');
    await pod.addresses.add('eth0', plan.address(i));
    await pod.routes.add({ destination: 'default', gateway: GATEWAY });
  };
  try {
    await host.links.add({ kind: 'bridge', name: 'br0', up: true });
    await host.addresses.add('br0', `${GATEWAY}/16`);
    if (oneByOne) for (let i = 0; i < plan.n; i++) await pod(i);
    else await Promise.all(Array.from({ length: plan.n }, (_, i) => pod(i)));
    const t1 = performance.now();
    if (between) await between(plan); // not part of the workload
    const t1b = performance.now();
    if (oneByOne) for (const p of pods) await p.delete();
    else await Promise.all(pods.map((p) => p.delete()));
    await host.delete();
    const t2 = performance.now();
    return { setup: t1 - t0, teardown: t2 - t1b, total: t1 - t0 + (t2 - t1b) };
  } finally {
    await Promise.all(pods.map((p) => p.close()));
    await host.close();
  }
}

function podCommands(plan: Plan, i: number): string[] {
  return [
    'link set eth0 up',
    'link set lo up',
    `addr add ${plan.address(i)} dev eth0`,
    `route add default via ${GATEWAY}`,
  ];
}

function hostVethCommands(plan: Plan, i: number): string[] {
  return plan.variant === 'fast'
    ? [`link add veth${i} master br0 up type veth peer name eth0 netns ${plan.pod(i)}`]
    : [`link add veth${i} master br0 up type veth peer name tmp${i}`, `link set tmp${i} netns ${plan.pod(i)} name eth0`];
}

const HOST_BRIDGE = ['link add br0 type bridge', `addr add ${GATEWAY}/16 dev br0`, 'link set br0 up'];

/** Scripts for `sh -e`, written once per plan; only running them is timed. */
export class IpScripts {
  readonly dir: string;
  constructor(readonly plan: Plan) {
    this.dir = mkdtempSync(join(tmpdir(), `${plan.prefix}${plan.tag}-`));
  }

  private write(name: string, lines: string[]): string {
    const path = join(this.dir, name);
    writeFileSync(path, lines.join('\n') + '\n');
    return path;
  }

  /** One `ip` process per operation. */
  perProcess(): { setup: string; teardown: string } {
    const p = this.plan;
    const setup = [`ip netns add ${p.host}`, ...HOST_BRIDGE.map((c) => `ip -n ${p.host} ${c}`)];
    for (let i = 0; i < p.n; i++) {
      setup.push(`ip netns add ${p.pod(i)}`);
      for (const c of hostVethCommands(p, i)) setup.push(`ip -n ${p.host} ${c}`);
      for (const c of podCommands(p, i)) setup.push(`ip -n ${p.pod(i)} ${c}`);
    }
    const teardown = Array.from({ length: p.n }, (_, i) => `ip netns del ${p.pod(i)}`);
    teardown.push(`ip netns del ${p.host}`);
    return { setup: this.write('per-process-setup.sh', setup), teardown: this.write('per-process-teardown.sh', teardown) };
  }

  /**
   * As few `ip` processes as batch mode allows. A batch line cannot name a namespace (`-n` is a
   * command-line option; `netns exec` in a batch forks a process per line anyway, and `netns add`
   * under `-n` pins a namespace the caller cannot see, since `-n` runs in a private mount
   * namespace), so: one batch of `netns add`, one batch in the host namespace for the bridge and
   * every veth, one batch per pod for its own four operations, one batch of `netns del`.
   */
  batch(): { setup: string; teardown: string } {
    const p = this.plan;
    const adds = this.write('netns-add.batch', [`netns add ${p.host}`, ...Array.from({ length: p.n }, (_, i) => `netns add ${p.pod(i)}`)]);
    const host: string[] = [...HOST_BRIDGE];
    for (let i = 0; i < p.n; i++) host.push(...hostVethCommands(p, i));
    const hostFile = this.write('host.batch', host);
    const setup = [`ip -batch ${adds}`, `ip -n ${p.host} -batch ${hostFile}`];
    for (let i = 0; i < p.n; i++) setup.push(`ip -n ${p.pod(i)} -batch ${this.write(`pod${i}.batch`, podCommands(p, i))}`);
    const dels = this.write('netns-del.batch', [...Array.from({ length: p.n }, (_, i) => `netns del ${p.pod(i)}`), `netns del ${p.host}`]);
    return { setup: this.write('batch-setup.sh', setup), teardown: this.write('batch-teardown.sh', [`ip -batch ${dels}`]) };
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Run a pair of scripts generated by {@link IpScripts}. */
export async function scriptRun(scripts: { setup: string; teardown: string }, plan: Plan, between?: Between): Promise<PhaseTimes> {
  const setup = await timedExec('sh', ['-e', scripts.setup]);
  if (between) await between(plan);
  const teardown = await timedExec('sh', ['-e', scripts.teardown]);
  return { setup, teardown, total: setup + teardown };
}

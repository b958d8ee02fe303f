/**
 * Issue 16: the native executable (build/Release/netns-native-bridge, native/cni_shim.c) that hands
 * each invocation to the resident agent (netns-native-cni-agent, lib/cni/agent.ts), run exactly as
 * a runtime runs a plugin, side by side with the Node.js executable: the same results, the same
 * namespace state (iproute2 as the oracle) and the same errors. The agent does the host side in
 * the namespace the shim ran in (passed as an fd), never in its own. Without an agent, or for a
 * delegated IPAM type, the shim runs the Node.js plugin. Concurrent ADDs through one agent share
 * the store's lock; a shim killed mid-ADD leaves nothing DEL cannot remove; a killed agent's stale
 * socket is taken over by the next one.
 */
import { chmodSync, existsSync, readFileSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns } from '../../lib/index.js';
import { ipJson, nsName, run } from './helpers.js';
import {
  OUR_SHIM, REFERENCE_DIR, type AgentProcess, assertBuilt, expectSpecError, expectSpecResult, normalizeCniResult, normalizeIpJson, nsState, ourCniPath,
  runPlugin, startAgentProcess, tempDir,
} from './cni_helpers.js';

interface Side {
  label: 'node' | 'shim';
  plugin: string;
  cniPath: string;
  host: Netns;
  containers: Netns[];
  dataDir: string;
  env: Record<string, string>;
}
const C = 4;
const sides: Side[] = [];
let agent: AgentProcess;

const call = (side: Side, command: string, i: number, config: unknown, extra: { containerId?: string; netns?: string; ifName?: string; env?: Record<string, string> } = {}) =>
  runPlugin({
    plugin: side.plugin, hostNs: side.host.name!, command, cniPath: side.cniPath, ifName: 'ifName' in extra ? extra.ifName : 'eth0',
    containerId: extra.containerId ?? `ctr-${i}`, netns: extra.netns ?? side.containers[i].path!, config, env: { ...side.env, ...extra.env },
  });

function conf(side: Side, network: string, body: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cniVersion: '1.0.0', name: network, type: 'netns-native-bridge', bridge: 'shimbr0', isGateway: true, isDefaultGateway: true, ipMasq: true, hairpinMode: true,
    ipam: { type: 'host-local', ranges: [[{ subnet: '10.97.0.0/24' }], [{ subnet: 'fd00:97::/64' }]], dataDir: side.dataDir },
    ...body,
  };
}

const store = (s: Side, network: string) =>
  Object.fromEntries(readdirSync(join(s.dataDir, network)).filter((f) => f !== 'lock').map((f) => [f, readFileSync(join(s.dataDir, network, f), 'utf8')]));
// nft is the oracle for the masquerade rules.
const masqueradeComments = (s: Side) =>
  JSON.parse(run('ip', ['netns', 'exec', s.host.name!, 'nft', '-j', 'list', 'ruleset'])).nftables.filter((o: any) => o.rule).map((o: any) => o.rule.comment).sort();

beforeAll(async () => {
  assertBuilt();
  if (!existsSync(OUR_SHIM)) throw new Error(`${OUR_SHIM} missing: run npx node-gyp rebuild first`);
  agent = await startAgentProcess();
  const node = ourCniPath();
  const shim = ourCniPath(OUR_SHIM);
  // A delegated IPAM plugin for the fallback case: the reference's `static`, when installed.
  if (existsSync(join(REFERENCE_DIR, 'static'))) symlinkSync(join(REFERENCE_DIR, 'static'), join(shim, 'static'));
  for (const label of ['node', 'shim'] as const) {
    const host = await Netns.create(nsName(`s${label[0]}h`));
    const containers: Netns[] = [];
    for (let i = 0; i < C; i++) containers.push(await Netns.create(nsName(`s${label[0]}c${i}`)));
    sides.push({
      label, host, containers, dataDir: tempDir(`shim-${label}`),
      plugin: join(label === 'node' ? node : shim, 'netns-native-bridge'),
      cniPath: label === 'node' ? node : shim,
      // No Node.js plugin to fall back to: whatever the shim side answers, the agent answered.
      env: label === 'shim' ? { NETNS_NATIVE_CNI_SOCKET: agent.socket, NETNS_NATIVE_CNI_NODE_PLUGIN: '/nonexistent' } : {},
    });
  }
});

afterAll(async () => {
  await agent?.stop();
  for (const s of sides) {
    for (const c of s.containers) await c.delete({ ifExists: true }).catch(() => undefined);
    await s.host.delete({ ifExists: true }).catch(() => undefined);
  }
});

describe.sequential('the native shim + agent against the Node.js executable', { timeout: 120_000 }, () => {
  it('ADD, CHECK and DEL for several containers: the same results, namespace state, store and NAT rules', async () => {
    const [node, shim] = sides;
    const results: any[][] = [[], []];
    for (let i = 0; i < C; i++) {
      for (const [k, side] of sides.entries()) {
        const r = await call(side, 'ADD', i, conf(side, 'sh'));
        expect(r.code, `${side.label}: ${r.stdout}${r.stderr}`).toBe(0);
        expectSpecResult(r.json, '1.0.0');
        results[k].push(r.json);
      }
      expect(normalizeCniResult(results[1][i], shim.containers)).toEqual(normalizeCniResult(results[0][i], node.containers));
    }
    // The agent did the host side in the shim's namespace: the bridge is there, not in the agent's own.
    expect(ipJson(['link', 'show', 'shimbr0'], shim.host.name)).toHaveLength(1);
    expect(ipJson(['link', 'show']).map((l: any) => l.ifname)).not.toContain('shimbr0');
    // IPv6 gateway addresses on the bridges finish DAD (~1 s) before the state is read.
    await new Promise((r) => setTimeout(r, 2500));
    for (let i = 0; i < C; i++) expect(nsState(shim.containers[i].name!)).toEqual(nsState(node.containers[i].name!));
    expect(nsState(shim.host.name!)).toEqual(nsState(node.host.name!));
    expect(store(shim, 'sh')).toEqual(store(node, 'sh'));
    expect(masqueradeComments(shim)).toEqual(masqueradeComments(node));
    for (let i = 0; i < C; i++) {
      for (const [k, side] of sides.entries()) {
        const r = await call(side, 'CHECK', i, { ...conf(side, 'sh'), prevResult: results[k][i] });
        expect(r.code, `${side.label}: ${r.stdout}${r.stderr}`).toBe(0);
        expect(r.stdout).toBe('');
      }
    }
    for (let i = 0; i < C; i++) {
      for (const side of sides) {
        for (const attempt of [1, 2]) {
          const r = await call(side, 'DEL', i, conf(side, 'sh'));
          expect(r.code, `${side.label} DEL ${attempt}: ${r.stdout}${r.stderr}`).toBe(0);
          expect(r.stdout).toBe('');
        }
      }
    }
    for (let i = 0; i < C; i++) expect(ipJson(['link', 'show'], shim.containers[i].name).map((l: any) => l.ifname)).toEqual(['lo']);
    // The bridge's carrier goes down a moment after its last port went (routes' linkdown flag): links only.
    const links = (h: Netns) => normalizeIpJson(ipJson(['link', 'show'], h.name)).map((l: any) => l.ifname);
    expect(links(shim.host)).toEqual(['lo', 'shimbr0']);
    expect(links(node.host)).toEqual(links(shim.host));
    expect(store(shim, 'sh')).toEqual(store(node, 'sh'));
    expect(masqueradeComments(shim)).toEqual([]);
  });

  const bad: [string, (s: Side) => unknown, { netns?: string; ifName?: string; before?: boolean }][] = [
    ['an unsupported cniVersion', (s) => ({ ...conf(s, 'bv'), cniVersion: '9.9.9' }), {}],
    ['an exhausted range', (s) => conf(s, 'ex', { bridge: 'shimex', ipam: { type: 'host-local', subnet: '10.98.0.0/30', dataDir: s.dataDir } }), { before: true }],
    ['a CNI_NETNS that does not exist', (s) => conf(s, 'nn'), { netns: '/run/netns/cni-test-no-such-namespace' }],
    ['a missing CNI_IFNAME', (s) => conf(s, 'ni'), { ifName: undefined }],
    ['a configuration that is not JSON', () => '{"cniVersion": "1.0.0", "name": ', {}],
    ['hairpin and promiscuous mode together', (s) => conf(s, 'hp', { promiscMode: true }), {}],
  ];
  for (const [what, make, opts] of bad) {
    it(`the same CNI error JSON and exit status for ${what}`, async () => {
      const outs = [];
      for (const side of sides) {
        if (opts.before) expect((await call(side, 'ADD', 0, make(side), { containerId: 'first' })).code).toBe(0);
        const r = await call(side, 'ADD', 1, make(side), { containerId: 'second', ...(opts.netns ? { netns: opts.netns } : {}), ...('ifName' in opts ? { ifName: opts.ifName } : {}) });
        outs.push(r);
        await call(side, 'DEL', 1, make(side), { containerId: 'second' });
        if (opts.before) await call(side, 'DEL', 0, make(side), { containerId: 'first' });
      }
      const [node, shim] = outs;
      expect(node.code).toBe(1);
      expectSpecError(node.json);
      expect(shim.code).toBe(node.code);
      expect(shim.stdout).toBe(node.stdout);
      expect(ipJson(['link', 'show'], sides[1].containers[1].name).map((l: any) => l.ifname)).toEqual(['lo']);
    });
  }

  it('VERSION and an unknown CNI_COMMAND: the same output and status', async () => {
    for (const command of ['VERSION', 'BOGUS']) {
      const [node, shim] = await Promise.all(sides.map((s) => call(s, command, 0, { cniVersion: '0.4.0' })));
      expect(shim.code).toBe(node.code);
      expect(shim.stdout).toBe(node.stdout);
    }
  });

  it('50 concurrent ADDs through one agent: distinct addresses, one file each; then concurrent DELs', async () => {
    const shim = sides[1];
    const extra = await Promise.all(Array.from({ length: 50 - C }, (_, k) => Netns.create(nsName(`sx${k}`))));
    // The agent keeps nothing per invocation: its descriptors (sockets, namespace fds) come back to where they were.
    const agentFds = () => readdirSync(`/proc/${agent.child.pid}/fd`).length;
    const fdsBefore = agentFds();
    try {
      const nss = [...shim.containers, ...extra];
      const cfg = conf(shim, 'cc');
      const runs = await Promise.all(nss.map((ns, i) => call(shim, 'ADD', i, cfg, { netns: ns.path! })));
      for (const r of runs) expect(r.code, r.stdout + r.stderr).toBe(0);
      const v4 = runs.map((r) => r.json.ips[0].address);
      expect(new Set(v4).size).toBe(nss.length);
      expect(Object.keys(store(shim, 'cc')).filter((f) => !f.startsWith('last_')).length).toBe(2 * nss.length);
      const dels = await Promise.all(nss.map((ns, i) => call(shim, 'DEL', i, cfg, { netns: ns.path! })));
      for (const r of dels) expect(r.code, r.stdout).toBe(0);
      expect(Object.keys(store(shim, 'cc')).filter((f) => !f.startsWith('last_'))).toEqual([]);
      expect(ipJson(['link', 'show'], shim.host.name).filter((l: any) => l.ifname.startsWith('veth'))).toEqual([]);
      // A DEL resolves once the veth is unlisted; the agent's sender thread keeps the socket it sent
      // on until the kernel's RCU barrier ends (docs/threading.md, "Link deletions: sender threads"):
      // wait for those to close, a leak would not.
      for (let i = 0; i < 100 && agentFds() !== fdsBefore; i++) await new Promise((r) => setTimeout(r, 20));
      expect(agentFds()).toBe(fdsBefore);
    } finally {
      for (const ns of extra) await ns.delete({ ifExists: true });
    }
  });

  it('a shim run by another user gets nothing done through the agent: not through the socket\'s modes, nor with them loosened', async () => {
    const shim = sides[1];
    const dir = dirname(agent.socket);
    const modes = [statSync(dir).mode & 0o777, statSync(agent.socket).mode & 0o777];
    const asNobody = () =>
      runPlugin({
        plugin: 'setpriv', hostNs: shim.host.name!, command: 'ADD', cniPath: shim.cniPath, ifName: 'eth0', containerId: 'ctr-nobody',
        netns: shim.containers[0].path!, config: conf(shim, 'nobody'), env: shim.env,
        // setpriv drops to nobody (no capabilities) and execs the shim, as a runtime running as that user would.
        argv: ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', shim.plugin],
      });
    const hostVeths = () => ipJson(['link', 'show'], shim.host.name).filter((l: any) => l.ifname.startsWith('veth'));
    try {
      // 0600 in a 0700 directory: the kernel refuses the connection; then, loosened to 0666 in 0711,
      // the shim reaches the socket but finds the agent is not of its own user (SO_PEERCRED).
      for (const loosen of [false, true]) {
        if (loosen) {
          chmodSync(dir, 0o711);
          chmodSync(agent.socket, 0o666);
        }
        const r = await asNobody();
        // The shim itself ran (as nobody), found no agent it may use, and had no Node.js plugin to fall back to.
        expect(r.code, r.stdout + r.stderr).toBe(1);
        expect((r.json as { msg?: string } | undefined)?.msg).toMatch(/agent not reachable/);
        expect(hostVeths()).toEqual([]);
        expect(existsSync(join(shim.dataDir, 'nobody'))).toBe(false);
        expect(ipJson(['link', 'show'], shim.containers[0].name).map((l: any) => l.ifname)).toEqual(['lo']);
      }
    } finally {
      chmodSync(dir, modes[0]);
      chmodSync(agent.socket, modes[1]);
    }
  });

  it('a shim killed mid-ADD: the agent finishes, DEL removes everything', async () => {
    const shim = sides[1];
    const cfg = conf(shim, 'kill');
    const outcomes: string[] = [];
    for (const delay of [0, 1, 2, 4, 8]) {
      const killed = await runPlugin({
        plugin: shim.plugin, hostNs: shim.host.name!, command: 'ADD', cniPath: shim.cniPath, ifName: 'eth0', containerId: 'ctr-2',
        netns: shim.containers[2].path!, config: cfg, env: shim.env, onSpawn: (child) => setTimeout(() => child.kill('SIGKILL'), delay),
      });
      outcomes.push(killed.signal ? `killed at ${delay} ms` : `finished (${killed.code})`);
      // The runtime's DEL right away: the agent runs it after the ADD of the same container.
      const del = await call(shim, 'DEL', 2, cfg);
      expect(del.code, del.stdout).toBe(0);
      expect(ipJson(['link', 'show'], shim.containers[2].name).map((l: any) => l.ifname)).toEqual(['lo']);
      expect(Object.keys(store(shim, 'kill')).filter((f) => !f.startsWith('last_'))).toEqual([]);
      expect(ipJson(['link', 'show'], shim.host.name).filter((l: any) => l.ifname.startsWith('veth'))).toEqual([]);
    }
    console.log(`shim kills: ${outcomes.join(', ')}`);
    expect(outcomes.some((o) => o.startsWith('killed'))).toBe(true);
  });

  it('a large configuration (2 MiB of extra keys) goes through the agent as through the Node.js executable', async () => {
    const outs = [];
    for (const side of sides) {
      const cfg = { ...conf(side, 'big'), padding: 'x'.repeat(2 << 20) };
      const add = await call(side, 'ADD', 1, cfg);
      expect(add.code, add.stdout.slice(0, 500) + add.stderr).toBe(0);
      outs.push(add.json);
      expect((await call(side, 'DEL', 1, cfg)).code).toBe(0);
    }
    expect(normalizeCniResult(outs[1], sides[1].containers)).toEqual(normalizeCniResult(outs[0], sides[0].containers));
  });

  it('the socket is 0600 in a 0700 directory; SIGTERM unlinks it', async () => {
    const extra = await startAgentProcess();
    expect(statSync(extra.socket).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(extra.socket)).mode & 0o777).toBe(0o700);
    await extra.stop();
    expect(extra.child.signalCode ?? extra.child.exitCode).toBe(0);
    expect(existsSync(extra.socket)).toBe(false);
  });

  it('without an agent (no socket; a stale socket of a killed agent) the shim runs the Node.js plugin; a new agent takes the socket over', async () => {
    const shim = sides[1];
    const cfg = conf(shim, 'fb');
    const fallbackEnv = { NETNS_NATIVE_CNI_NODE_PLUGIN: '' };
    for (const socket of [join(tempDir('none'), 'cni.sock'), agent.socket]) {
      if (socket === agent.socket) {
        agent.child.kill('SIGKILL');
        await agent.stop();
        expect(existsSync(socket)).toBe(true);
      }
      const add = await call(shim, 'ADD', 3, cfg, { env: { ...fallbackEnv, NETNS_NATIVE_CNI_SOCKET: socket } });
      expect(add.code, add.stdout + add.stderr).toBe(0);
      expectSpecResult(add.json, '1.0.0');
      const del = await call(shim, 'DEL', 3, cfg, { env: { ...fallbackEnv, NETNS_NATIVE_CNI_SOCKET: socket } });
      expect(del.code, del.stdout).toBe(0);
    }
    agent = await startAgentProcess(agent.socket);
    const add = await call(shim, 'ADD', 3, cfg);
    expect(add.code, add.stdout + add.stderr).toBe(0);
    expect((await call(shim, 'DEL', 3, cfg)).code).toBe(0);
  });

  it.skipIf(!existsSync(join(REFERENCE_DIR, 'static')))('a delegated IPAM type: the agent sends the shim back to the Node.js plugin, which execs it from CNI_PATH', async () => {
    const shim = sides[1];
    const cfg = conf(shim, 'st', { bridge: 'shimst0', ipMasq: false, ipam: { type: 'static', addresses: [{ address: '10.99.0.5/24', gateway: '10.99.0.1' }] } });
    const noFallback = await call(shim, 'ADD', 0, cfg);
    expect(noFallback.json).toMatchObject({ code: 999, msg: expect.stringContaining('Node.js plugin not found') });
    const add = await call(shim, 'ADD', 0, cfg, { env: { NETNS_NATIVE_CNI_NODE_PLUGIN: '' } });
    expect(add.code, add.stdout + add.stderr).toBe(0);
    expect(add.json.ips[0].address).toBe('10.99.0.5/24');
    expect((await call(shim, 'DEL', 0, cfg, { env: { NETNS_NATIVE_CNI_NODE_PLUGIN: '' } })).code).toBe(0);
  });
});

/**
 * Issue 16, "Done when" 2: netns-native-bridge side by side with Debian's reference `bridge` +
 * `host-local` (containernetworking-plugins, /usr/lib/cni), each run as a runtime runs it with its
 * host side in its own namespace. The same configuration must give the same namespace state
 * (normalized `ip -j` in the containers and on the host side; MACs, random veth names and the
 * link-local addresses derived from MACs aside), the same result JSON apart from MACs and names,
 * the same allocation sequence, and the same errors for the same bad configurations.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns } from '../../lib/index.js';
import { ipJson, nsName } from './helpers.js';
import { REFERENCE_DIR, assertBuilt, expectSpecError, expectSpecResult, normalizeCniResult, nsState as state, ourCniPath, runPlugin, tempDir } from './cni_helpers.js';

const haveReference = existsSync(join(REFERENCE_DIR, 'bridge')) && existsSync(join(REFERENCE_DIR, 'host-local'));

interface Side {
  label: 'reference' | 'ours';
  plugin: string;
  type: string;
  cniPath: string;
  host: Netns;
  containers: Netns[];
  dataDir: string;
}
const sides: Side[] = [];
const C = 3;

const normalizeResult = (r: any, side: Side) => normalizeCniResult(r, side.containers);

const call = (side: Side, command: string, i: number, config: unknown, extra: { containerId?: string; netns?: string } = {}) =>
  runPlugin({
    plugin: side.plugin, hostNs: side.host.name!, command, cniPath: side.cniPath, ifName: 'eth0',
    containerId: extra.containerId ?? `ctr-${i}`, netns: extra.netns ?? side.containers[i].path!, config,
  });

function confFor(side: Side, body: Record<string, unknown>, network: string): Record<string, unknown> {
  const ipam = body.ipam as Record<string, unknown> | undefined;
  return { cniVersion: '1.0.0', name: network, type: side.type, ...body, ...(ipam ? { ipam: { ...ipam, dataDir: side.dataDir } } : {}) };
}

beforeAll(async () => {
  if (!haveReference) return;
  assertBuilt();
  const ours = ourCniPath();
  for (const label of ['reference', 'ours'] as const) {
    const host = await Netns.create(nsName(`h${label[0]}`));
    const containers: Netns[] = [];
    for (let i = 0; i < C; i++) containers.push(await Netns.create(nsName(`${label[0]}c${i}`)));
    sides.push({
      label, host, containers, dataDir: tempDir(`ipam-${label}`),
      plugin: label === 'reference' ? join(REFERENCE_DIR, 'bridge') : join(ours, 'netns-native-bridge'),
      type: label === 'reference' ? 'bridge' : 'netns-native-bridge',
      cniPath: label === 'reference' ? REFERENCE_DIR : ours,
    });
  }
});

afterAll(async () => {
  for (const s of sides) {
    for (const c of s.containers) await c.delete({ ifExists: true }).catch(() => undefined);
    await s.host.delete({ ifExists: true }).catch(() => undefined);
  }
});

const dualStack = {
  bridge: 'cni0', isGateway: true, isDefaultGateway: true, mtu: 1400, hairpinMode: true,
  ipam: {
    type: 'host-local',
    ranges: [[{ subnet: '10.90.0.0/24', rangeStart: '10.90.0.10', rangeEnd: '10.90.0.14' }], [{ subnet: 'fd00:90::/64' }]],
    routes: [{ dst: '192.0.2.0/24' }, { dst: '198.51.100.0/24', gw: '10.90.0.1' }],
  },
};

describe.skipIf(!haveReference).sequential('side by side with the reference bridge + host-local', { timeout: 300_000 }, () => {
  it('the same config gives the same results and the same namespace state (containers and host)', async () => {
    const results: any[][] = [[], []];
    for (let i = 0; i < C; i++) {
      for (const [k, side] of sides.entries()) {
        const r = await call(side, 'ADD', i, confFor(side, dualStack, 'dual'));
        expect(r.code, `${side.label}: ${r.stdout}${r.stderr}`).toBe(0);
        expectSpecResult(r.json, '1.0.0');
        results[k].push(r.json);
      }
    }
    for (let i = 0; i < C; i++) expect(normalizeResult(results[1][i], sides[1])).toEqual(normalizeResult(results[0][i], sides[0]));
    // IPv6 gateway addresses on the bridges finish DAD (~1 s) before the state is read.
    await new Promise((r) => setTimeout(r, 2500));
    for (let i = 0; i < C; i++) expect(state(sides[1].containers[i].name!)).toEqual(state(sides[0].containers[i].name!));
    expect(state(sides[1].host.name!)).toEqual(state(sides[0].host.name!));
    for (const key of ['net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding']) {
      const [a, b] = await Promise.all(sides.map((s) => s.host.sysctl.get(key)));
      expect(b).toBe(a);
    }
    // The stores: same files, same contents.
    const store = (s: Side) => Object.fromEntries(readdirSync(join(s.dataDir, 'dual')).filter((f) => f !== 'lock').map((f) => [f, readFileSync(join(s.dataDir, 'dual', f), 'utf8')]));
    expect(store(sides[1])).toEqual(store(sides[0]));
  });

  it('the same allocation sequence across DEL, round robin and wrap-around', async () => {
    const seq: string[][] = [[], []];
    const steps: ['ADD' | 'DEL', string, number][] = [
      ['DEL', 'ctr-1', 1], ['ADD', 'ctr-a', 1], ['DEL', 'ctr-0', 0], ['ADD', 'ctr-b', 0], ['DEL', 'ctr-2', 2], ['ADD', 'ctr-c', 2],
      ['DEL', 'ctr-a', 1], ['ADD', 'ctr-d', 1],
    ];
    for (const [k, side] of sides.entries()) {
      for (const [cmd, id, i] of steps) {
        const r = await call(side, cmd, i, confFor(side, dualStack, 'dual'), { containerId: id });
        expect(r.code, `${side.label} ${cmd} ${id}: ${r.stdout}`).toBe(0);
        if (cmd === 'ADD') seq[k].push(r.json.ips.map((x: any) => x.address).join(','));
      }
    }
    expect(seq[1]).toEqual(seq[0]);
    for (const side of sides) for (let i = 0; i < C; i++) await call(side, 'DEL', i, confFor(side, dualStack, 'dual'), { containerId: ['ctr-b', 'ctr-d', 'ctr-c'][i] });
  });

  const bad: [string, (s: Side) => Record<string, unknown>, { netns?: string; before?: boolean; compareDetails?: boolean }][] = [
    ['missing ipam (layer 2 only: both succeed without addresses)', (s) => confFor(s, { bridge: 'l2br' }, 'l2'), {}],
    ['overlapping range sets', (s) => confFor(s, { bridge: 'ovbr', ipam: { type: 'host-local', ranges: [[{ subnet: '10.91.0.0/24' }], [{ subnet: '10.91.0.0/25' }]] } }, 'ov'), {}],
    ['overlapping ranges inside a set', (s) => confFor(s, { bridge: 'ovbr', ipam: { type: 'host-local', ranges: [[{ subnet: '10.91.0.0/24' }, { subnet: '10.91.0.128/25' }]] } }, 'ov2'), {}],
    ['exhausted range', (s) => confFor(s, { bridge: 'exbr', ipam: { type: 'host-local', subnet: '10.92.0.0/30' } }, 'ex'), { before: true }],
    ['a CNI_NETNS that does not exist', (s) => confFor(s, { bridge: 'nobr', ipam: { type: 'host-local', subnet: '10.93.0.0/24' } }, 'nons'), { netns: '/run/netns/cni-test-no-such-namespace' }],
    ['an unsupported cniVersion', (s) => ({ ...confFor(s, { bridge: 'vbr', ipam: { type: 'host-local', subnet: '10.94.0.0/24' } }, 'ver'), cniVersion: '9.9.9' }), {}],
    ['a missing network name', (s) => { const c = confFor(s, { bridge: 'nbr' }, 'x'); delete c.name; return c; }, { compareDetails: true }],
    ['a subnet with host bits set', (s) => confFor(s, { bridge: 'hbbr', ipam: { type: 'host-local', subnet: '10.95.0.7/24' } }, 'hb'), { compareDetails: true }],
    ['hairpin and promiscuous mode together', (s) => confFor(s, { bridge: 'hpbr', hairpinMode: true, promiscMode: true, ipam: { type: 'host-local', subnet: '10.96.0.0/24' } }, 'hp'), { compareDetails: true }],
  ];
  for (const [what, make, opts] of bad) {
    it(`the same outcome for ${what}`, async () => {
      const outs = [];
      for (const side of sides) {
        if (opts.before) expect((await call(side, 'ADD', 0, make(side), { containerId: 'first' })).code).toBe(0);
        const r = await call(side, 'ADD', 1, make(side), { containerId: 'second', ...(opts.netns ? { netns: opts.netns } : {}) });
        if (r.code !== 0) expectSpecError(r.json);
        outs.push(r);
        // Clean up whatever the attempt left, with each side's own DEL.
        await call(side, 'DEL', 1, make(side), { containerId: 'second' });
        if (opts.before) await call(side, 'DEL', 0, make(side), { containerId: 'first' });
      }
      const [ref, ours] = outs;
      expect(ours.code).toBe(ref.code);
      if (ref.code === 0) {
        expect(normalizeResult(ours.json, sides[1])).toEqual(normalizeResult(ref.json, sides[0]));
      } else {
        expect(ours.json.code).toBe(ref.json.code);
        expect(ours.json.msg).toBe(ref.json.msg);
        if (opts.compareDetails) expect(ours.json.details ?? '').toBe(ref.json.details ?? '');
      }
      // Nothing half-made on our side: no interface left in the container after a failed ADD.
      if (ours.code !== 0) expect(ipJson(['link', 'show'], sides[1].containers[1].name).map((l: any) => l.ifname)).toEqual(['lo']);
    });
  }
});

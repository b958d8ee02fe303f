/**
 * Issue 16, "Done when" 3: 50 concurrent ADDs of the executable on one network allocate 50 distinct
 * addresses and leave a consistent store (the flock(2) on DATADIR/NETWORK/lock, as the reference
 * takes it); a plugin killed (SIGKILL) at any point of its ADD leaves nothing DEL cannot remove.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns } from '../../lib/index.js';
import { ipJson, nsName } from './helpers.js';
import { assertBuilt, ourCniPath, runPlugin, tempDir } from './cni_helpers.js';

const N = 50;
let host: Netns;
const containers: Netns[] = [];
let cniPath: string;
let plugin: string;
let dataDir: string;
let conf: Record<string, unknown>;

const call = (command: string, i: number, onSpawn?: Parameters<typeof runPlugin>[0]['onSpawn']) =>
  runPlugin({ plugin, hostNs: host.name!, command, containerId: `ctr-${i}`, netns: containers[i].path!, ifName: 'eth0', cniPath, config: conf, onSpawn });

const store = () => readdirSync(join(dataDir, 'conc')).sort();
const addressFiles = () => store().filter((f) => f !== 'lock' && !f.startsWith('last_reserved_ip.'));

beforeAll(async () => {
  assertBuilt();
  cniPath = ourCniPath();
  plugin = join(cniPath, 'netns-native-bridge');
  dataDir = tempDir('conc');
  host = await Netns.create(nsName('conchost'));
  for (let i = 0; i < N; i++) containers.push(await Netns.create(nsName(`k${i}`)));
  conf = {
    cniVersion: '1.0.0', name: 'conc', type: 'netns-native-bridge', bridge: 'cni1', isGateway: true, isDefaultGateway: true,
    ipam: { type: 'host-local', ranges: [[{ subnet: '10.66.0.0/24' }], [{ subnet: 'fd00:66::/120' }]], dataDir },
  };
});

afterAll(async () => {
  for (const c of containers) await c.delete({ ifExists: true }).catch(() => undefined);
  await host?.delete({ ifExists: true });
});

describe.sequential('concurrent and interrupted invocations', () => {
  it('50 concurrent ADDs: 50 distinct addresses per family, one file each, the store matching the containers', async () => {
    const runs = await Promise.all(containers.map((_, i) => call('ADD', i)));
    for (const r of runs) expect(r.code, r.stdout + r.stderr).toBe(0);
    const v4 = runs.map((r) => r.json.ips[0].address);
    const v6 = runs.map((r) => r.json.ips[1].address);
    expect(new Set(v4).size).toBe(N);
    expect(new Set(v6).size).toBe(N);
    const files = addressFiles();
    expect(files.length).toBe(2 * N);
    expect(store()).toEqual(expect.arrayContaining(['lock', 'last_reserved_ip.0', 'last_reserved_ip.1']));
    for (const [i, r] of runs.entries()) {
      for (const ip of r.json.ips) {
        const a = ip.address.split('/')[0];
        expect(readFileSync(join(dataDir, 'conc', a), 'utf8')).toBe(`ctr-${i}\r\neth0`);
      }
      const [eth0] = ipJson(['addr', 'show', 'dev', 'eth0'], containers[i].name);
      const global = eth0.addr_info.filter((x: any) => x.scope === 'global').map((x: any) => `${x.local}/${x.prefixlen}`).sort();
      expect(global).toEqual(r.json.ips.map((x: any) => x.address).sort());
    }
    // The sequence is dense: exactly the first 50 addresses after the gateway.
    expect(v4.map((a: string) => Number(a.split('/')[0].split('.')[3])).sort((a: number, b: number) => a - b)).toEqual(Array.from({ length: N }, (_, k) => k + 2));
    const dels = await Promise.all(containers.map((_, i) => call('DEL', i)));
    for (const r of dels) expect(r.code, r.stdout).toBe(0);
    expect(addressFiles()).toEqual([]);
    expect(ipJson(['link', 'show'], host.name).filter((l: any) => l.ifname.startsWith('veth'))).toEqual([]);
  }, 300_000);

  it('a plugin killed mid-ADD leaves nothing that DEL cannot remove', async () => {
    // How long one ADD takes on this machine now, so kills land throughout it.
    const probe = await call('ADD', 0);
    expect(probe.code, probe.stdout).toBe(0);
    expect((await call('DEL', 0)).code).toBe(0);
    const fractions = [0.1, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95];
    const outcomes: string[] = [];
    for (const [k, f] of fractions.entries()) {
      const i = k + 1;
      // An ADD can run faster than the probe did (the machine's load changes): a kill that came
      // after the plugin had finished is retried earlier, up to three times, so the kills land
      // inside ADDs whatever the load does meanwhile.
      let r: Awaited<ReturnType<typeof call>> | undefined;
      for (let at = Math.round(probe.ms * f), tries = 0; tries < 3; at = Math.round(at / 2), tries++) {
        r = await call('ADD', i, (child) => {
          setTimeout(() => child.kill('SIGKILL'), at);
        });
        outcomes.push(r.signal ? `killed at ${at} ms` : `finished at ${at} ms (${r.code})`);
        if (r.signal) break;
        expect(r.code, r.stdout).toBe(0);
        expect((await call('DEL', i)).code).toBe(0);
      }
      const del = await call('DEL', i);
      expect(del.code, del.stdout + del.stderr).toBe(0);
      expect(ipJson(['link', 'show'], containers[i].name).map((l: any) => l.ifname)).toEqual(['lo']);
      expect(ipJson(['link', 'show'], host.name).filter((l: any) => l.ifname.startsWith('veth'))).toEqual([]);
      expect(addressFiles()).toEqual([]);
      expect(store().filter((f) => f.startsWith('.'))).toEqual([]);
      // The lock was released by the kernel when the holder died: the next ADD goes through.
      const again = await call('ADD', i);
      expect(again.code, again.stdout).toBe(0);
      expect((await call('DEL', i)).code).toBe(0);
    }
    console.log(`one ADD took ${probe.ms.toFixed(0)} ms; kills: ${outcomes.join(', ')}`);
    expect(outcomes.filter((o) => o.startsWith('killed')).length).toBeGreaterThanOrEqual(4);
  }, 300_000);
});

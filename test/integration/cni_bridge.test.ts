/**
 * Issue 16, "Done when" 1: netns-native-bridge run exactly as a runtime runs it (CNI_* environment,
 * configuration on stdin, `ip netns exec HOST`), for 20 containers: each gets a working interface
 * (TCP between two containers through the bridge, and to an "internet" namespace through
 * masquerade), a result of the spec's shape, and its IPAM file; CHECK passes (and fails once the
 * container is changed); DEL removes interfaces, IPAM files and NAT rules; a second DEL succeeds.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns } from '../../lib/index.js';
import { ipJson, nsName, run } from './helpers.js';
import { assertBuilt, expectSpecError, expectSpecResult, ourCniPath, runPlugin, tcpPeer, tempDir } from './cni_helpers.js';

const N = 20;
let host: Netns;
let inet: Netns;
const containers: Netns[] = [];
let cniPath: string;
let plugin: string;
let dataDir: string;
let conf: Record<string, unknown>;
const results: any[] = [];

const call = (command: string, i: number, config: unknown = conf) =>
  runPlugin({ plugin, hostNs: host.name!, command, containerId: `ctr-${i}`, netns: containers[i].path!, ifName: 'eth0', cniPath, config });

beforeAll(async () => {
  assertBuilt();
  cniPath = ourCniPath();
  plugin = join(cniPath, 'netns-native-bridge');
  dataDir = tempDir('ipam');
  host = await Netns.create(nsName('cnihost'));
  inet = await Netns.create(nsName('inet'));
  for (let i = 0; i < N; i++) containers.push(await Netns.create(nsName(`c${i}`)));
  // The host's uplink to "the internet": 192.0.2.0/24 between them, a server address in
  // 198.51.100.0/24 behind it; the internet has no route back to the pods' subnet.
  await host.links.add({ kind: 'veth', name: 'uplink', up: true, peer: { name: 'wan0', netns: inet, up: true } });
  await host.addresses.add('uplink', '192.0.2.1/24');
  await inet.addresses.add('wan0', '192.0.2.2/24');
  await inet.links.setUp('lo');
  await inet.addresses.add('lo', '198.51.100.10/32');
  await host.routes.add({ destination: '198.51.100.0/24', gateway: '192.0.2.2' });
  conf = {
    cniVersion: '1.0.0', name: 'nnbr', type: 'netns-native-bridge', bridge: 'cni0',
    isGateway: true, isDefaultGateway: true, ipMasq: true,
    ipam: { type: 'host-local', ranges: [[{ subnet: '10.77.0.0/24' }]], dataDir },
  };
});

afterAll(async () => {
  for (const c of containers) await c.delete({ ifExists: true }).catch(() => undefined);
  await inet?.delete({ ifExists: true });
  await host?.delete({ ifExists: true });
});

// Each invocation starts a Node.js process; on a machine shared with other test runs that can take
// seconds, so the steps get generous time.
describe.sequential('netns-native-bridge executable, 20 containers', { timeout: 600_000 }, () => {
  it('ADD gives each container its interface, a spec-shaped result and its IPAM file', async () => {
    for (let batch = 0; batch < N; batch += 5) {
      const runs = await Promise.all([0, 1, 2, 3, 4].map((k) => call('ADD', batch + k)));
      runs.forEach((r, k) => {
        expect(r.code, r.stdout + r.stderr).toBe(0);
        expectSpecResult(r.json, '1.0.0');
        results[batch + k] = r.json;
      });
    }
    const addrs = results.map((r) => r.ips[0].address);
    expect(new Set(addrs).size).toBe(N);
    const files = readdirSync(join(dataDir, 'nnbr')).sort();
    for (const [i, r] of results.entries()) {
      expect(r.interfaces.map((x: any) => x.name)).toEqual(['cni0', expect.stringMatching(/^veth[0-9a-f]{8}$/), 'eth0']);
      expect(r.interfaces[2].sandbox).toBe(containers[i].path);
      expect(r.ips[0]).toMatchObject({ interface: 2, gateway: '10.77.0.1' });
      expect(r.routes).toEqual([{ dst: '0.0.0.0/0', gw: '10.77.0.1' }]);
      const ip = r.ips[0].address.split('/')[0];
      expect(files).toContain(ip);
      expect(readFileSync(join(dataDir, 'nnbr', ip), 'utf8')).toBe(`ctr-${i}\r\neth0`);
      // The kernel's view (iproute2 as oracle): the address on eth0, the default route via the bridge.
      const [link] = ipJson(['addr', 'show', 'dev', 'eth0'], containers[i].name);
      expect(link.operstate).toBe('UP');
      expect(link.address).toBe(r.interfaces[2].mac);
      expect(link.addr_info.filter((a: any) => a.family === 'inet').map((a: any) => `${a.local}/${a.prefixlen}`)).toEqual([r.ips[0].address]);
      expect(ipJson(['route', 'show', 'default'], containers[i].name)).toEqual([expect.objectContaining({ dst: 'default', gateway: '10.77.0.1', dev: 'eth0' })]);
      // The host end: a port of cni0, up.
      const [hostEnd] = ipJson(['link', 'show', 'dev', r.interfaces[1].name], host.name);
      expect(hostEnd).toMatchObject({ master: 'cni0', operstate: 'UP' });
    }
    expect(files).toEqual([...addrs.map((a) => a.split('/')[0]), 'last_reserved_ip.0', 'lock'].sort());
    expect(readFileSync(join(dataDir, 'nnbr', 'last_reserved_ip.0'), 'utf8')).toBe('10.77.0.21');
    const bridge = ipJson(['addr', 'show', 'dev', 'cni0'], host.name)[0];
    expect(bridge.addr_info.filter((a: any) => a.family === 'inet').map((a: any) => `${a.local}/${a.prefixlen}`)).toEqual(['10.77.0.1/24']);
    expect(run('ip', ['netns', 'exec', host.name!, 'sysctl', '-n', 'net.ipv4.ip_forward']).trim()).toBe('1');
  });

  it('TCP flows between two containers through the bridge', async () => {
    const a = results[0].ips[0].address.split('/')[0];
    const b = results[1].ips[0].address.split('/')[0];
    expect(await tcpPeer(containers[1], containers[0], a)).toBe(b);
    expect(await tcpPeer(containers[0], containers[19], results[19].ips[0].address.split('/')[0])).toBe(a);
  });

  it('TCP reaches the internet namespace through masquerade (the server sees the host uplink address)', async () => {
    // nft is the oracle: one masquerade rule per container, commented with its id.
    const rules = JSON.parse(run('ip', ['netns', 'exec', host.name!, 'nft', '-j', 'list', 'table', 'inet', 'netns_native_cni'])).nftables.filter((o: any) => o.rule);
    expect(rules.map((o: any) => o.rule.comment).sort()).toEqual(results.map((_, i) => `cni:nnbr:ctr-${i}`).sort());
    for (const i of [2, 7, 19]) expect(await tcpPeer(containers[i], inet, '198.51.100.10')).toBe('192.0.2.1');
    // Between containers nothing is translated: the peer sees the container's own address.
    expect(await tcpPeer(containers[2], containers[3], results[3].ips[0].address.split('/')[0])).toBe(results[2].ips[0].address.split('/')[0]);
  });

  it('CHECK passes against prevResult, and fails once the container lost its address', async () => {
    for (let i = 0; i < N; i++) {
      const r = await call('CHECK', i, { ...conf, prevResult: results[i] });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toBe('');
    }
    run('ip', ['-n', containers[3].name!, 'addr', 'del', results[3].ips[0].address, 'dev', 'eth0']);
    const bad = await call('CHECK', 3, { ...conf, prevResult: results[3] });
    expect(bad.code).toBe(1);
    expectSpecError(bad.json);
    expect(bad.json.msg).toContain(results[3].ips[0].address);
    const missing = await call('CHECK', 4, conf);
    expect(missing.json).toMatchObject({ code: 999, msg: 'Required prevResult missing' });
  });

  it('DEL removes the interfaces, the IPAM files and the NAT rules; a second DEL succeeds', async () => {
    for (let batch = 0; batch < N; batch += 5) {
      const runs = await Promise.all([0, 1, 2, 3, 4].map((k) => call('DEL', batch + k)));
      for (const r of runs) {
        expect(r.code, r.stdout + r.stderr).toBe(0);
        expect(r.stdout).toBe('');
      }
    }
    expect(readdirSync(join(dataDir, 'nnbr')).sort()).toEqual(['last_reserved_ip.0', 'lock']);
    const hostLinks = ipJson(['link', 'show'], host.name).map((l: any) => l.ifname);
    expect(hostLinks.filter((n: string) => n.startsWith('veth'))).toEqual([]);
    for (const c of containers) expect(ipJson(['link', 'show'], c.name).map((l: any) => l.ifname)).toEqual(['lo']);
    expect(run('ip', ['netns', 'exec', host.name!, 'nft', 'list', 'ruleset'])).not.toContain('cni:nnbr:');
    for (let i = 0; i < N; i++) {
      const again = await call('DEL', i);
      expect(again.code, again.stdout).toBe(0);
    }
    // A namespace that is gone is success too (the spec: DEL must tolerate missing resources).
    const gonePath = containers[5].path!;
    await containers[5].delete();
    const r = await runPlugin({ plugin, hostNs: host.name!, command: 'DEL', containerId: 'ctr-5', netns: gonePath, ifName: 'eth0', cniPath, config: conf });
    expect(r.code, r.stdout).toBe(0);
  });
});

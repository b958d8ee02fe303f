/**
 * Gratuitous ARP on ADD, like the reference bridge: the neighbours on the bridge learn the new
 * container's address at once. The plugin sets the container interface's `arp_notify` to 1 before
 * bringing it up with its addresses in place, so the kernel announces every address when the
 * interface comes up (NETDEV_UP, net/ipv4/devinet.c). tcpdump in the namespace playing the host is
 * the oracle: an ARP whose sender and target address are both the container's. It listens on every
 * interface: the announcement arrives on the new bridge port (the host end of the veth, named at
 * random during ADD) before the port forwards, so the bridge itself does not see it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Netns, cni } from '../../lib/index.js';
import { nsName } from './helpers.js';
import { REFERENCE_DIR, runPlugin, tempDir } from './cni_helpers.js';

const nss: Netns[] = [];
const make = async (tag: string) => {
  const ns = await Netns.create(nsName(tag));
  nss.push(ns);
  return ns;
};

afterAll(async () => {
  for (const ns of nss) await ns.delete({ ifExists: true }).catch(() => undefined);
});

/** Start `tcpdump -i any` for gratuitous ARPs (sender address = target address) in `host`; resolves once it listens. */
async function watchGratuitousArp(host: Netns): Promise<{ lines: () => Promise<string> }> {
  const child = spawn('ip', ['netns', 'exec', host.name!, 'timeout', '10', 'tcpdump', '-i', 'any', '-n', '-l', '-c', '1', 'arp and arp[14:4] = arp[24:4]'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const done = new Promise<string>((resolve) => child.on('close', () => resolve(out)));
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
      if (err.includes('listening on')) resolve();
    });
    child.on('close', (code) => reject(new Error(`tcpdump exited (${code}): ${err}`)));
  });
  return { lines: () => done };
}

describe('gratuitous ARP on ADD', { timeout: 120_000 }, () => {
  it('netns-native-bridge (in-process ADD): the container announces its address (gratuitous ARP) on its bridge port', async () => {
    const host = await make('garph');
    const [c1, c2] = [await make('garpc'), await make('garpc')];
    const config = { cniVersion: '1.0.0', name: 'garp', type: 'netns-native-bridge', bridge: 'cni0', isGateway: true, ipam: { type: 'host-local', subnet: '10.78.0.0/24', dataDir: tempDir('garp') } };
    // A first container on the bridge, as on a node already running pods.
    await cni.add(config, { containerId: 'g1', netns: c1.path!, ifName: 'eth0', hostNetns: host });
    const watch = await watchGratuitousArp(host);
    const r = await cni.add(config, { containerId: 'g2', netns: c2.path!, ifName: 'eth0', hostNetns: host });
    const ip = r.ips![0].address.split('/')[0];
    expect(await watch.lines()).toContain(`Request who-has ${ip} tell ${ip}`);
  });

  it.skipIf(!existsSync(join(REFERENCE_DIR, 'bridge')))('the reference bridge does the same (the oracle of the behaviour)', async () => {
    const host = await make('garprh');
    const [c1, c2] = [await make('garprc'), await make('garprc')];
    const config = { cniVersion: '1.0.0', name: 'garp', type: 'bridge', bridge: 'cni0', isGateway: true, ipam: { type: 'host-local', subnet: '10.78.0.0/24', dataDir: tempDir('garpr') } };
    const call = (id: string, c: Netns) => runPlugin({ plugin: join(REFERENCE_DIR, 'bridge'), hostNs: host.name!, command: 'ADD', containerId: id, netns: c.path!, ifName: 'eth0', cniPath: REFERENCE_DIR, config });
    expect((await call('g1', c1)).code).toBe(0);
    const watch = await watchGratuitousArp(host);
    const r = await call('g2', c2);
    expect(r.code, r.stdout).toBe(0);
    const ip = r.json.ips[0].address.split('/')[0];
    expect(await watch.lines()).toContain(`Request who-has ${ip} tell ${ip}`);
  });
});

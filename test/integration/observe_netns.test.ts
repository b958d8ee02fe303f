/**
 * The observing API reached through a Netns handle (ns.events, ns.stats, ns.diag, ns.ping,
 * ns.capture, Netns.inventory), with ip/ss/tcpdump as oracles.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, formatSsLine } from '../../lib/index.js';
import { nsName, run } from './helpers.js';

let ns: Netns;
const dir = mkdtempSync(join(tmpdir(), 'nns-obs-'));

beforeAll(async () => {
  ns = await Netns.create(nsName('on'));
  await ns.links.setUp('lo');
});
afterAll(async () => {
  await ns?.delete({ ifExists: true });
  rmSync(dir, { recursive: true, force: true });
});

describe('observing through a Netns handle', () => {
  it('ns.events.watch sees an address ip adds; ns.stats.sample counts lo; ns.ping answers', async () => {
    const stream = await ns.events.watch({ kinds: ['address'] });
    run('ip', ['-n', ns.name!, 'address', 'add', '10.91.0.1/32', 'dev', 'lo']);
    const first = await stream.next();
    expect(first.value).toMatchObject({ kind: 'address', action: 'new', address: { cidr: '10.91.0.1/32', dev: 'lo' } });
    await stream.return();

    const r = await ns.ping('10.91.0.1', { count: 2, intervalMs: 50 });
    expect(r).toMatchObject({ transmitted: 2, received: 2, lossPercent: 0 });
    const ticks = [];
    for await (const t of ns.stats.sample({ intervalMs: 50, links: ['lo'], count: 2 })) ticks.push(t);
    expect(ticks[1].links[0].name).toBe('lo');
    expect(Number(ticks[1].links[0].stats.rxPackets)).toBeGreaterThanOrEqual(4);
  });

  it('ns.diag.sockets equals ss in the namespace; ns.captureToFile reads back with tcpdump; Netns.inventory lists the namespace', async () => {
    const server = await ns.createServer({ host: '127.0.0.1', port: 7100 });
    try {
      const ours = (await ns.diag.sockets({ protocol: 'tcp' })).map((s) => formatSsLine(s).replace(/^\S+ /, ''));
      const ss = run('ip', ['netns', 'exec', ns.name!, 'ss', '-tnap', '-H']).trim().split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
      expect(ours).toEqual(ss);
      expect((await ns.diag.summary()).tcp.listen).toBe(1);
    } finally {
      server.close();
    }
    const file = join(dir, 'lo.pcap');
    const done = ns.captureToFile(file, { dev: 'lo', count: 2 });
    await sleep(200);
    await ns.ping('10.91.0.1', { count: 1 });
    expect((await done).packets).toBe(2);
    expect(run('tcpdump', ['-r', file, '-n'])).toContain('ICMP echo request');

    const inv = await Netns.inventory({ fds: false });
    expect(inv.namespaces.find((n) => n.inode === ns.identity.ino)).toMatchObject({ names: [ns.name], state: 'pinned-no-process' });
  });
});

/**
 * The demo's "Monitoring" account (tutorial, "Monitoring" and "Troubleshooting"): ping, a capture
 * summary, link statistics over time, the sockets of a namespace as `ss -tunap` prints them, and the
 * run's namespaces as `lsns -t net` would count them — all from inside this process, no tool run.
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { capture } from '../lib/observe/capture.js';
import { inventory } from '../lib/observe/inventory.js';
import { ping } from '../lib/observe/ping.js';
import { listSockets, socketSummary } from '../lib/observe/sockets.js';
import { sampleStats, type StatsSample } from '../lib/observe/stats.js';
import { formatSsLine } from '../lib/format/ss.js';
import type { Report } from './report.js';
import type { Lab } from './topologies.js';

const mb = (bytesPerSec: number) => `${((bytesPerSec * 8) / 1e6).toFixed(1)} Mbit/s`;

/** red pings green, captures the exchange, streams TCP to green while sampling veth-red, lists sockets. */
export async function monitoring(lab: Lab, report: Report, prefix: string): Promise<void> {
  const red = lab.ns('red');
  const green = lab.ns('green');
  report.section('monitoring from inside the process (tutorial: Monitoring, Troubleshooting)');

  // ping -c 3 while a capture on veth-red counts what crosses it.
  const cap = await capture(red, { dev: 'veth-red', durationMs: 2000 });
  await report.timed('ip netns exec red ping -c 3 -i 0.1 10.0.1.2', () => ping(red, '10.0.1.2', { count: 3, intervalMs: 100 }), (r) => ({
    result: `${r.transmitted} transmitted, ${r.received} received, ${r.lossPercent}% loss, rtt min/avg/max ${r.rtt ? [r.rtt.min, r.rtt.avg, r.rtt.max].map((x) => x.toFixed(3)).join('/') : '-'} ms (${r.socket} ICMP socket)`,
    ok: r.lossPercent === 0,
  }));
  await report.timed('ip netns exec red ping -c 2 -W 0.3 10.0.1.99 (nobody there)', () => ping(red, '10.0.1.99', { count: 2, intervalMs: 100, timeoutMs: 300 }), (r) => ({
    result: `${r.transmitted} transmitted, ${r.received} received, ${r.lossPercent}% loss`,
    ok: r.lossPercent === 100,
  }));
  let icmp = 0;
  const counted = (async () => {
    for await (const p of cap) if (p.protocol === 0x0800 && p.data.length > 34 && p.data[23] === 1) icmp++;
  })();
  await cap.close();
  await counted;
  await report.timed('ip netns exec red tcpdump -i veth-red (capture summary)', () => cap.summary(), (s) => ({
    result: `${s.packets} packets (${icmp} ICMP), ${s.bytes} bytes kept, kernel: ${s.kernelPackets} seen, ${s.kernelDrops} dropped`,
    ok: icmp >= 6 && s.kernelDrops === 0,
  }));

  // watch ip -s link while red streams 4 MB to green over TCP.
  const server = await green.createServer({ host: '10.0.1.2', port: 7001 }, (s) => s.resume());
  const sock = await red.connect({ host: '10.0.1.2', port: 7001 });
  let streaming = true;
  const chunk = Buffer.alloc(64 * 1024, 1);
  const pump = (async () => {
    for (let sent = 0; streaming && sent < 4 * 1024 * 1024; sent += chunk.length) {
      sock.write(chunk);
      await sleep(10);
    }
  })();
  const ticks: StatsSample[] = [];
  await report.timed('watch -n 0.5 ip -n red -s link show veth-red (3 ticks)', async () => {
    for await (const t of sampleStats(red, { intervalMs: 500, links: ['veth-red'], count: 3 })) ticks.push(t);
    return ticks;
  }, (t) => {
    const r = t[t.length - 1].links[0].rates;
    return { result: r ? `tx ${mb(r.txBytesPerSec)}, ${r.txPacketsPerSec.toFixed(0)} packets/s, rx ${mb(r.rxBytesPerSec)}, errors ${r.txErrorsPerSec + r.rxErrorsPerSec}, drops ${r.txDroppedPerSec + r.rxDroppedPerSec}` : 'no rates', ok: !!r && r.txBytesPerSec > 0 };
  });

  // ss -tunap in green while the connection is up.
  const lines = await report.timed('ip netns exec green ss -tunap', () => listSockets(green), (s) => ({ result: `${s.length} sockets`, ok: s.length >= 2 }));
  await report.timed('ip netns exec green ss -s', () => socketSummary(green), (s) => ({
    result: `TCP: ${s.tcp.total} (estab ${s.tcp.established}, listen ${s.tcp.listen}, timewait ${s.tcp.timeWait}), UDP: ${s.udp.total}`,
    ok: s.tcp.established >= 1 && s.tcp.listen >= 1,
  }));
  streaming = false;
  await pump;
  sock.destroy();
  server.close();

  await report.timed('lsns -t net (this run\'s namespaces)', () => inventory({ fds: false }), (inv) => {
    const ours = inv.namespaces.filter((n) => n.names.some((x) => x.startsWith(prefix)));
    return { result: `${inv.namespaces.length} namespaces on the machine; this run's ${ours.length}: ${ours.map((n) => `${n.names.join(',').slice(prefix.length)} ${n.state}`).join(', ')}`, ok: ours.length > 0 };
  });
  report.text('ss -tunap in green, as listed through NETLINK_SOCK_DIAG above', lines.map(formatSsLine));
}

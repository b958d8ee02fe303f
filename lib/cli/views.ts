/**
 * `netns-native ping`, `capture`, `nat` and `tc`: thin over `ns.ping`, `ns.captureToFile`,
 * `ns.firewall.ruleset()` and `ns.tc`. Loaded only when one of them (or `show`) runs.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { Netns } from '../api/netns/index.js';
import { ValidationError } from '../errors.js';
import { paint, table } from '../format/table.js';
import { natRules, type NatRuleView } from '../format/nat.js';
import { classView, filterView, optionsText, qdiscView } from '../format/tc.js';
import { colour, interruptible, out, positiveInt, secondsToMs } from './output.js';
import { Failed, type CommonOptions } from './common.js';

/** Run `fn` on the named namespace's handle, closed afterwards. */
async function withNs<T>(name: string, fn: (ns: Netns) => Promise<T>): Promise<T> {
  const ns = await Netns.open(name);
  try {
    return await fn(ns);
  } finally {
    await ns.close();
  }
}

/** NAT rules of every table of the namespace (`all`: every rule with a verdict). */
export async function readNat(ns: Netns, all = false): Promise<NatRuleView[]> {
  return natRules(await ns.firewall.ruleset(), all);
}

/** Rows of a NAT table for text output. */
export function natTable(rules: readonly NatRuleView[]): string {
  return table(
    rules.map((r) => [`${r.family} ${r.table}`, r.chain, String(r.handle), r.text, r.counters ? `${r.counters.packets}/${r.counters.bytes}` : '-', r.comment ?? '']),
    ['TABLE', 'CHAIN', 'HANDLE', 'RULE', 'PKTS/BYTES', 'COMMENT'],
  );
}

/** Qdiscs (and with `details` classes and filters) of a namespace, one device or all, for --json and text. */
export async function readTc(ns: Netns, dev?: string, details = true) {
  const links = await ns.links.list();
  const names = new Map(links.map((l) => [l.index, l.name]));
  const devName = (i: number) => names.get(i) ?? String(i);
  const qdiscs = (await ns.tc.qdiscs.list(dev)).map((q) => qdiscView(q, devName));
  if (!details) return { qdiscs, classes: [], filters: [] };
  // Classes and filters only where a qdisc was set (the kernel's defaults have none).
  const devs = [...new Set(qdiscs.filter((q) => q.handle !== '0:').map((q) => q.dev))];
  const classes = (await Promise.all(devs.map((d) => ns.tc.classes.list(d)))).flat().map((c) => classView(c, devName));
  const filters = (await Promise.all(devs.flatMap((d) => [ns.tc.filters.list(d), ...(qdiscs.some((q) => q.dev === d && q.kind === 'ingress') ? [ns.tc.filters.list(d, 'ingress')] : [])]))).flat().map((f) => filterView(f, devName));
  return { qdiscs, classes, filters };
}

/** Text of {@link readTc}'s result. */
export function tcText(v: Awaited<ReturnType<typeof readTc>>): string {
  const parts = [
    table(v.qdiscs.map((q) => [q.dev, q.kind, q.handle, q.parent, optionsText(q.options ?? undefined) || '-', q.stats ? `${q.stats.bytes} bytes ${q.stats.packets} pkt, dropped ${q.stats.drops}, overlimits ${q.stats.overlimits}, backlog ${q.stats.backlog}b` : '-']), ['DEV', 'QDISC', 'HANDLE', 'PARENT', 'OPTIONS', 'SENT']),
  ];
  if (v.classes.length) parts.push(table(v.classes.map((c) => [c.dev, c.kind, c.classid, c.parent, optionsText(c.options ?? undefined) || '-']), ['DEV', 'CLASS', 'CLASSID', 'PARENT', 'OPTIONS']));
  if (v.filters.length) parts.push(table(v.filters.map((f) => [f.dev, f.kind, f.parent, f.protocol, String(f.pref), f.handle, [f.classid ? `flowid ${f.classid}` : '', ...f.actions.map((a) => (a.mirred ? `mirred ${a.mirred.direction} ${a.mirred.mode} to ${a.mirred.dev}` : a.kind))].filter(Boolean).join(', ') || '-']), ['DEV', 'FILTER', 'PARENT', 'PROTOCOL', 'PREF', 'HANDLE', 'DOES']));
  return parts.join('\n\n');
}

export async function nat(name: string, opts: CommonOptions & { all?: boolean }): Promise<void> {
  const rules = await withNs(name, (ns) => readNat(ns, opts.all === true));
  out(opts, { namespace: name, rules }, () => (rules.length ? natTable(rules) : `no ${opts.all ? 'firewall' : 'NAT'} rules in ${name}`));
}

export async function tc(name: string, dev: string | undefined, opts: CommonOptions): Promise<void> {
  const v = await withNs(name, (ns) => readTc(ns, dev));
  out(opts, { namespace: name, ...v }, () => tcText(v));
}

export async function ping(name: string, ip: string, opts: CommonOptions & { count?: string; interval?: string; timeout?: string; size?: string; interface?: string }): Promise<void> {
  const count = positiveInt('--count', opts.count, 3);
  const intervalMs = secondsToMs('--interval', opts.interval, 0.01, 3600);
  const timeoutMs = secondsToMs('--timeout', opts.timeout, 0.001, 3600);
  const size = opts.size === undefined ? undefined : Number(opts.size);
  if (size !== undefined && !(Number.isInteger(size) && size >= 0)) throw new ValidationError('--size', opts.size, 'must be a number of bytes');
  const stop = interruptible();
  try {
    const r = await withNs(name, (ns) =>
      ns.ping(ip, {
        count,
        signal: stop.signal,
        ...(intervalMs !== undefined ? { intervalMs } : {}),
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        ...(size !== undefined ? { size } : {}),
        ...(opts.interface !== undefined ? { dev: opts.interface } : {}),
        // Text: each reply as ping prints it, as it arrives.
        ...(opts.json ? {} : { onReply: (p) => process.stdout.write(`${p.bytes} bytes from ${p.from}: icmp_seq=${p.seq}${p.ttl !== undefined ? ` ttl=${p.ttl}` : ''} time=${p.rttMs.toFixed(3)} ms\n`) }),
      }),
    );
    const { errors, ...rest } = r;
    out(opts, { namespace: name, ...rest, errors: errors.map((e) => ({ code: e.code, message: e.message })) }, () =>
      [
        `--- ${ip} ping statistics (namespace ${name}) ---`,
        `${r.transmitted} packets transmitted, ${r.received} received, ${r.lossPercent}% packet loss, time ${Math.round(r.timeMs)}ms`,
        ...(r.rtt ? [`rtt min/avg/max/mdev = ${[r.rtt.min, r.rtt.avg, r.rtt.max, r.rtt.mdev].map((x) => x.toFixed(3)).join('/')} ms`] : []),
        ...errors.slice(0, 3).map((e) => `${e.code}: ${e.message}`),
      ].join('\n'),
    );
    // As ping: exit 1 when no reply came back.
    if (r.received === 0) throw new Failed();
  } finally {
    stop.release();
  }
}

export async function capture(name: string, dev: string, opts: CommonOptions & { write?: string; count?: string; duration?: string; snaplen?: string; filterDdd?: string }): Promise<void> {
  if (opts.write === undefined) throw new ValidationError('-w', undefined, 'is required: the pcap file to write (netns-native capture NS IF -w FILE)');
  const count = opts.count === undefined ? undefined : positiveInt('--count', opts.count, 1);
  const durationMs = secondsToMs('--duration', opts.duration, 0.001, 2 ** 31 / 1000);
  const snaplen = opts.snaplen === undefined ? undefined : positiveInt('--snaplen', opts.snaplen, 1);
  const filter = opts.filterDdd === undefined ? undefined : await readFile(opts.filterDdd, 'utf8');
  const stop = interruptible();
  try {
    const s = await withNs(name, async (ns) => {
      await ns.links.get(dev); // an unknown link fails here, before the notice below
      // tcpdump's "listening on" notice; the socket opens while it is printed (scripts that need
      // the capture running before they send should send until it ends, as the test does).
      const pending = ns.captureToFile(opts.write!, { dev, signal: stop.signal, ...(count !== undefined ? { count } : {}), ...(durationMs !== undefined ? { durationMs } : {}), ...(snaplen !== undefined ? { snaplen } : {}), ...(filter !== undefined ? { filter } : {}) });
      process.stderr.write(`capturing on ${dev} in ${name} to ${opts.write}${count === undefined && durationMs === undefined ? ' (^C to stop)' : ''}\n`);
      return pending;
    });
    out(opts, { namespace: name, dev, ...s }, () => `${s.packets} packets captured (${s.bytes} bytes) to ${s.file}\n${s.kernelPackets} packets received by filter\n${s.kernelDrops + s.queueDrops} packets dropped`);
  } finally {
    stop.release();
  }
}

/** For `show`: qdiscs and NAT rules of a namespace, as printed under its links. */
export async function showExtras(ns: Netns): Promise<{ qdiscs: Awaited<ReturnType<typeof readTc>>['qdiscs']; nat: NatRuleView[] }> {
  const [tcv, natv] = await Promise.all([readTc(ns, undefined, false), readNat(ns)]);
  return { qdiscs: tcv.qdiscs, nat: natv };
}

/** Text of {@link showExtras} for `show`. */
export function extrasText(x: Awaited<ReturnType<typeof showExtras>>): string {
  const c = colour();
  const q = x.qdiscs.filter((d) => d.handle !== '0:');
  return [
    q.length ? table(q.map((d) => [d.dev, d.kind, d.handle, d.parent, optionsText(d.options ?? undefined) || '-']), ['DEV', 'QDISC', 'HANDLE', 'PARENT', 'OPTIONS']) : paint(c, 'dim', 'no qdisc set (kernel defaults)'),
    '',
    x.nat.length ? natTable(x.nat) : paint(c, 'dim', 'no NAT rules'),
  ].join('\n');
}


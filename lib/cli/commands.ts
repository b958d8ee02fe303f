/**
 * The commands of `netns-native`, thin over the library: each reads through the public API, prints
 * a table (or one JSON document with --json) and sets the exit status. Loaded only when a command
 * runs (lib/cli/main.ts).
 * @module
 */
import { constants } from 'node:os';
import { Netns } from '../api/netns/index.js';
import type { Link } from '../api/link/view.js';
import { ValidationError } from '../errors.js';
import { paint, table } from '../format/table.js';
import { colour, interruptible, jsonLine, out, positiveInt } from './output.js';
import { doctor, peerStates } from './doctor.js';
import { extrasText, showExtras } from './views.js';
import { Failed, type CommonOptions } from './common.js';

/** A namespace by name, or a typed not-found error naming it. */
async function open(name: string): Promise<Netns> {
  return Netns.open(name);
}

function linkState(l: Link): string {
  return l.up ? (l.lowerUp ? 'UP' : 'UP,NO-CARRIER') : 'DOWN';
}

export async function show(name: string, opts: CommonOptions): Promise<void> {
  const ns = await open(name);
  try {
    const [links, addrs, routes, extras] = await Promise.all([ns.links.list(), ns.addresses.list(), ns.routes.list(), showExtras(ns)]);
    const peers = await peerStates({ ns, links });
    const byIndex = new Map(links.map((l) => [l.index, l.name]));
    const data = {
      namespace: name,
      inode: ns.identity.ino,
      links: links.map((l) => {
        const p = peers.get(l.index);
        return {
          index: l.index,
          name: l.name,
          kind: l.kind ?? null,
          state: linkState(l),
          mtu: l.mtu ?? null,
          mac: l.mac ?? null,
          master: l.master === undefined ? null : (byIndex.get(l.master) ?? l.master),
          peer: p ? { name: p.name ?? null, namespace: p.where, up: p.up ?? null } : null,
        };
      }),
      addresses: addrs.map((a) => ({ dev: a.dev ?? null, family: a.family, address: a.cidr, scope: a.scope })),
      routes: routes.map((r) => ({ destination: r.destination, gateway: r.gateway ?? null, dev: r.dev ?? null, protocol: r.protocol, scope: r.scope, source: r.source ?? null, metric: r.metric ?? null })),
      qdiscs: extras.qdiscs,
      nat: extras.nat,
    };
    const c = colour();
    out(opts, data, () =>
      [
        `${paint(c, 'bold', name)} (inode ${data.inode})`,
        '',
        table(
          data.links.map((l) => [String(l.index), l.name, l.kind ?? '-', l.state.startsWith('UP') ? paint(c, l.state === 'UP' ? 'green' : 'yellow', l.state) : paint(c, 'red', l.state), String(l.mtu ?? '-'), l.mac ?? '-', [l.master ? `master ${l.master}` : '', l.peer ? `peer ${l.peer.name ?? '?'} in ${l.peer.namespace}` : ''].filter(Boolean).join(' ') || '-']),
          ['INDEX', 'LINK', 'KIND', 'STATE', 'MTU', 'MAC', 'ATTACHED'],
        ),
        '',
        data.addresses.length ? table(data.addresses.map((a) => [a.dev ?? '-', a.address, String(a.scope)]), ['DEV', 'ADDRESS', 'SCOPE']) : 'no addresses',
        '',
        data.routes.length ? table(data.routes.map((r) => [r.destination, r.gateway ?? '-', r.dev ?? '-', String(r.protocol), r.source ?? '-']), ['DESTINATION', 'GATEWAY', 'DEV', 'PROTO', 'SRC']) : 'no routes',
        '',
        extrasText(extras),
      ].join('\n'),
    );
  } finally {
    await ns.close();
  }
}

export async function doctorCmd(name: string, opts: CommonOptions & { target?: string; dns?: string; timeout?: string }): Promise<void> {
  const report = await doctor(name, {
    ...(opts.target !== undefined ? { target: opts.target } : {}),
    ...(opts.dns !== undefined ? { dns: opts.dns } : {}),
    timeoutMs: positiveInt('--timeout', opts.timeout, 2000),
  });
  const c = colour();
  out(opts, report, () =>
    table(
      report.checks.map((k) => [k.ok === true ? paint(c, 'green', 'ok') : k.ok === false ? paint(c, 'red', 'FAIL') : paint(c, 'dim', 'skip'), k.id, k.detail + (k.hint ? `\n${' '.repeat(0)}  -> ${k.hint}` : '')]),
    )
      .split('\n')
      .join('\n'),
  );
  if (report.checks.some((k) => k.ok === false)) throw new Failed();
}

/**
 * Progress on stderr once a run has taken more than a second: steps are held back until then, so a
 * fast `up` prints nothing there.
 */
function progress(quiet: boolean | undefined): { step: (line: string) => void; done: () => void } {
  const t0 = performance.now();
  const held: string[] = [];
  let live = false;
  const flush = () => {
    live = true;
    for (const l of held.splice(0)) process.stderr.write(`${l}\n`);
  };
  const timer = quiet ? undefined : setTimeout(flush, 1000);
  timer?.unref();
  return {
    step(line) {
      if (quiet) return;
      const stamped = `[${((performance.now() - t0) / 1000).toFixed(1)}s] ${line}`;
      if (live) process.stderr.write(`${stamped}\n`);
      else held.push(stamped);
    },
    done() {
      if (timer) clearTimeout(timer);
    },
  };
}

interface TopoOptions extends CommonOptions {
  prefix?: string;
  quiet?: boolean;
}

async function loadTopology(file: string, opts: TopoOptions) {
  const { Topology } = await import('../topology/index.js');
  const prefix = opts.prefix;
  return Topology.load(file, prefix === undefined ? {} : { rename: (n) => `${prefix}${n}` });
}

export async function plan(file: string, opts: TopoOptions): Promise<void> {
  const t = await loadTopology(file, opts);
  const steps = await t.plan();
  const todo = steps.filter((s) => s.action !== 'none');
  const c = colour();
  out(opts, { file, namespaces: t.namespaces, changes: todo.length, steps }, () =>
    [
      todo.length ? `${todo.length} change${todo.length === 1 ? '' : 's'} to make (${steps.length - todo.length} already in place):` : `nothing to change: all ${steps.length} steps already in place`,
      ...steps.map((s) => `  ${s.action === 'none' ? paint(c, 'dim', '=') : s.action === 'change' ? paint(c, 'yellow', '~') : paint(c, 'green', '+')} ${s.command}${s.current ? `  (now ${s.current})` : ''}`),
    ].join('\n'),
  );
}

async function apply(verb: 'up' | 'down', file: string, opts: TopoOptions): Promise<void> {
  const t = await loadTopology(file, opts);
  const p = progress(opts.quiet);
  const t0 = performance.now();
  // ^C stops between steps: `up` then undoes what it made (Topology.up's signal).
  const stop = interruptible();
  try {
    const r = await t[verb]({ signal: stop.signal, onStep: (s, ms) => p.step(`${s.command} (${ms.toFixed(1)} ms)`) });
    const ms = performance.now() - t0;
    out(opts, { file, verb, namespaces: t.namespaces, changed: r.changed, unchanged: r.unchanged, ms: Math.round(ms) }, () =>
      r.changed.length
        ? [`${verb}: ${r.changed.length} change${r.changed.length === 1 ? '' : 's'} made in ${ms.toFixed(0)} ms (${r.unchanged} already in place)`, ...r.changed.map((s) => `  ${s.command}`)].join('\n')
        : `${verb}: nothing to do, nothing changed (${r.unchanged} steps already in place)`,
    );
  } finally {
    stop.release();
    p.done();
  }
}

export const up = (file: string, opts: TopoOptions) => apply('up', file, opts);
export const down = (file: string, opts: TopoOptions) => apply('down', file, opts);

export async function exec(name: string, command: string[], opts: CommonOptions): Promise<void> {
  // passThroughOptions keeps a `--` that follows the namespace: it separates, it is not the command.
  const [cmd, ...args] = command[0] === '--' ? command.slice(1) : command;
  if (cmd === undefined) throw new ValidationError('command', command, 'is missing (netns-native exec NS -- CMD ARGS...)');
  const ns = await open(name);
  try {
    if (opts.json) {
      const r = await ns.exec(cmd, args);
      out(opts, { namespace: name, command: [cmd, ...args], code: r.code, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr) }, () => '');
      process.exitCode = r.code ?? 128 + signalNumber(r.signal);
      return;
    }
    const child = await ns.spawn(cmd, args, { stdio: 'inherit' });
    // Signals meant for the child (^C) reach it through the terminal's process group; this process waits.
    const ignore = () => undefined;
    process.on('SIGINT', ignore);
    process.on('SIGTERM', ignore);
    try {
      const st = await child.exited;
      process.exitCode = st.code ?? 128 + signalNumber(st.signal);
    } finally {
      process.off('SIGINT', ignore);
      process.off('SIGTERM', ignore);
    }
  } finally {
    await ns.close();
  }
}

function signalNumber(sig: string | null | undefined): number {
  if (!sig) return 0;
  return (constants.signals as Record<string, number>)[sig] ?? 0;
}

export async function stats(name: string, opts: CommonOptions & { interval?: string; count?: string }): Promise<void> {
  const { sampleStats } = await import('../observe/stats.js');
  const seconds = opts.interval === undefined ? undefined : Number(opts.interval);
  if (seconds !== undefined && !(seconds >= 0.01 && seconds <= 3600)) throw new ValidationError('--interval', opts.interval, 'must be a number of seconds in [0.01, 3600]');
  // Without --interval: one sample, the counters. With it: the first tick has no rates, so one more.
  const count = seconds === undefined ? 1 : opts.count === undefined ? undefined : positiveInt('--count', opts.count, 1) + 1;
  const ns = await open(name);
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  try {
    for await (const tick of sampleStats(ns, { intervalMs: (seconds ?? 1) * 1000, signal: abort.signal, ...(count !== undefined ? { count } : {}) })) {
      if (seconds === undefined) {
        const links = tick.links.map((l) => ({ name: l.name, ...l.stats }));
        out(opts, { namespace: name, at: tick.at, links }, () => table(tick.links.map((l) => [l.name, String(l.stats.rxBytes), String(l.stats.rxPackets), String(l.stats.rxErrors), String(l.stats.rxDropped), String(l.stats.txBytes), String(l.stats.txPackets), String(l.stats.txErrors), String(l.stats.txDropped)]), ['LINK', 'RX BYTES', 'RX PKTS', 'RX ERR', 'RX DROP', 'TX BYTES', 'TX PKTS', 'TX ERR', 'TX DROP']));
        continue;
      }
      if (tick.elapsedMs === 0) continue;
      // A stream: one JSON object per line with --json, a table per tick otherwise.
      if (opts.json) jsonLine({ namespace: name, at: tick.at, elapsedMs: tick.elapsedMs, links: tick.links.map((l) => ({ name: l.name, rates: l.rates ?? null })) });
      else process.stdout.write(`${table(tick.links.map((l) => [l.name, (8 * (l.rates?.rxBytesPerSec ?? 0)).toFixed(0), (l.rates?.rxPacketsPerSec ?? 0).toFixed(1), (8 * (l.rates?.txBytesPerSec ?? 0)).toFixed(0), (l.rates?.txPacketsPerSec ?? 0).toFixed(1), ((l.rates?.rxDroppedPerSec ?? 0) + (l.rates?.txDroppedPerSec ?? 0)).toFixed(1)]), ['LINK', 'RX bit/s', 'RX pkt/s', 'TX bit/s', 'TX pkt/s', 'DROP/s'])}\n\n`);
    }
  } finally {
    process.off('SIGINT', stop);
    await ns.close();
  }
}

export async function monitor(name: string, opts: CommonOptions & { count?: string; kinds?: string }): Promise<void> {
  const { watchEvents } = await import('../observe/events.js');
  const kinds = opts.kinds === undefined ? undefined : opts.kinds.split(',');
  const count = opts.count === undefined ? Infinity : positiveInt('--count', opts.count, 1);
  const ns = await open(name);
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const stream = await watchEvents(ns, { signal: abort.signal, ...(kinds ? { kinds: kinds as never } : {}) });
    // Subscribed: say so on stderr, so a script knows when changes start being seen.
    process.stderr.write(`monitoring ${name} (^C to stop)\n`);
    let n = 0;
    for await (const ev of stream) {
      if (opts.json) jsonLine(ev);
      else process.stdout.write(`${eventLine(ev)}\n`);
      if (++n >= count) break;
    }
    await stream.close();
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await ns.close();
  }
}

/** One event as `ip monitor` prints it: `[LINK]Deleted 3: veth0 ...`. */
function eventLine(ev: import('../observe/events.js').NetnsEvent): string {
  const verb = 'action' in ev && ev.action === 'del' ? 'Deleted ' : '';
  switch (ev.kind) {
    case 'link':
      return `[LINK]${verb}${ev.link.index}: ${ev.link.name}: ${linkState(ev.link)} mtu ${ev.link.mtu ?? '-'}${ev.link.kind ? ` ${ev.link.kind}` : ''}`;
    case 'address':
      return `[ADDR]${verb}${ev.address.ifindex}: ${ev.address.dev ?? ''} ${ev.address.family === 4 ? 'inet' : 'inet6'} ${ev.address.cidr} scope ${ev.address.scope}`;
    case 'route':
      return `[ROUTE]${verb}${ev.route.destination}${ev.route.gateway ? ` via ${ev.route.gateway}` : ''}${ev.route.dev ? ` dev ${ev.route.dev}` : ''} proto ${ev.route.protocol}`;
    case 'neighbour':
      return `[NEIGH]${verb}${JSON.stringify(ev.neighbour)}`;
    default:
      return `[RESYNC] ${ev.reason}: events were lost; current state re-read`;
  }
}

export async function ss(name: string, opts: CommonOptions & { tcp?: boolean; udp?: boolean; listening?: boolean; summary?: boolean }): Promise<void> {
  const { listSockets, socketSummary } = await import('../observe/sockets.js');
  const ns = await open(name);
  try {
    if (opts.summary) {
      const s = await socketSummary(ns);
      out(opts, { namespace: name, ...s }, () => `TCP: ${s.tcp.total} (estab ${s.tcp.established}, listen ${s.tcp.listen}, timewait ${s.tcp.timeWait}, closed ${s.tcp.closed})\nUDP: ${s.udp.total} (ipv4 ${s.udp.ipv4}, ipv6 ${s.udp.ipv6})`);
      return;
    }
    const { ssFields } = await import('../format/ss.js');
    const protocol = opts.tcp && !opts.udp ? 'tcp' : opts.udp && !opts.tcp ? 'udp' : undefined;
    const list = await listSockets(ns, { ...(protocol ? { protocol } : {}), ...(opts.listening ? { state: ['listen', 'close'] } : {}) });
    out(opts, { namespace: name, sockets: list }, () => (list.length ? table(list.map(ssFields), ['NETID', 'STATE', 'RECV-Q', 'SEND-Q', 'LOCAL', 'PEER', 'PROCESS']) : 'no TCP or UDP sockets'));
  } finally {
    await ns.close();
  }
}

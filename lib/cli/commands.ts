/**
 * The commands of `netns-native`, thin over the library: each reads through the public API, prints
 * a table (or one JSON document with --json) and sets the exit status. Loaded only when a command
 * runs (lib/cli/main.ts).
 * @module
 */
import { constants } from 'node:os';
import { Netns } from '../api/netns.js';
import type { Link } from '../api/link_model.js';
import { ValidationError } from '../errors.js';
import { paint, table, useColour } from '../format/table.js';
import { doctor, peerStates } from './doctor.js';
import { Failed, type CommonOptions } from './main.js';

/** Print `data` as JSON, or the text `human()` makes. */
function out(opts: CommonOptions, data: unknown, human: () => string): void {
  process.stdout.write(opts.json ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);
}

const colour = () => useColour(process.stdout);

/** A namespace by name, or a typed not-found error naming it. */
async function open(name: string): Promise<Netns> {
  return Netns.open(name);
}

/** One row of `ls`. */
export interface LsEntry {
  name: string;
  inode: number | null;
  nsid: number | null;
  pids: number[];
  /** Pinned, a namespace, and no process uses it: what the tutorial calls an orphan candidate. */
  orphan: boolean;
  /** The pin is not a namespace any more. */
  stale: boolean;
}

export async function ls(opts: CommonOptions & { orphans?: boolean }): Promise<void> {
  const entries: LsEntry[] = await Promise.all(
    (await Netns.list()).map(async (e): Promise<LsEntry> => {
      if (!e.identity) return { name: e.name, inode: null, nsid: e.nsid ?? null, pids: [], orphan: false, stale: true };
      let pids: number[] = [];
      try {
        const ns = await Netns.open(e.name);
        try {
          pids = await ns.pids();
        } finally {
          await ns.close();
        }
      } catch {
        // Deleted between the listing and the open: reported without processes.
      }
      return { name: e.name, inode: e.identity.ino, nsid: e.nsid ?? null, pids, orphan: pids.length === 0, stale: false };
    }),
  );
  const shown = opts.orphans ? entries.filter((e) => e.orphan || e.stale) : entries;
  const c = colour();
  out(opts, shown, () =>
    shown.length === 0
      ? opts.orphans ? 'no orphan or stale namespace' : 'no namespace under /run/netns'
      : table(
          shown.map((e) => [e.name, e.inode === null ? '-' : String(e.inode), e.nsid === null ? '-' : String(e.nsid), e.pids.length ? e.pids.join(',') : '-', e.stale ? paint(c, 'red', 'stale') : e.orphan ? paint(c, 'yellow', 'orphan') : '']),
          ['NAME', 'INODE', 'NSID', 'PIDS', 'FLAGS'],
        ),
  );
}

function linkState(l: Link): string {
  return l.up ? (l.lowerUp ? 'UP' : 'UP,NO-CARRIER') : 'DOWN';
}

export async function show(name: string, opts: CommonOptions): Promise<void> {
  const ns = await open(name);
  try {
    const [links, addrs, routes] = await Promise.all([ns.links.list(), ns.addresses.list(), ns.routes.list()]);
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
      ].join('\n'),
    );
  } finally {
    await ns.close();
  }
}

function positiveInt(field: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new ValidationError(field, v, 'must be a positive integer');
  return n;
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
  try {
    const r = await t[verb]({ onStep: (s, ms) => p.step(`${s.command} (${ms.toFixed(1)} ms)`) });
    const ms = performance.now() - t0;
    out(opts, { file, verb, namespaces: t.namespaces, changed: r.changed, unchanged: r.unchanged, ms: Math.round(ms) }, () =>
      r.changed.length
        ? [`${verb}: ${r.changed.length} change${r.changed.length === 1 ? '' : 's'} made in ${ms.toFixed(0)} ms (${r.unchanged} already in place)`, ...r.changed.map((s) => `  ${s.command}`)].join('\n')
        : `${verb}: nothing to do, nothing changed (${r.unchanged} steps already in place)`,
    );
  } finally {
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
  const ns = await open(name);
  try {
    const sample = async () => (await ns.links.list()).map((l) => ({ name: l.name, rxBytes: Number(l.stats?.rxBytes ?? 0), rxPackets: Number(l.stats?.rxPackets ?? 0), txBytes: Number(l.stats?.txBytes ?? 0), txPackets: Number(l.stats?.txPackets ?? 0), rxDropped: Number(l.stats?.rxDropped ?? 0), txDropped: Number(l.stats?.txDropped ?? 0) }));
    if (opts.interval === undefined) {
      const s = await sample();
      out(opts, { namespace: name, links: s }, () => table(s.map((l) => [l.name, String(l.rxBytes), String(l.rxPackets), String(l.rxDropped), String(l.txBytes), String(l.txPackets), String(l.txDropped)]), ['LINK', 'RX BYTES', 'RX PKTS', 'RX DROP', 'TX BYTES', 'TX PKTS', 'TX DROP']));
      return;
    }
    const seconds = Number(opts.interval);
    if (!(seconds > 0 && seconds <= 3600)) throw new ValidationError('--interval', opts.interval, 'must be a number of seconds in (0, 3600]');
    const count = opts.count === undefined ? Infinity : positiveInt('--count', opts.count, 1);
    let prev = await sample();
    let t = performance.now();
    for (let i = 0; i < count; i++) {
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const now = await sample();
      const dt = (performance.now() - t) / 1000;
      t = performance.now();
      const rates = now.map((l) => {
        const p = prev.find((x) => x.name === l.name) ?? l;
        return { name: l.name, rxBps: (8 * (l.rxBytes - p.rxBytes)) / dt, txBps: (8 * (l.txBytes - p.txBytes)) / dt, rxPps: (l.rxPackets - p.rxPackets) / dt, txPps: (l.txPackets - p.txPackets) / dt };
      });
      prev = now;
      // One JSON object per line with --json (a stream of samples), a table per sample otherwise.
      if (opts.json) process.stdout.write(`${JSON.stringify({ namespace: name, seconds: dt, links: rates })}\n`);
      else process.stdout.write(`${table(rates.map((r) => [r.name, r.rxBps.toFixed(0), r.rxPps.toFixed(1), r.txBps.toFixed(0), r.txPps.toFixed(1)]), ['LINK', 'RX bit/s', 'RX pkt/s', 'TX bit/s', 'TX pkt/s'])}\n\n`);
    }
  } finally {
    await ns.close();
  }
}

/**
 * Qdiscs, classes and filters read back (`ns.tc`), as the CLI prints them: with the device's name,
 * without the raw attribute bytes, rates in tc's units.
 * @module
 */
import type { Qdisc, TcClass, TcFilter } from '../api/tc/view.js';

/** A rate in bytes/s as tc prints it in bits (`10Mbit`, `800Kbit`, `96bit`). */
export function rateText(bytesPerSec: number): string {
  const bits = bytesPerSec * 8;
  for (const [unit, scale] of [['Gbit', 1e9], ['Mbit', 1e6], ['Kbit', 1e3]] as const) if (bits >= scale) return `${+(bits / scale).toFixed(3)}${unit}`;
  return `${bits}bit`;
}

/** A size in bytes as tc prints it (`4Kb`, `1600b`). */
function sizeText(bytes: number): string {
  return bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024}Kb` : `${bytes}b`;
}

/** The options of a qdisc or class in tc's words (`rate 10Mbit burst 4Kb limit 500Kb`). */
export function optionsText(o: Qdisc['options'] | TcClass['options']): string {
  if (o === undefined) return '';
  const words: string[] = [];
  const r = o as Record<string, number | number[] | undefined>;
  if (typeof r.rate === 'number') words.push(`rate ${rateText(r.rate)}`);
  if (typeof r.ceil === 'number') words.push(`ceil ${rateText(r.ceil)}`);
  if (typeof r.burst === 'number') words.push(`burst ${sizeText(r.burst)}`);
  if (typeof r.limit === 'number') words.push(`limit ${r.limit}`);
  if (typeof r.latency === 'number') words.push(`lat ${(r.latency / 1000).toFixed(1)}ms`);
  if (typeof r.defaultClass === 'number') words.push(`default ${r.defaultClass.toString(16)}`);
  if (typeof r.bands === 'number') words.push(`bands ${r.bands}`);
  return words.join(' ');
}

/** A qdisc for `--json`: the device by name, no raw bytes. */
export function qdiscView(q: Qdisc, dev: (ifindex: number) => string) {
  return { dev: dev(q.ifindex), kind: q.kind, handle: q.handle, parent: q.parent, root: q.root, options: q.options ?? null, stats: q.stats ?? null };
}

/** A class for `--json`. */
export function classView(c: TcClass, dev: (ifindex: number) => string) {
  return { dev: dev(c.ifindex), kind: c.kind, classid: c.classid, parent: c.parent, leaf: c.leaf ?? null, options: c.options ?? null, stats: c.stats ?? null };
}

/** A filter for `--json`: actions keep their kind and, for mirred, the device by name. */
export function filterView(f: TcFilter, dev: (ifindex: number) => string) {
  const o = f.options;
  return {
    dev: dev(f.ifindex),
    kind: f.kind,
    parent: f.parent,
    protocol: f.protocol,
    pref: f.prio,
    handle: f.handle,
    classid: o?.classid ?? null,
    keys: o?.keys.length ?? 0,
    actions: (o?.actions ?? []).map((a) => ({ kind: a.kind, ...(a.mirred ? { mirred: { direction: a.mirred.direction, mode: a.mirred.mode, dev: dev(a.mirred.ifindex) } } : {}) })),
  };
}

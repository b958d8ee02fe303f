/**
 * A/B of one verb between two builds in one process: both checkouts' `dist/lib/index.js` are loaded
 * side by side (they share the addon), their calls alternate (who goes first alternates too, with an
 * event-loop turn between calls) and each pair's difference is kept. The median of the paired
 * differences is what a change saves; on a shared machine it moves far less than two medians taken
 * minutes apart (docs/performance.md, "Verbs (verbs2)").
 *
 *   node dist/bench/verbs_ab.js OLD_CHECKOUT NEW_CHECKOUT VERB [COUNT]
 *
 * VERB: addr (addresses.add), set (links.setUp), route (routes.add with dev), veth (links.add, both
 * ends here), vethfused (links.add: master, up, peer in another namespace), ns (Netns.create + close),
 * pod (a whole CNI-style pod, one after another). Everything happens in namespaces named
 * `bench-<pid>-...`, deleted at the end.
 * @module
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Lib from '../lib/index.js';

type Build = typeof Lib;
type Handle = Lib.Netns;

const [oldDir, newDir, verb = 'addr', countArg = '300'] = process.argv.slice(2);
const VERBS = ['addr', 'set', 'route', 'veth', 'vethfused', 'ns', 'pod'];
if (!oldDir || !newDir || !VERBS.includes(verb)) {
  console.error(`usage: verbs_ab.js OLD_CHECKOUT NEW_CHECKOUT ${VERBS.join('|')} [COUNT]`);
  process.exit(2);
}
const count = Number(countArg);
const load = async (dir: string): Promise<Build> => (await import(pathToFileURL(join(dir, 'dist/lib/index.js')).href)) as Build;
const A = await load(oldDir);
const B = await load(newDir);
const prefix = `bench-${process.pid}`;
const turn = () => new Promise((r) => setImmediate(r));
const median = (v: number[]) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];

const timesA: number[] = [];
const timesB: number[] = [];
const diffs: number[] = [];
async function timed(f: () => Promise<unknown>): Promise<number> {
  await turn();
  const t = performance.now();
  await f();
  return (performance.now() - t) * 1e3;
}
async function pair(i: number, fa: () => Promise<unknown>, fb: () => Promise<unknown>): Promise<void> {
  let a: number;
  let b: number;
  if (i & 1) {
    a = await timed(fa);
    b = await timed(fb);
  } else {
    b = await timed(fb);
    a = await timed(fa);
  }
  timesA.push(a);
  timesB.push(b);
  diffs.push(b - a);
}

const named: [Build, string][] = [];
const opened: Handle[] = [];
async function create(L: Build, name: string): Promise<Handle> {
  const ns = await L.Netns.create(`${prefix}-${name}`);
  named.push([L, ns.name as string]);
  return ns;
}

try {
  if (verb === 'ns') {
    for (let i = 0; i < count; i++) {
      await pair(i, async () => (await create(A, `a${i}`)).close(), async () => (await create(B, `b${i}`)).close());
    }
  } else {
    const hA = await create(A, 'ha');
    const hB = await create(B, 'hb');
    opened.push(hA, hB);
    for (const h of [hA, hB]) {
      if (verb === 'vethfused' || verb === 'pod') {
        await h.links.add({ kind: 'bridge', name: 'br0', up: true });
        await h.addresses.add('br0', '10.77.0.1/16');
      } else if (verb !== 'veth') {
        await h.links.add({ kind: 'veth', name: 'va', peer: { name: 'vb' } });
        await h.links.setUp('va');
        await h.links.setUp('vb');
      }
    }
    for (let i = 0; i < count; i++) {
      const ip = `10.${77 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
      const both = (f: (L: Build, h: Handle, tag: string) => Promise<unknown>) => pair(i, () => f(A, hA, 'a'), () => f(B, hB, 'b'));
      if (verb === 'addr') await both((_, h) => h.addresses.add('va', `${ip}/16`));
      else if (verb === 'set') await both((_, h) => h.links.setUp(i & 1 ? 'va' : 'vb'));
      else if (verb === 'route') await both((_, h) => h.routes.add({ destination: `10.${200 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`, dev: 'va' }));
      else if (verb === 'veth') await both((_, h) => h.links.add({ kind: 'veth', name: `a${i}`, peer: { name: `b${i}` } }));
      else if (verb === 'vethfused') {
        const pods = [await A.Netns.anonymous(), await B.Netns.anonymous()];
        await both((L, h) => h.links.add({ kind: 'veth', name: `vh${i}`, master: 'br0', up: true, peer: { name: 'eth0', netns: pods[L === A ? 0 : 1] } }));
        for (const p of pods) await p.close();
      } else {
        await both(async (L, h, tag) => {
          const p = await create(L, `${tag}${i}`);
          await h.links.add({ kind: 'veth', name: `vh${i}`, master: 'br0', up: true, peer: { name: 'eth0', netns: p } });
          await p.links.setUp('lo');
          await p.links.setUp('eth0');
          await p.addresses.add('eth0', `10.77.${1 + (i >> 8)}.${1 + (i & 255)}/16`);
          await p.routes.add({ destination: 'default', gateway: '10.77.0.1' });
          await p.close();
        });
      }
    }
  }
} finally {
  for (const h of opened) await h.close();
  for (const [L, name] of named) await L.Netns.delete(name, { ifExists: true }).catch(() => undefined);
}
console.log(JSON.stringify({ verb, count, oldMedianUs: +median(timesA).toFixed(1), newMedianUs: +median(timesB).toFixed(1), pairedMedianDiffUs: +median(diffs).toFixed(1) }));
process.exit(0);

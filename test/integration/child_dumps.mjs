// Child process of reliability.test.ts (issue 9, item 1): many rounds of concurrent dumps on each of
// HANDLES handles. Each round runs links, addresses and routes list() at once on every handle and
// checks the answers are complete; a round that does not finish within 5 s and not within 30 s
// more either means the handle is wedged (one that finishes late is counted as slow: on a loaded
// machine a process pinned to one CPU can stall for seconds). PIN places the addon's threads with taskset (sched_setaffinity per thread):
//   cross     the netns-io thread on CPU 1, every other thread on CPU 0 (the reader and the workers
//             that send dump requests always on different CPUs: the race of docs/errors.md,
//             "Concurrent dumps and EINVAL", is open)
//   reverse   the same with the CPUs swapped
//   one       every thread on CPU 0 (the race cannot happen: see the same section)
//   none      left to the scheduler
// Prints one JSON line.
//   node child_dumps.mjs ROUNDS BRIDGES HANDLES PIN
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

const rounds = Number(process.argv[2] ?? 200);
const bridges = Number(process.argv[3] ?? 0);
const handles = Number(process.argv[4] ?? 1);
const pin = process.argv[5] ?? 'none';
const { Netns } = await import(new URL('../../dist/lib/index.js', import.meta.url).href);
const { native } = await import(new URL('../../dist/lib/native.js', import.meta.url).href);
const nss = [];
let wedged = 0;
let failed = 0;
let done = 0;
let slow = 0;
let firstError;
try {
  for (let h = 0; h < handles; h++) {
    const ns = await Netns.anonymous();
    nss.push(ns);
    for (let i = 0; i < bridges; i++) {
      await ns.links.add({ name: `br${i}`, kind: 'bridge' });
      await ns.addresses.add(`br${i}`, `10.9.${i}.1/24`);
    }
  }
  if (pin !== 'none') {
    // After the first requests: the I/O thread and the workers exist.
    const [io, rest] = pin === 'cross' ? ['1', '0'] : pin === 'reverse' ? ['0', '1'] : ['0', '0'];
    for (const tid of readdirSync('/proc/self/task')) {
      const comm = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      execFileSync('taskset', ['-pc', comm === 'netns-io' ? io : rest, tid], { stdio: 'ignore' });
    }
  }
  // lo (down, so without addresses), one link and one address per bridge. Small dumps: each fits in
  // one datagram, so each is started and finished inside the worker's sendmsg (the racy case).
  const expected = { links: 1 + bridges, addresses: bridges };
  await Promise.all(nss.map(async (ns) => {
    for (let r = 0; r < rounds && wedged === 0; r++) {
      const settled = Promise.all([ns.links.list(), ns.addresses.list(), ns.routes.list()]).then(([links, addresses]) => {
        if (links.length !== expected.links || addresses.length !== expected.addresses) {
          firstError ??= `incomplete: ${links.length} links, ${addresses.length} addresses`;
          return 'failed';
        }
        return 'ok';
      }, (e) => { firstError ??= `${e.code}: ${e.message}`; return 'failed'; });
      const within = (ms) => {
        let timer;
        return Promise.race([settled, new Promise((res) => { timer = setTimeout(() => res('wedged'), ms); })]).finally(() => clearTimeout(timer));
      };
      let outcome = await within(5000);
      if (outcome === 'wedged') {
        outcome = await within(30_000);
        if (outcome !== 'wedged') slow++;
      }
      if (outcome === 'wedged') wedged++;
      else done++;
      if (outcome === 'failed') failed++;
    }
  }));
} finally {
  if (!wedged) await Promise.all(nss.map((ns) => ns.close()));
}
const stats = native().netlinkStats ? native().netlinkStats() : {};
console.log(JSON.stringify({ pin, handles, rounds: rounds * handles, done, wedged, slow, failed, firstError, stats }));
process.exit(0);

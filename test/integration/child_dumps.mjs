// Child process of reliability.test.ts (issue 9, item 1): many rounds of concurrent dumps on ONE
// handle. Each round runs links, addresses and routes list() several times at once; a round that
// does not finish within 5 s means the handle is wedged. Prints one JSON line.
//   node child_dumps.mjs ROUNDS
const rounds = Number(process.argv[2] ?? 200);
const bridges = Number(process.argv[3] ?? 0);
const { Netns } = await import(new URL('../../dist/lib/index.js', import.meta.url).href);
const { native } = await import(new URL('../../dist/lib/native.js', import.meta.url).href);
const ns = await Netns.anonymous();
let wedged = 0;
let failed = 0;
let firstError;
try {
  await ns.links.setUp('lo');
  for (let i = 0; i < bridges; i++) {
    await ns.links.add({ name: `br${i}`, kind: 'bridge' });
    await ns.addresses.add(`br${i}`, `10.9.${i}.1/24`);
  }
  for (let r = 0; r < rounds && wedged === 0; r++) {
    const work = Promise.all(
      Array.from({ length: 3 }, () => [ns.links.list(), ns.addresses.list(), ns.routes.list()]).flat(),
    );
    let timer;
    const outcome = await Promise.race([
      work.then(() => 'ok', (e) => { firstError ??= `${e.code}: ${e.message}`; return 'failed'; }),
      new Promise((res) => { timer = setTimeout(() => res('wedged'), 5000); }),
    ]);
    clearTimeout(timer);
    if (outcome === 'wedged') wedged++;
    if (outcome === 'failed') failed++;
  }
} finally {
  if (!wedged) await ns.close();
}
const stats = native().netlinkStats ? native().netlinkStats() : {};
console.log(JSON.stringify({ rounds, wedged, failed, firstError, stats }));
process.exit(0);

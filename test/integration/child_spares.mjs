// Child process for the spare-placeholder test: run inside `unshare -m --propagation private`, so the
// mount made here reaches no other mount namespace. Creates namespaces (the first ones leave a spare
// placeholder made on /run/netns as it is mounted now), mounts /run/netns anew on top of itself (the
// spare is now on another mount: linkat says EXDEV), creates more, and prints what each pin holds.
//   node child_spares.mjs PREFIX
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const [prefix] = process.argv.slice(2);
const { Netns } = await import(new URL('../../dist/lib/index.js', import.meta.url).href);
const before = [];
const after = [];
const result = { ok: false };
try {
  for (let i = 0; i < 3; i++) before.push(await Netns.create(`${prefix}-b${i}`));
  execFileSync('mount', ['--bind', '/run/netns', '/run/netns']);
  for (let i = 0; i < 3; i++) after.push(await Netns.create(`${prefix}-a${i}`));
  const same = [];
  for (const h of after) {
    const pin = await Netns.open(h.name);
    same.push(pin.equals(h));
    await pin.close();
  }
  result.samePinAfterRemount = same;
  result.ok = true;
} catch (e) {
  result.error = { name: e.name, code: e.code, syscall: e.syscall, message: e.message };
} finally {
  for (const h of after) await h.delete().catch(() => undefined);
  try {
    execFileSync('umount', ['-l', '/run/netns']); // lazily: the spare made on it holds it
  } catch {
    // the bind mount was not made
  }
  for (const h of before) await h.delete().catch(() => undefined);
}
result.left = [...before, ...after].filter((h) => existsSync(`/run/netns/${h.name}`)).map((h) => h.name);
console.log(JSON.stringify(result));

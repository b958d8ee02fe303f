// Child process for failure tests: loads the built library, optionally hides /proc (in a private
// mount namespace made by `unshare -m`), then tries to create a namespace and prints the outcome.
//   node child_create.mjs NAME [hide-proc]
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const [name, mode] = process.argv.slice(2);
const { Netns } = await import(new URL('../../dist/lib/index.js', import.meta.url).href);
// Load the addon and start its threads before /proc disappears.
const cur = await Netns.current();
await cur.close();
if (mode === 'hide-proc') execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', '/proc']);
let result;
try {
  const ns = await Netns.create(name);
  await ns.delete();
  result = { ok: true };
} catch (e) {
  result = { ok: false, name: e.name, code: e.code, errno: e.errno, syscall: e.syscall, message: e.message };
}
result.placeholderLeft = existsSync(`/run/netns/${name}`);
console.log(JSON.stringify(result));

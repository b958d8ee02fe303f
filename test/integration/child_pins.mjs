// Child process of reliability.test.ts (issue 9, item 8), run by `unshare -m` with a fresh tmpfs on
// /run made shared: this process's own mount namespace (nothing of the machine's) looks like a
// systemd host before its first `ip netns add`. FIRST ('lib' or 'ip') decides who makes /run/netns
// a mount point; then one namespace is pinned by the library and one by `ip netns add`, the mounts of
// each pin are counted in /proc/self/mountinfo, and both are deleted. Prints one JSON line.
//   unshare -m sh -c 'mount -t tmpfs tmpfs /run && mount --make-shared /run && node child_pins.mjs FIRST LIB IP'
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const [first, libName, ipName] = process.argv.slice(2);
const { Netns } = await import(new URL('../../dist/lib/index.js', import.meta.url).href);
const mountinfo = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).map((l) => l.split(' '));
// Field 4 is the mount point; the optional fields after 6 hold `shared:N` (the peer group).
const pinMounts = (name) => mountinfo().filter((f) => f[4] === `/run/netns/${name}`).length;
const peerGroup = (mountPoint) => mountinfo().filter((f) => f[4] === mountPoint).at(-1)?.slice(6).find((x) => x.startsWith('shared:'));
let ns;
if (first === 'ip') execFileSync('ip', ['netns', 'add', ipName]);
ns = await Netns.create(libName);
if (first !== 'ip') execFileSync('ip', ['netns', 'add', ipName]);
const result = {
  first,
  lib: pinMounts(libName),
  ip: pinMounts(ipName),
  runGroup: peerGroup('/run'),
  runNetnsGroup: peerGroup('/run/netns'),
  ipSeesLib: execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(libName),
};
await ns.delete();
execFileSync('ip', ['netns', 'delete', ipName]);
result.left = pinMounts(libName) + pinMounts(ipName);
console.log(JSON.stringify(result));

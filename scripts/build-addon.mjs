#!/usr/bin/env node
// Build the addon against the headers of the Node that runs this script (nvm, volta, node:20 images
// keep them at <prefix>/include/node), so no .npmrc nodedir and no header download are needed.
//   node scripts/build-addon.mjs               node-gyp rebuild
//   node scripts/build-addon.mjs --if-missing  the install script: nothing when a local build or a
//                                              prebuilt binary for this platform loads, else rebuild
//   node scripts/build-addon.mjs --prebuild    ... then copy it (and the CNI shim) to prebuilds/<platform>-<arch>/
//   --prebuild-if-built                        only the copy, when build/Release has a binary
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'build', 'Release', 'netns_native.node');
const args = process.argv.slice(2);
const require = createRequire(import.meta.url);

/** node-gyp: the project's own (a clone), else the one npm runs install scripts with (a consumer). */
function nodeGyp() {
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
    throw new Error('node-gyp not found: run this through npm (npm rebuild netns-native), or npm install node-gyp');
  }
}

/** Whether node-gyp-build finds a binary that loads here (build/Release, or prebuilds/ for this platform and libc). */
function loads() {
  try {
    require(require('node-gyp-build').resolve(root));
    return true;
  } catch {
    return false;
  }
}

if (args.includes('--if-missing') && loads()) process.exit(0);
if (!args.includes('--prebuild-if-built')) {
  const prefix = resolve(dirname(process.execPath), '..');
  const local = existsSync(join(prefix, 'include', 'node', 'node_api.h'));
  // In the environment too: node-gyp lets npm_config_nodedir (a user's or an old .npmrc's
  // nodedir, which may name another Node's headers) override its own --nodedir.
  const env = local ? { ...process.env, npm_config_nodedir: prefix } : process.env;
  execFileSync(process.execPath, [nodeGyp(), 'rebuild', ...(local ? ['--nodedir', prefix] : [])], { cwd: root, stdio: 'inherit', env });
}
if ((args.includes('--prebuild') || args.includes('--prebuild-if-built')) && existsSync(built)) {
  // node-gyp-build's naming: an N-API binary for any Node, for glibc (musl would be node.napi.musl.node).
  const libc = existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  mkdirSync(dir, { recursive: true });
  copyFileSync(built, join(dir, `node.napi.${libc}.node`));
  console.log(`prebuilt binary: ${join(dir, `node.napi.${libc}.node`)}`);
  // The CNI shim (native/cni_shim.c) beside it: two levels below the package, as in build/Release,
  // so it finds the Node.js plugin the same way from both (docs/cni.md "The agent and its shim").
  // node-gyp-build only considers *.node files there.
  const shim = join(root, 'build', 'Release', 'netns-native-bridge');
  if (existsSync(shim)) copyFileSync(shim, join(dir, 'netns-native-bridge'));
}

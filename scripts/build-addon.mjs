#!/usr/bin/env node
// Build the addon against the headers of the Node that runs this script (nvm, volta, node:20 images
// keep them at <prefix>/include/node), so no .npmrc nodedir and no header download are needed.
//   node scripts/build-addon.mjs               node-gyp rebuild
//   node scripts/build-addon.mjs --prebuild    ... then copy it to prebuilds/<platform>-<arch>/
//   --prebuild-if-built                        only the copy, when build/Release has a binary
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'build', 'Release', 'netns_native.node');
const args = process.argv.slice(2);

if (!args.includes('--prebuild-if-built')) {
  const prefix = resolve(dirname(process.execPath), '..');
  const nodedir = existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? ['--nodedir', prefix] : [];
  const gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  execFileSync(process.execPath, [gyp, 'rebuild', ...nodedir], { cwd: root, stdio: 'inherit' });
}
if ((args.includes('--prebuild') || args.includes('--prebuild-if-built')) && existsSync(built)) {
  // node-gyp-build's naming: an N-API binary for any Node, for glibc (musl would be node.napi.musl.node).
  const libc = existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  mkdirSync(dir, { recursive: true });
  copyFileSync(built, join(dir, `node.napi.${libc}.node`));
  console.log(`prebuilt binary: ${join(dir, `node.napi.${libc}.node`)}`);
}

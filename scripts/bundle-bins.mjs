#!/usr/bin/env node
// The executables' fast start (docs/cni.md "Speed"; docs/cli.md). After `tsc`, for every bin:
//
// 1. dist/bin/NAME.bundle.cjs: the compiled entry bundled by esbuild with everything it can reach
//    into ONE CommonJS file. Node reads one file through its synchronous CommonJS loader instead of
//    resolving, reading and linking some fifty ES modules through the asynchronous ESM loader on
//    every invocation. Lazy `import()`s stay lazy: esbuild keeps each such module behind an init
//    function that runs when the import is reached. Inputs are the compiled dist/**/*.js (tsc stays
//    the only compiler); `import.meta.url` is rewritten per module to the URL that module has in
//    dist/, so code locating files relative to itself (the addon, package.json) still finds them.
//    Built-in modules a run may never use are loaded on first use (LAZY_BUILTINS below).
// 2. dist/bin/NAME.bundle.cache: V8's code cache for the bundle, made by running the bin once
//    (TRAINING below) so the functions a run needs are in it, not only the top level.
// 3. dist/bin/NAME.cjs, the file package.json "bin" names: a launcher that compiles the bundle with
//    that cache (V8 checks the cache against its version, flags and the source, and compiles
//    normally when it does not match) and runs it as a CommonJS module.
//
//   node scripts/bundle-bins.mjs      (npm run build, prepack)
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist', 'bin');

/** bin name → compiled entry (relative to dist/). */
export const ENTRIES = {
  'netns-native': 'lib/cli/bin.js',
  'netns-native-bridge': 'lib/cni/bin/bridge.js',
  'netns-native-host-local': 'lib/cni/bin/host_local.js',
  'netns-native-cni-agent': 'lib/cni/bin/agent.js',
};

// Each module's import.meta.url becomes the dist/ URL it would have had, computed at run time from
// the bundle's own place (__dirname) so the package can be installed anywhere.
const metaUrl = {
  name: 'import-meta-url',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/].*\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      const star = /import \* as \w+ from ["']node:([\w/]+)["']/.exec(text);
      if (star && LAZY_BUILTINS.has(star[1])) throw new Error(`${args.path}: namespace import of node:${star[1]} (see LAZY_BUILTINS)`);
      if (!text.includes('import.meta.url')) return { contents: text, loader: 'js' };
      const rel = relative(outDir, args.path).split('\\').join('/');
      return { contents: text.replaceAll('import.meta.url', `__nnModuleUrl(${JSON.stringify(rel)})`), loader: 'js' };
    });
  },
};

// The entries' own `#!/usr/bin/env node` line is kept by esbuild as the bundle's first line.
// Built-in modules that Node has not loaded by the time a script starts, imported by library modules
// that a run may never call into (the CNI plugin never spawns, never opens a UDP socket, never asks
// cluster whether it is a worker). Loading one compiles dozens of Node's internal modules (node:net
// brings all of streams), a large share of a start-up; here each becomes a proxy that loads it on
// first use. Named imports are read as properties at each call (`(0, m.spawn)(...)` in esbuild's
// output) and default imports go through `.default`, so both reach the proxy's `get`; a namespace
// import (`import * as x`) would copy the properties at start-up instead and is refused below.
const LAZY_BUILTINS = new Set(['net', 'crypto', 'dgram', 'child_process', 'cluster', 'perf_hooks', 'timers/promises', 'os', 'stream', 'readline', 'worker_threads', 'zlib', 'http', 'https', 'tls', 'dns', 'dns/promises', 'v8', 'vm', 'string_decoder', 'stream/promises', 'diagnostics_channel', 'tty', 'fs/promises']);
const LAZY_NS = 'netns-native-lazy-builtin';

const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => {
      const name = args.path.slice(5);
      // The proxy's own require, and modules outside dist/ (commander, yaml), load the real module.
      if (args.namespace === LAZY_NS || !LAZY_BUILTINS.has(name) || !/[\\/]dist[\\/]/.test(args.importer)) return { path: args.path, external: true };
      return { path: name, namespace: LAZY_NS };
    });
    b.onLoad({ filter: /.*/, namespace: LAZY_NS }, (args) => ({
      loader: 'js',
      contents: [
        'let real;',
        `const load = () => (real ??= require(${JSON.stringify('node:' + args.path)}));`,
        // The export names, listed at build time, answer esbuild's __toESM without loading the
        // module: it copies each name as a getter that reads through the proxy when used.
        `const names = ${JSON.stringify(Object.keys(require('node:' + args.path)))};`,
        'module.exports = new Proxy({}, {',
        '  get: (_, key) => load()[key],',
        '  has: (_, key) => key in load(),',
        '  ownKeys: () => [...names],',
        '  getOwnPropertyDescriptor: (_, key) => (names.includes(key) ? { configurable: true, enumerable: true, writable: true, value: undefined } : undefined),',
        '});',
      ].join('\n'),
    }));
  },
};

const banner = [
  '"use strict";',
  'const __nnModuleUrl = (rel) => require("node:url").pathToFileURL(require("node:path").join(__dirname, rel)).href;',
].join('\n');

/**
 * The launcher. `load(cachedData)` compiles the bundle exactly the same way for a run and for the
 * training (the cache is only accepted for the same source and origin).
 */
const launcher = (name) => `#!/usr/bin/env node
'use strict';
// ${name}: made by scripts/bundle-bins.mjs. Runs ${name}.bundle.cjs with V8's code cache ${name}.bundle.cache (docs/cni.md "Speed").
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { Script } = require('node:vm');
const Module = require('node:module');
const file = join(__dirname, '${name}.bundle.cjs');
function load(cachedData) {
  const script = new Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, cachedData });
  const mod = new Module(file, module);
  mod.filename = file;
  const run = () => script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, __dirname);
  return { script, run };
}
if (require.main === module) {
  let cache;
  try {
    cache = readFileSync(join(__dirname, '${name}.bundle.cache'));
  } catch {
    // no cache: compile as usual
  }
  load(cache).run();
} else {
  module.exports = load;
}
`;

/**
 * One harmless invocation per bin whose run fills the code cache: it loads the library and the
 * addon and changes nothing (the bridge's DEL without a namespace and without IPAM touches no
 * interface; host-local's DEL releases nothing in a temporary directory; the CLI and the CNI agent
 * print their help: the agent's cache covers its start-up only, which it pays once).
 */
const TRAINING = {
  'netns-native': { args: ['--help'], env: {}, stdin: '' },
  'netns-native-cni-agent': { args: ['--help'], env: {}, stdin: '' },
  'netns-native-bridge': {
    args: [],
    env: { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'code-cache', CNI_IFNAME: 'eth0', CNI_PATH: '/nonexistent' },
    stdin: JSON.stringify({ cniVersion: '1.0.0', name: 'code-cache', type: 'netns-native-bridge' }),
  },
  'netns-native-host-local': {
    args: [],
    env: { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'code-cache', CNI_IFNAME: 'eth0', CNI_PATH: '/nonexistent' },
    stdin: (dir) => JSON.stringify({ cniVersion: '1.0.0', name: 'code-cache', type: 'netns-native-host-local', ipam: { type: 'host-local', subnet: '10.0.0.0/24', dataDir: dir } }),
  },
};

// `--train NAME`: in a child of the build, run the bin once and write its code cache at exit. The
// cache of the compiled top level is written first, so a failed run still leaves a useful cache.
if (process.argv[2] === '--train') {
  const name = process.argv[3];
  const load = require(join(outDir, `${name}.cjs`));
  const { script, run } = load(undefined);
  const out = join(outDir, `${name}.bundle.cache`);
  writeFileSync(out, script.createCachedData());
  process.argv.splice(2, 2);
  process.on('exit', (code) => {
    if (code === 0) writeFileSync(out, script.createCachedData());
  });
  run();
} else {
  for (const [name, entry] of Object.entries(ENTRIES)) {
    const bundle = join(outDir, `${name}.bundle.cjs`);
    await build({
      entryPoints: [join(root, 'dist', entry)],
      outfile: bundle,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      // node-gyp-build is required through createRequire at run time and locates the .node file on disk.
      external: ['node-gyp-build'],
      banner: { js: banner },
      plugins: [metaUrl, lazyBuiltins],
      // Keep class and function names: errors print them (NetnsError, CniError).
      keepNames: true,
      legalComments: 'none',
      logLevel: 'warning',
    });
    // The launcher wraps the bundle in a function, where the entry's `#!` line would not parse.
    writeFileSync(bundle, readFileSync(bundle, 'utf8').replace(/^#![^\n]*/, ''));
    const bin = join(outDir, `${name}.cjs`);
    writeFileSync(bin, launcher(name));
    chmodSync(bin, 0o755);
    const t = TRAINING[name];
    const tmp = mkdtempSync(join(tmpdir(), 'netns-native-code-cache-'));
    try {
      execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--train', name, ...t.args], {
        env: { ...process.env, ...t.env },
        input: typeof t.stdin === 'function' ? t.stdin(tmp) : t.stdin,
        stdio: ['pipe', 'ignore', 'ignore'],
      });
    } catch {
      // The run failed (no addon built yet, for one): the top level's cache is there.
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
}

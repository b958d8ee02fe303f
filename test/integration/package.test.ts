/**
 * The package as a user gets it (issue 11): `npm pack`, installed with --ignore-scripts into a fresh
 * ESM project and a fresh CommonJS project, on a PATH without any compiler; import/require work and
 * a namespace is created through the prebuilt binary. Without that binary the error names the fix.
 *
 * Lean on purpose: the tarball is packed from what `npm run build` and `npm run prebuild:copy` made
 * (`--ignore-scripts`: prepack's own tsc run took most of this file's time), the two projects are
 * installed at once, and the project without the binary is a copy of the ESM one.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nsName } from './helpers.js';

const execFileP = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const work = mkdtempSync(join(tmpdir(), 'nns-pack-'));
/** A PATH with node and sh only (npm runs scripts with sh): no g++, cc, make or python3 (npm is run as `node npm-cli.js`). */
const bin = join(work, 'bin');
const COMPILERS = ['g++', 'c++', 'gcc', 'cc', 'make', 'python3'];
let tarball = '';

function env(): NodeJS.ProcessEnv {
  return { ...process.env, PATH: bin, npm_config_cache: process.env.npm_config_cache ?? join(process.env.HOME ?? '/root', '.npm') };
}

function npmCli(): string {
  return join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
}

/** A fresh project of `type` with the tarball installed, scripts ignored, on the compiler-free PATH. */
async function project(name: string, type: 'module' | 'commonjs'): Promise<string> {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, type }));
  await execFileP(process.execPath, [npmCli(), 'install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: dir, env: env() });
  return dir;
}

function runNode(dir: string, file: string, code: string) {
  writeFileSync(join(dir, file), code);
  return spawnSync(process.execPath, [file], { cwd: dir, env: env(), encoding: 'utf8', timeout: 30_000 });
}

const projects: Record<'esm' | 'cjs' | 'bare', string> = { esm: '', cjs: '', bare: '' };

beforeAll(async () => {
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync('/bin/sh', join(bin, 'sh'));
  // The binary the tarball ships: a copy of the local build (what .ci/run does before this test).
  execFileSync(process.execPath, ['scripts/build-addon.mjs', '--prebuild-if-built'], { cwd: root, stdio: 'ignore' });
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', work, '--silent'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  tarball = join(work, out.trim().split('\n').pop()!);
  [projects.esm, projects.cjs] = await Promise.all([project('esm-consumer', 'module'), project('cjs-consumer', 'commonjs')]);
  projects.bare = join(work, 'no-binary');
  cpSync(projects.esm, projects.bare, { recursive: true });
  rmSync(join(projects.bare, 'node_modules', 'netns-native', 'prebuilds'), { recursive: true });
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('packed tarball', () => {
  it('holds the prebuilt linux-x64 glibc binary, the LICENSE and the sources the maps point at', () => {
    const list = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
    expect(list).toContain('package/prebuilds/linux-x64/node.napi.glibc.node');
    expect(list).toContain('package/prebuilds/linux-x64/netns-native-bridge');
    expect(list).toContain('package/dist/bin/netns-native-cni-agent.cjs');
    expect(list).toContain('package/LICENSE');
    expect(list).toContain('package/dist/lib/index.js');
    expect(list).toContain('package/lib/index.ts');
    expect(list.some((f) => f.startsWith('package/build/'))).toBe(false);
  });

  it('the test PATH has no compiler, and nothing was compiled', () => {
    expect(readdirSync(bin).sort()).toEqual(['node', 'sh']);
    for (const tool of COMPILERS) expect(spawnSync(tool, ['--version'], { env: env() }).error, tool).toMatchObject({ code: 'ENOENT' });
    expect(existsSync(join(projects.esm, 'node_modules', 'netns-native', 'build'))).toBe(false);
    expect(statSync(join(projects.esm, 'node_modules', 'netns-native', 'prebuilds', 'linux-x64', 'node.napi.glibc.node')).size).toBeGreaterThan(0);
  });

  it('its install script, when scripts are allowed, finds the prebuilt binary and builds nothing', () => {
    const r = spawnSync(process.execPath, [npmCli(), 'rebuild', 'netns-native'], { cwd: projects.esm, env: env(), encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(projects.esm, 'node_modules', 'netns-native', 'build'))).toBe(false);
  });

  it('an ESM project imports it and creates a namespace, no compiler, scripts ignored', () => {
    const dir = projects.esm;
    const name = nsName('esm');
    const r = runNode(dir, 'main.js', `import { Netns } from 'netns-native';\nconst ns = await Netns.create(${JSON.stringify(name)});\nconsole.log(JSON.stringify({ name: ns.name, lo: (await ns.links.get('lo')).name }));\nawait ns.delete();\n`);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ name, lo: 'lo' });
  });

  it('a CommonJS project requires it (require of ESM, Node >= 20.19) and creates a namespace', () => {
    const dir = projects.cjs;
    const name = nsName('cjs');
    const r = runNode(dir, 'main.js', `const { Netns, NetnsError } = require('netns-native');\n(async () => {\n  const ns = await Netns.create(${JSON.stringify(name)});\n  console.log(JSON.stringify({ name: ns.name, isClass: typeof NetnsError }));\n  await ns.delete();\n})().catch((e) => { console.error(e); process.exit(1); });\n`);
    expect(r.stderr.replace(/.*ExperimentalWarning.*\n?|.*--trace-warnings.*\n?/g, '')).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ name, isClass: 'function' });
  });

  it('the prebuilt CNI shim runs from an installed package: with no agent it runs the package\'s Node.js plugin', () => {
    const shim = join(projects.esm, 'node_modules', 'netns-native', 'prebuilds', 'linux-x64', 'netns-native-bridge');
    const r = spawnSync(shim, [], {
      env: { PATH: bin, CNI_COMMAND: 'VERSION', NETNS_NATIVE_CNI_SOCKET: join(work, 'no-agent', 'cni.sock') },
      input: JSON.stringify({ cniVersion: '1.0.0' }), encoding: 'utf8', timeout: 30_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });

  it('without the prebuilt binary, the first call fails with a NetnsError that says what to run', () => {
    const dir = projects.bare;
    const r = runNode(dir, 'main.js', `import { Netns } from 'netns-native';\ntry { await Netns.current(); } catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }\n`);
    const err = JSON.parse(r.stdout);
    expect(err).toMatchObject({ name: 'NetnsError', code: 'ERR_ADDON_MISSING' });
    expect(err.message).toContain('npm rebuild netns-native');
  });
});

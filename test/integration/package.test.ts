/**
 * The package as a user gets it (issue 11): `npm pack`, installed with --ignore-scripts into a fresh
 * ESM project and a fresh CommonJS project, on a PATH without any compiler; import/require work and
 * a namespace is created through the prebuilt binary. Without that binary the error names the fix.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nsName } from './helpers.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const work = mkdtempSync(join(tmpdir(), 'nns-pack-'));
/** A PATH with node and npm only: no g++, no make, no python3. */
const bin = join(work, 'bin');
let tarball = '';

function env(): NodeJS.ProcessEnv {
  return { ...process.env, PATH: bin, npm_config_cache: process.env.npm_config_cache ?? join(process.env.HOME ?? '/root', '.npm') };
}

function project(name: string, type: 'module' | 'commonjs'): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, type }));
  execFileSync(process.execPath, [npmCli(), 'install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: dir, env: env(), stdio: 'pipe' });
  return dir;
}

function npmCli(): string {
  return join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
}

function runNode(dir: string, file: string, code: string) {
  writeFileSync(join(dir, file), code);
  return spawnSync(process.execPath, [file], { cwd: dir, env: env(), encoding: 'utf8', timeout: 30_000 });
}

beforeAll(() => {
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  const out = execFileSync('npm', ['pack', '--pack-destination', work, '--silent'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  tarball = join(work, out.trim().split('\n').pop()!);
}, 180_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('packed tarball', () => {
  it('holds the prebuilt linux-x64 glibc binary, the LICENSE and the sources the maps point at', () => {
    const list = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
    expect(list).toContain('package/prebuilds/linux-x64/node.napi.glibc.node');
    expect(list).toContain('package/LICENSE');
    expect(list).toContain('package/dist/lib/index.js');
    expect(list).toContain('package/lib/index.ts');
    expect(list.some((f) => f.startsWith('package/build/'))).toBe(false);
  });

  it('the test PATH has no compiler', () => {
    expect(readdirSync(bin)).toEqual(['node']);
    expect(spawnSync('g++', ['--version'], { env: env() }).error).toBeDefined();
  });

  it('an ESM project imports it and creates a namespace, no compiler, scripts ignored', () => {
    const dir = project('esm-consumer', 'module');
    const name = nsName('esm');
    const r = runNode(dir, 'main.js', `import { Netns } from 'netns-native';\nconst ns = await Netns.create(${JSON.stringify(name)});\nconsole.log(JSON.stringify({ name: ns.name, lo: (await ns.links.get('lo')).name }));\nawait ns.delete();\n`);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ name, lo: 'lo' });
  }, 120_000);

  it('a CommonJS project requires it (require of ESM, Node >= 20.19) and creates a namespace', () => {
    const dir = project('cjs-consumer', 'commonjs');
    const name = nsName('cjs');
    const r = runNode(dir, 'main.js', `const { Netns, NetnsError } = require('netns-native');\n(async () => {\n  const ns = await Netns.create(${JSON.stringify(name)});\n  console.log(JSON.stringify({ name: ns.name, isClass: typeof NetnsError }));\n  await ns.delete();\n})().catch((e) => { console.error(e); process.exit(1); });\n`);
    expect(r.stderr.replace(/.*ExperimentalWarning.*\n?|.*--trace-warnings.*\n?/g, '')).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ name, isClass: 'function' });
  }, 120_000);

  it('without the prebuilt binary, the first call fails with a NetnsError that says what to run', () => {
    const dir = project('no-binary', 'module');
    rmSync(join(dir, 'node_modules', 'netns-native', 'prebuilds'), { recursive: true });
    const r = runNode(dir, 'main.js', `import { Netns } from 'netns-native';\ntry { await Netns.current(); } catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }\n`);
    const err = JSON.parse(r.stdout);
    expect(err).toMatchObject({ name: 'NetnsError', code: 'ERR_ADDON_MISSING' });
    expect(err.message).toContain('npm rebuild netns-native');
  }, 120_000);
});

/**
 * Compile-time contracts of the public API (issue 11), checked with the TypeScript compiler: a
 * misspelt link kind or error code must not compile, the right ones must.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// The built declarations (what a consumer compiles against; checking them is 10x faster than lib/).
const INDEX = new URL('../../dist/lib/index.js', import.meta.url).pathname;

/** Type errors of `code` (a module importing the library's index), as "line: message". */
function typeErrors(code: string): string[] {
  if (!existsSync(INDEX.replace(/\.js$/, '.d.ts'))) throw new Error('dist/ is missing: run `npm run build` first');
  const dir = mkdtempSync(join(tmpdir(), 'nn-types-'));
  try {
    const file = join(dir, 'probe.ts');
    writeFileSync(file, code.replaceAll('INDEX', INDEX));
    const program = ts.createProgram([file], {
      strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext, types: ['node'], skipLibCheck: true,
    });
    return ts.getPreEmitDiagnostics(program)
      .filter((d) => d.file?.fileName === file)
      .map((d) => `${d.file!.getLineAndCharacterOfPosition(d.start!).line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('public types', () => {
  it('links.list({ kind }) takes known kinds only; err.code is a union of the codes', () => {
    const errors = typeErrors(`
      import { type Netns, type NetnsError, type LinkKindName, type NetnsErrorCode } from 'INDEX';
      export async function f(ns: Netns, err: NetnsError): Promise<void> {
        await ns.links.list({ kind: 'bridge' });
        await ns.links.list({ kind: 'wireguard' });
        await ns.links.list({ kind: 'brigde' });
        const k: LinkKindName = 'vxlan';
        const c: NetnsErrorCode = 'EEXIST';
        const d: NetnsErrorCode = 'E524';
        if (err.code === 'ERR_INVALID_ARG' || err.code === 'EOPNOTSUPP') return;
        if (err.code === 'EEXISTS') return;
        void k; void c; void d;
      }
    `);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^6: Type '"brigde"' is not assignable/);
    expect(errors[1]).toMatch(/^11: This comparison appears to be unintentional/);
  }, 60_000);
});

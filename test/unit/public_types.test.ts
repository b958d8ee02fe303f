/**
 * Compile-time contracts of the public API (issue 11), checked with the TypeScript compiler: a
 * misspelt link kind or error code must not compile, the right ones must.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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

describe('typedoc surface', () => {
  // Classes users construct themselves (errors, for tests and wrappers) or through a static factory
  // declared on the class (Netns, Topology have private constructors).
  const USER_CONSTRUCTED = new Set(['NetnsError', 'ValidationError', 'SystemError', 'NotANamespaceError', 'NetlinkError', 'DumpInterruptedError', 'ClosedError', 'RequestAbortedError', 'CniError', 'TopologyError']);

  it("constructors of the package's classes are @internal (typedoc excludeInternal hides them), except errors", async () => {
    const exported = new Set(Object.keys(await import('../../lib/index.js')));
    const LIB = new URL('../../lib/', import.meta.url).pathname;
    const shown: string[] = [];
    for (const e of readdirSync(LIB, { withFileTypes: true, recursive: true })) {
      if (!e.isFile() || !e.name.endsWith('.ts')) continue;
      const file = join(e.parentPath, e.name);
      const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
      for (const stmt of src.statements) {
        if (!ts.isClassDeclaration(stmt) || !stmt.name || !stmt.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) continue;
        if (!exported.has(stmt.name.text) || USER_CONSTRUCTED.has(stmt.name.text)) continue;
        for (const m of stmt.members) {
          if (!ts.isConstructorDeclaration(m) || m.modifiers?.some((x) => x.kind === ts.SyntaxKind.PrivateKeyword || x.kind === ts.SyntaxKind.ProtectedKeyword)) continue;
          if (!ts.getJSDocTags(m).some((t) => t.tagName.text === 'internal')) shown.push(`${file.slice(LIB.length)}: ${stmt.name.text}`);
        }
      }
    }
    expect(shown).toEqual([]);
  });
});

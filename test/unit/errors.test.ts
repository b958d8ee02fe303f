/** The error types' contract (issue 11): the `code` union, errno's sign, the wording of errno 95. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRNO_CODES, LIBRARY_CODES, NetlinkError, NetnsError, errnoMessage, errnoName, errnoNames, type NetnsErrorCode } from '../../lib/errors.js';

const ROOT = new URL('../../', import.meta.url).pathname;

function sources(dir: string, ext: RegExp): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && ext.test(e.name))
    .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'));
}

describe('the code union', () => {
  it('ERRNO_CODES is exactly the table errno names come from', () => {
    expect([...ERRNO_CODES].sort()).toEqual([...new Set(Object.values(errnoNames()))].sort());
    expect(errnoName(95)).toBe('EOPNOTSUPP');
    expect(errnoName(-17)).toBe('EEXIST');
    const unnamed: NetnsErrorCode = errnoName(524);
    expect(unnamed).toBe('E524');
  });

  it('LIBRARY_CODES holds every ERR_* code written in lib/ and native/', () => {
    const written = new Set<string>();
    for (const text of [...sources('lib', /\.ts$/), ...sources('native', /\.(cc|h)$/)]) {
      for (const m of text.matchAll(/['"](ERR_[A-Z_]+)['"]/g)) written.add(m[1]);
    }
    // Node's own codes the library only mentions (compares with, never throws), and the code the
    // CLI prints for what its argument parser rejects (lib/cli/main.ts: no NetnsError carries it).
    for (const nodeCode of ['ERR_INVALID_ARG_TYPE', 'ERR_UNEXPECTED', 'ERR_USAGE']) written.delete(nodeCode);
    expect([...written].filter((c) => !(LIBRARY_CODES as readonly string[]).includes(c))).toEqual([]);
  });
});

describe('errno and wording', () => {
  it('errno is negative whatever sign it is given, as in Node system errors', () => {
    expect(new NetnsError('x', { code: 'EPERM', errno: 1 }).errno).toBe(-1);
    expect(new NetnsError('x', { code: 'EPERM', errno: -1 }).errno).toBe(-1);
    expect(new NetlinkError(17, { type: 16, flags: 0, seq: 1 }, {}).errno).toBe(-17);
    expect(Object.keys(new NetnsError('x', { code: 'ERR_CLOSED' }))).toEqual(['code']);
  });

  it("errno 95 reads 'operation not supported' (libuv: '... on socket')", () => {
    expect(errnoMessage(95)).toBe('operation not supported');
    expect(new NetlinkError(95, { type: 16, flags: 0, seq: 1 }, {}, 'ip link set dev lo master v0').message).toBe(
      'ip link set dev lo master v0: operation not supported (EOPNOTSUPP)',
    );
  });
});

import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib/errors.js';
import { validateIfname, validateNetnsName } from '../../lib/validate/names.js';

describe('namespace names (iproute2 rules)', () => {
  it.each(['', '.', '..', 'a/b', 'a\0b', 'x'.repeat(256), 42 as unknown as string])('rejects %j', (n) => {
    expect(() => validateNetnsName(n)).toThrow(ValidationError);
  });
  it.each(['blue', 'a b', 'x'.repeat(255), 'ünï', '...'])('accepts %j', (n) => {
    expect(validateNetnsName(n)).toBe(n);
  });
});

describe('interface names (kernel dev_valid_name)', () => {
  it.each(['', '.', '..', 'a/b', 'a:b', 'a b', 'a\tb', 'veth%d', 'x'.repeat(16), 'ééééééééé'])('rejects %j', (n) => {
    const err = (() => { try { validateIfname(n); } catch (e) { return e; } })() as ValidationError;
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.code).toBe('ERR_INVALID_ARG');
  });
  it.each(['eth0', 'x'.repeat(15), 'veth-red', 'éééééééé'.slice(0, 7)])('accepts %j', (n) => {
    expect(validateIfname(n)).toBe(n);
  });
});

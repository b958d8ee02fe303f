/** Strict parsing of tc units and handle notation: tc's values for what tc accepts, a named refusal for the rest. */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lib/errors.js';
import { formatHandle, parseClassId, parseFilterParent, parseParent, parseQdiscHandle } from '../../lib/rtnl/tc/handle.js';
import { parseRate, parseSize, parseTime } from '../../lib/validate/units.js';

function refused(fn: () => unknown, field: string): ValidationError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).field).toBe(field);
    expect((e as ValidationError).code).toBe('ERR_INVALID_ARG');
    return e as ValidationError;
  }
  throw new Error('accepted');
}

describe('rates (bytes per second, as tc computes them)', () => {
  it.each([
    ['10mbit', 1250000], ['10Mbit', 1250000], ['32kbit', 4000], ['1.5gbit', 187500000], ['1kibit', 128],
    ['8bit', 1], ['100kbps', 100000], ['40gbit', 5000000000], ['1tbit', 125000000000], ['2mibps', 2 * 1024 * 1024],
  ])('%s is %i bytes/s', (s, v) => expect(parseRate('rate', s)).toBe(v));

  it("tc's mbps means megabytes per second (MBps), not megabits", () => {
    expect(parseRate('rate', '1mbps')).toBe(1000000);
    expect(parseRate('rate', '1mbit')).toBe(125000);
  });

  it('a number is bits per second', () => expect(parseRate('rate', 10_000_000)).toBe(1250000));

  it.each(['10 mbit', ' 10mbit', '-1kbit', '1e3kbit', '10mbitt', '', 'mbit', '10furlongs', '0x10kbit', 'inf', '1.kbit', '10mbit\n'])(
    'refuses %j naming the field', (s) => {
      const e = refused(() => parseRate('egress', s), 'egress');
      expect(e.message).toContain('egress');
    });

  it.each([0, -8, 1.5, NaN, Infinity, '0mbit', '0', '7bit', null, {}])('refuses the rate %j', (v) => {
    refused(() => parseRate('rate', v), 'rate');
  });
});

describe('sizes (bytes; tc sizes are binary, and kbit is 128 bytes)', () => {
  it.each([['32kbit', 4096], ['64kb', 65536], ['64k', 65536], ['1500b', 1500], ['1500', 1500], ['1mb', 1048576], ['1.5kb', 1536], ['2mbit', 262144]])(
    '%s is %i bytes', (s, v) => expect(parseSize('burst', s)).toBe(v));
  it.each(['0.1kb', '1 kb', '-1kb', '1e3', '10kbyte', '', 5.5, -1, '5gb'])('refuses %j', (v) => refused(() => parseSize('burst', v), 'burst'));
});

describe('times (µs)', () => {
  it.each([['400ms', 400000], ['1s', 1000000], ['50us', 50], ['2secs', 2000000], ['1.5ms', 1500], ['100', 100]])(
    '%s is %i µs', (s, v) => expect(parseTime('latency', s)).toBe(v));
  it.each(['400 ms', '-1ms', '1e2ms', '400msec.', 'soon', '', -5])('refuses %j', (v) => refused(() => parseTime('latency', v), 'latency'));
});

describe('handles in tc notation', () => {
  it('qdisc handles', () => {
    expect(parseQdiscHandle('handle', '1:')).toBe(0x10000);
    expect(parseQdiscHandle('handle', '1')).toBe(0x10000);
    expect(parseQdiscHandle('handle', 'abcd:')).toBe(0xabcd0000);
    expect(parseQdiscHandle('handle', 0x20000)).toBe(0x20000);
  });
  it.each(['0:', '0:0', '1:10', 'ffff:', 'ffff:ffff', '10000:', 'x:', ':', '', '1::'])('refuses the qdisc handle %j', (v) => refused(() => parseQdiscHandle('handle', v), 'handle'));

  it('class ids', () => {
    expect(parseClassId('classid', '1:10')).toBe(0x10010);
    expect(parseClassId('classid', 'a:ff')).toBe(0xa00ff);
  });
  it.each(['1:', '0:0', 'ffff:ffff', 'ffff:1', ':10', '1:10000', '1:-1', 0, 0xffffffff, 0x10000, 1.5])('refuses the class id %j', (v) => refused(() => parseClassId('classid', v), 'classid'));

  it('parents and their printed form', () => {
    expect(formatHandle(parseParent('parent', 'root'))).toBe('root');
    expect(formatHandle(parseParent('parent', '1:'))).toBe('1:');
    expect(formatHandle(parseParent('parent', '1:10'))).toBe('1:10');
    expect(formatHandle(parseFilterParent('parent', 'ingress'))).toBe('ffff:fff2');
    expect(formatHandle(parseFilterParent('parent', 'egress'))).toBe('ffff:fff3');
    expect(formatHandle(parseFilterParent('parent', 'ffff:'))).toBe('ffff:');
    expect(formatHandle(0)).toBe('none');
    refused(() => parseParent('parent', 'ingress'), 'parent');
    refused(() => parseParent('parent', '0:0'), 'parent');
  });
});

/**
 * resolv.conf formatting and parsing (ns.dns) and the PATH search done before a spawn's fork: no
 * root, no kernel.
 */
import { describe, expect, it } from 'vitest';
import { formatResolvConf, parseResolvConf } from '../../lib/process/dns.js';
import { DEFAULT_PATH, pathCandidates } from '../../lib/process/spawn.js';
import { ValidationError } from '../../lib/errors.js';

describe('formatResolvConf / parseResolvConf', () => {
  it('round-trips what set() accepts', () => {
    const config = { nameservers: ['10.0.0.53', '::1'], search: ['a.example', 'b.example.'], options: ['ndots:3', 'edns0', 'single-request-reopen'] };
    const text = formatResolvConf(config, 'blue');
    expect(text).toBe(
      '# Written by netns-native for network namespace blue\nnameserver 10.0.0.53\nnameserver ::1\nsearch a.example b.example.\noptions ndots:3 edns0 single-request-reopen\n',
    );
    expect(parseResolvConf(text)).toEqual(config);
    expect(formatResolvConf({ nameservers: ['192.0.2.1'] }, 'x')).toBe('# Written by netns-native for network namespace x\nnameserver 192.0.2.1\n');
  });

  it('reads like the resolver: comments skipped, last search/domain wins, options accumulate', () => {
    expect(parseResolvConf('domain a.example\nsearch b.example c.example\n#nameserver 9.9.9.9\n;x\noptions rotate\noptions ndots:2\nnameserver 1.1.1.1 trailing\n\n')).toEqual({
      nameservers: ['1.1.1.1'],
      search: ['b.example', 'c.example'],
      options: ['rotate', 'ndots:2'],
    });
    expect(parseResolvConf('search x.example\ndomain y.example\n')).toEqual({ nameservers: [], search: ['y.example'], options: [] });
    expect(parseResolvConf('')).toEqual({ nameservers: [], search: [], options: [] });
  });

  it('rejects what would write a line nobody asked for', () => {
    for (const bad of [
      { nameservers: ['10.0.0.1\nnameserver 6.6.6.6'] },
      { nameservers: ['10.0.0.1'], search: ['ok.example', 'bad example'] },
      { nameservers: ['10.0.0.1'], search: ['-leading.example'] },
      { nameservers: ['10.0.0.1'], search: ['a'.repeat(64) + '.example'] },
      { nameservers: ['10.0.0.1'], options: ['ndots:2\nsearch evil'] },
      { nameservers: ['10.0.0.1'], options: [':2'] },
      { nameservers: ['10.0.0.1'], options: 'rotate' },
    ]) {
      expect(() => formatResolvConf(bad as never, 'n')).toThrow(ValidationError);
    }
  });
});

describe('pathCandidates', () => {
  it('searches PATH in order, an empty entry meaning the working directory', () => {
    expect(pathCandidates('ip', '/usr/sbin:/bin/:')).toEqual(['/usr/sbin/ip', '/bin/ip', 'ip']);
    expect(pathCandidates('ip', undefined)).toEqual(DEFAULT_PATH.split(':').map((d) => `${d}/ip`));
  });

  it('a command with a slash is used as given', () => {
    expect(pathCandidates('./run.sh', '/usr/bin')).toEqual(['./run.sh']);
    expect(pathCandidates('/sbin/ip', '/usr/bin')).toEqual(['/sbin/ip']);
  });
});

/**
 * AbortSignal where Node has one (issue 11): spawn, exec, listen/createServer, connect,
 * createUdpSocket, and Topology up/down. (watchEvents, capture, ping and sampleStats have theirs in
 * their own test files.) An already-aborted signal starts nothing; one that fires later stops the
 * work and leaves nothing behind: `ss` and `ip netns list` are the oracles.
 */
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Netns, RequestAbortedError, ValidationError, type NetnsError } from '../../lib/index.js';
import { Topology, TopologyError } from '../../lib/topology/index.js';
import { nsName, pinnedNames, run } from './helpers.js';
import { nsTest } from './fixtures.js';

const abortedSignal = (): AbortSignal => AbortSignal.abort(new Error('stop'));

/** `ss -Htan` (or -uan) inside the namespace: the sockets the kernel holds there. */
function ss(ns: Netns, flags: string): string {
  return run('ip', ['netns', 'exec', ns.name!, 'ss', flags]).trim();
}

describe('processes', () => {
  nsTest('spawn: the signal kills the child (killSignal); already aborted, nothing starts', async ({ ns }) => {
    const ac = new AbortController();
    const child = await ns.spawn('sleep', ['30'], { signal: ac.signal, stdio: 'ignore' });
    expect(child.exitStatus).toBeUndefined();
    ac.abort();
    expect(await child.exited).toEqual({ code: null, signal: 'SIGTERM' });

    const ac2 = new AbortController();
    const child2 = await ns.spawn('sleep', ['30'], { signal: ac2.signal, killSignal: 'SIGKILL', stdio: 'ignore' });
    ac2.abort();
    expect(await child2.exited).toEqual({ code: null, signal: 'SIGKILL' });

    const err = await ns.spawn('sleep', ['30'], { signal: abortedSignal() }).catch((e: NetnsError) => e);
    expect(err).toBeInstanceOf(RequestAbortedError);
    expect(err).toMatchObject({ code: 'ABORT_ERR', operation: `ip netns exec ${ns.name} sleep` });
    expect(await ns.pids()).toEqual([]);
    await expect(ns.spawn('true', [], { signal: 'no' as unknown as AbortSignal })).rejects.toBeInstanceOf(ValidationError);
  });

  nsTest('exec: rejects with ABORT_ERR once the child was killed and reaped', async ({ ns }) => {
    const ac = new AbortController();
    const t0 = performance.now();
    const done = ns.exec('sleep', ['30'], { signal: ac.signal });
    await sleep(100);
    ac.abort(new Error('user gave up'));
    const err = await done.catch((e: NetnsError) => e);
    expect(err).toBeInstanceOf(RequestAbortedError);
    expect(err).toMatchObject({ code: 'ABORT_ERR' });
    expect((err as Error).cause).toEqual(new Error('user gave up'));
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(await ns.pids()).toEqual([]);
    // A child that ends before the signal fires is a normal result.
    const ac2 = new AbortController();
    const r = await ns.exec('echo', ['hi'], { signal: ac2.signal });
    ac2.abort();
    expect(r).toMatchObject({ stdout: 'hi\n', code: 0 });
  });
});

describe('sockets', () => {
  nsTest('listen/createServer: the signal closes the server (ss sees the listener go)', async ({ ns }) => {
    await ns.links.setUp('lo');
    const ac = new AbortController();
    const server = await ns.createServer({ host: '127.0.0.1', port: 0, signal: ac.signal });
    const port = (server.address() as { port: number }).port;
    expect(ss(ns, '-Htln')).toContain(`127.0.0.1:${port}`);
    const closed = once(server, 'close');
    ac.abort();
    await closed;
    expect(server.listening).toBe(false);
    expect(ss(ns, '-Htln')).not.toContain(`:${port}`);
    const err = await ns.createServer({ host: '127.0.0.1', signal: abortedSignal() }).catch((e: NetnsError) => e);
    expect(err).toMatchObject({ code: 'ABORT_ERR' });
    expect(ss(ns, '-Htln')).toBe('');
  });

  nsTest('connect: aborting a connection attempt rejects ABORT_ERR; aborting later destroys the socket', async ({ ns }) => {
    // 10.77.0.2 is on the link but nobody answers ARP: the SYN waits (EHOSTUNREACH after seconds).
    await ns.links.add({ kind: 'veth', name: 'v0', peer: { name: 'v1' }, up: true });
    await ns.links.setUp('v1');
    await ns.addresses.add('v0', '10.77.0.1/24');
    const ac = new AbortController();
    const t0 = performance.now();
    const pending = ns.connect({ host: '10.77.0.2', port: 9, signal: ac.signal });
    await sleep(50);
    ac.abort();
    const err = await pending.catch((e: NetnsError) => e);
    expect(err).toBeInstanceOf(RequestAbortedError);
    expect(err).toMatchObject({ code: 'ABORT_ERR', operation: `connect from ${ns.name} to 10.77.0.2:9` });
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(ss(ns, '-Htan')).not.toContain('10.77.0.2:9');

    await ns.links.setUp('lo');
    const server = await ns.createServer({ host: '127.0.0.1' });
    try {
      const port = (server.address() as { port: number }).port;
      const ac2 = new AbortController();
      const socket = await ns.connect({ host: '127.0.0.1', port, signal: ac2.signal });
      const errors: Error[] = [];
      socket.on('error', (e) => errors.push(e)); // Node reports the abort as an AbortError on the socket
      const closed = new Promise((resolve) => socket.once('close', resolve));
      ac2.abort();
      await closed;
      expect(errors.map((e) => e.name)).toEqual(['AbortError']);
      expect(socket.destroyed).toBe(true);
      expect(await ns.connect({ host: '127.0.0.1', port, signal: abortedSignal() }).catch((e: NetnsError) => e.code)).toBe('ABORT_ERR');
    } finally {
      server.close();
    }
  });

  nsTest('createUdpSocket: the signal closes the socket', async ({ ns }) => {
    await ns.links.setUp('lo');
    const ac = new AbortController();
    const socket = await ns.createUdpSocket({ type: 'udp4', address: '127.0.0.1', signal: ac.signal });
    const port = socket.address().port;
    expect(ss(ns, '-Huan')).toContain(`127.0.0.1:${port}`);
    const closed = once(socket, 'close');
    ac.abort();
    await closed;
    expect(ss(ns, '-Huan')).toBe('');
    expect(await ns.createUdpSocket({ type: 'udp4', signal: abortedSignal() }).catch((e: NetnsError) => e.code)).toBe('ABORT_ERR');
  });
});

describe('Topology', () => {
  const doc = { namespaces: { a: { links: [{ kind: 'veth', name: 'va', up: true, peer: { name: 'vb', netns: 'b', up: true } }], addresses: { va: ['10.78.0.1/24'] } }, b: {} } };

  it('up: aborted between steps, it undoes what it made and throws ABORT_ERR; down stops too', async () => {
    const prefix = nsName('ab');
    const t = Topology.from(doc, { rename: (n) => `${prefix}${n}` });
    const mine = () => pinnedNames().filter((n) => n.startsWith(prefix));
    try {
      await expect(t.up({ signal: abortedSignal() })).rejects.toMatchObject({ code: 'ABORT_ERR' });
      expect(mine()).toEqual([]);

      const ac = new AbortController();
      const steps: string[] = [];
      const err = await t.up({ signal: ac.signal, onStep: (s) => { steps.push(s.command); if (steps.length === 2) ac.abort(); } }).catch((e: NetnsError) => e);
      expect(err).toBeInstanceOf(TopologyError);
      expect(err).toMatchObject({ code: 'ABORT_ERR' });
      expect(err.message).toContain('everything this run made was rolled back');
      expect(steps).toHaveLength(2);
      expect(mine()).toEqual([]);

      await t.up();
      expect(mine()).toHaveLength(2);
      await expect(t.down({ signal: abortedSignal() })).rejects.toMatchObject({ code: 'ABORT_ERR' });
      expect(mine()).toHaveLength(2);
    } finally {
      await t.down();
    }
    expect(mine()).toEqual([]);
  });
});

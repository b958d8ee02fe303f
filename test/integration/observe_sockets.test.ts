/**
 * listSockets()/socketSummary() against `ss -tunap -H` and `ss -s` run inside the same namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, ValidationError } from '../../lib/index.js';
import { listSockets, socketSummary, type SocketEntry } from '../../lib/observe/sockets.js';
import { formatSsLine } from '../../lib/format/ss.js';
import { nsName, run } from './helpers.js';

let ns: Netns;
let name: string;
let child: ChildProcess;
let server: import('node:net').Server;

// A process inside the namespace holding a known set of sockets: a listener, both ends of a TCP
// connection with 10 unread bytes, a dual-stack UDP socket, a connected UDP socket, an IPv6 listener.
const PY = `
import socket, sys, time
s=socket.socket(); s.bind(('127.0.0.1',8080)); s.listen(5)
c=socket.create_connection(('127.0.0.1',8080)); a,_=s.accept(); c.send(b'x'*10)
u=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM); u.bind(('::',5353))
u2=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); u2.connect(('127.0.0.1',9))
t6=socket.socket(socket.AF_INET6); t6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1); t6.bind(('::1',7070)); t6.listen()
print('ready', flush=True)
time.sleep(120)
`;

beforeAll(async () => {
  name = nsName('ss');
  ns = await Netns.create(name);
  await ns.links.setUp('lo');
  child = spawn('ip', ['netns', 'exec', name, 'python3', '-c', PY], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  // A socket this process made inside the namespace: ss -p finds its owner (node) as well.
  server = await ns.createServer({ port: 9090, host: '127.0.0.1' });
});

afterAll(async () => {
  child?.kill('SIGKILL');
  server?.close();
  await ns?.delete({ ifExists: true });
});

const sorted = (xs: string[]) => [...xs].sort();
/** ss's lines with runs of spaces collapsed. */
const ssLines = (...args: string[]) =>
  run('ip', ['netns', 'exec', name, 'ss', ...args])
    .split('\n')
    .map((l) => l.trim().replace(/\s+/g, ' '))
    .filter((l) => l !== '');

describe('listSockets', () => {
  it('equals ss -tunap -H inside the namespace', async () => {
    for (let attempt = 0; ; attempt++) {
      const ours = (await listSockets(ns)).map(formatSsLine);
      const theirs = ssLines('-tunap', '-H');
      // ss itself shows up while it runs; its own netlink socket is not TCP/UDP, so nothing to drop.
      if (attempt < 3 && JSON.stringify(sorted(ours)) !== JSON.stringify(sorted(theirs))) {
        await sleep(100);
        continue;
      }
      expect(sorted(ours)).toEqual(sorted(theirs));
      expect(ours.length).toBe(7);
      break;
    }
  });

  it('has the expected content, and filters by protocol, family, state and port', async () => {
    const all = await listSockets(ns);
    const est = all.find((s) => s.protocol === 'tcp' && s.local.port === 8080 && s.state === 'established')!;
    expect(est.recvQ).toBe(10);
    expect(est.processes[0]).toMatchObject({ pid: child.pid === undefined ? -1 : expect.any(Number), command: 'python3' });
    const mine = all.find((s) => s.local.port === 9090)!;
    expect(mine.processes).toContainEqual(expect.objectContaining({ pid: process.pid }));

    // With one protocol ss drops the Netid column.
    const noNetid = (xs: SocketEntry[]) => xs.map((s) => formatSsLine(s).replace(/^\S+ /, '')).sort();
    expect(noNetid(await listSockets(ns, { protocol: 'udp' }))).toEqual(sorted(ssLines('-unap', '-H')));
    expect(noNetid(await listSockets(ns, { protocol: 'tcp', family: 6 }))).toEqual(ssLines('-tnap6', '-H'));
    const listen = await listSockets(ns, { state: 'listen', processes: false });
    expect(listen.map((s) => s.local.port).sort()).toEqual([7070, 8080, 9090]);
    expect(listen.every((s) => s.processes.length === 0)).toBe(true);
    expect(noNetid(await listSockets(ns, { protocol: 'tcp', state: 'listen' }))).toEqual(sorted(ssLines('-tlnp', '-H')));
    const p = await listSockets(ns, { port: 8080 });
    expect(p.map((s) => s.state).sort()).toEqual(['established', 'established', 'listen']);
    expect((await listSockets(ns, { localPort: 8080 })).length).toBe(2);
    expect((await listSockets(ns, { peerPort: 9 })).map((s) => s.protocol)).toEqual(['udp']);
  });

  it('rejects bad filters before any syscall', async () => {
    await expect(listSockets(ns, { state: 'estab' as never })).rejects.toBeInstanceOf(ValidationError);
    await expect(listSockets(ns, { protocol: 'sctp' as never })).rejects.toBeInstanceOf(ValidationError);
    await expect(listSockets(ns, { port: 70000 })).rejects.toBeInstanceOf(ValidationError);
    await expect(listSockets(ns, { prot: 'tcp' } as never)).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('socketSummary', () => {
  it('matches the Transport table and TCP line of ss -s', async () => {
    const sum = await socketSummary(ns);
    const text = run('ip', ['netns', 'exec', name, 'ss', '-s']);
    const row = (label: string) => new RegExp(`^${label}\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)`, 'm').exec(text)!.slice(1).map(Number);
    expect([sum.udp.total, sum.udp.ipv4, sum.udp.ipv6]).toEqual(row('UDP'));
    expect([sum.tcp.hashed.total, sum.tcp.hashed.ipv4, sum.tcp.hashed.ipv6]).toEqual(row('TCP'));
    const estab = Number(/estab (\d+)/.exec(text)![1]);
    const tw = Number(/timewait (\d+)/.exec(text)![1]);
    expect(sum.tcp.established).toBe(estab);
    expect(sum.tcp.timeWait).toBe(tw);
    expect(sum.tcp.listen).toBe(3);
  });
});

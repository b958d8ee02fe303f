/**
 * Sockets inside namespaces: real net.Server / net.Socket / dgram.Socket whose fds the addon created
 * inside the namespace. One process serves in 20 namespaces on the same address and port; each
 * client reaches only its own namespace's server. `ss` run inside each namespace is the oracle.
 */
import { once } from 'node:events';
import http from 'node:http';
import type net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { Netns, SystemError, ValidationError } from '../../lib/index.js';
import { fdCount, nsName, ownNamespace, run, settledFdCount, threadNamespaces } from './helpers.js';

/** A port nobody else on the machine is likely to use, so the root-namespace check means something. */
const PORT = 20000 + (process.pid % 20000);

async function withLoopback(tag: string): Promise<Netns> {
  const ns = await Netns.create(nsName(tag));
  await ns.links.setUp('lo');
  return ns;
}

/** Everything the peer sends until it closes; resolves once our fd is closed too ('close'). */
async function readAll(sock: net.Socket): Promise<string> {
  let out = '';
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => { out += d; });
  await once(sock, 'close');
  return out;
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
}

/** TCP listeners on PORT in a namespace (`ss` inside it), or in this process's own namespace. */
function listeners(ns?: string): string[] {
  const ss = ['ss', '-Htln', `sport = :${PORT}`];
  const out = ns ? run('ip', ['netns', 'exec', ns, ...ss]) : run(ss[0], ss.slice(1));
  return out.split('\n').filter(Boolean).map((l) => l.trim().split(/\s+/)[3]);
}

afterAll(() => {
  const home = ownNamespace();
  expect([...threadNamespaces()].filter(([, n]) => n !== home)).toEqual([]);
});

describe('TCP', () => {
  it('20 namespaces serve on 127.0.0.1:PORT at once; a client inside each reaches only its own server', async () => {
    // Warm up first: the addon starts its threads (each with a home fd) and Node its child-process
    // plumbing lazily; the baseline is taken once they exist.
    const warm = await withLoopback('warm');
    const ws = await warm.createServer({ host: '127.0.0.1' }, (s) => s.end());
    await readAll(await warm.connect({ host: '127.0.0.1', port: (ws.address() as net.AddressInfo).port }));
    await close(ws);
    await warm.delete();
    listeners();
    const baseline = await settledFdCount();
    const spaces = await Promise.all(Array.from({ length: 20 }, () => withLoopback('srv')));
    const servers: net.Server[] = [];
    try {
      servers.push(...(await Promise.all(spaces.map((ns, i) => ns.createServer({ host: '127.0.0.1', port: PORT }, (s) => s.end(`hello from ${i}\n`))))));
      for (const [i, ns] of spaces.entries()) {
        expect(listeners(ns.name), `namespace ${i}`).toEqual([`127.0.0.1:${PORT}`]);
        expect(servers[i].address()).toEqual({ address: '127.0.0.1', family: 'IPv4', port: PORT });
      }
      expect(listeners()).toEqual([]); // nothing listens in the machine's own namespace

      const greetings = await Promise.all(spaces.map(async (ns) => readAll(await ns.connect({ host: '127.0.0.1', port: PORT }))));
      expect(greetings).toEqual(spaces.map((_, i) => `hello from ${i}\n`));
    } finally {
      await Promise.all(servers.map(close));
      await Promise.all(spaces.map((ns) => ns.delete()));
    }
    // A closed netlink socket's fd is released once the addon's I/O thread lets go of it: allow that.
    for (let i = 0; i < 100 && fdCount() !== baseline; i++) await new Promise((r) => setTimeout(r, 10));
    expect(fdCount()).toBe(baseline);
  });

  it('an http.Server listens in a namespace and http.get connects from inside it', async () => {
    const ns = await withLoopback('http');
    const server = await ns.listen(http.createServer((req, res) => res.end(`${req.method} ${req.url} in ${ns.name}`)), { host: '127.0.0.1' });
    try {
      const { port } = server.address() as net.AddressInfo;
      expect(port).toBeGreaterThan(0); // port 0: the kernel chose one at bind
      const sock = await ns.connect({ host: '127.0.0.1', port });
      const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
        http.get({ host: '127.0.0.1', port, path: '/x', createConnection: () => sock }, resolve).on('error', reject));
      let body = '';
      for await (const chunk of res) body += chunk;
      expect(body).toBe(`GET /x in ${ns.name}`);
    } finally {
      await close(server);
      await ns.delete();
    }
  });

  it('IPv6: [::1], and the default host is dual-stack :: (an IPv4 client connects)', async () => {
    const ns = await withLoopback('v6');
    const v6 = await ns.createServer({ host: '::1', port: PORT }, (s) => s.end('six'));
    const dual = await ns.createServer({ port: PORT + 1 }, (s) => s.end(`dual ${s.remoteAddress}`));
    try {
      expect(listeners(ns.name)).toEqual([`[::1]:${PORT}`]);
      expect(dual.address()).toMatchObject({ address: '::', family: 'IPv6', port: PORT + 1 });
      expect(await readAll(await ns.connect({ host: '::1', port: PORT }))).toBe('six');
      expect(await readAll(await ns.connect({ host: '127.0.0.1', port: PORT + 1 }))).toBe('dual ::ffff:127.0.0.1');
      expect(await readAll(await ns.connect({ host: '::1', port: PORT + 1 }))).toBe('dual ::1');
    } finally {
      await Promise.all([close(v6), close(dual)]);
      await ns.delete();
    }
  });

  it('a server in one namespace is unreachable from another: ECONNREFUSED there', async () => {
    const [a, b] = await Promise.all([withLoopback('ra'), withLoopback('rb')]);
    const server = await a.createServer({ host: '127.0.0.1', port: PORT }, (s) => s.end());
    try {
      const err = await b.connect({ host: '127.0.0.1', port: PORT }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SystemError);
      expect(err).toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect' });
      expect((err as Error).message).toContain(`connect from ${b.name} to 127.0.0.1:${PORT}`);
    } finally {
      await close(server);
      await Promise.all([a.delete(), b.delete()]);
    }
  });

  it('kernel refusals are typed: EADDRINUSE, EADDRNOTAVAIL, ENETUNREACH (loopback down)', async () => {
    const ns = await withLoopback('kerr');
    const down = await Netns.create(nsName('down'));
    const server = await ns.createServer({ host: '127.0.0.1', port: PORT });
    try {
      await expect(ns.createServer({ host: '127.0.0.1', port: PORT })).rejects.toMatchObject({ code: 'EADDRINUSE', syscall: 'bind' });
      await expect(ns.createServer({ host: '10.9.9.9', port: PORT })).rejects.toMatchObject({ code: 'EADDRNOTAVAIL', syscall: 'bind' });
      await expect(down.connect({ host: '10.9.9.9', port: PORT })).rejects.toMatchObject({ code: 'ENETUNREACH' });
    } finally {
      await close(server);
      await Promise.all([ns.delete(), down.delete()]);
    }
  });

  it('bad options are ValidationErrors before any socket exists (host names, zones, ports, unknown keys)', async () => {
    const ns = await Netns.anonymous();
    const before = await settledFdCount();
    try {
      const bad: unknown[] = [
        { host: 'localhost', port: 80 },
        { host: 'fe80::1%eth0', port: 80 },
        { host: '010.0.0.1', port: 80 },
        { host: '127.0.0.1', port: 0 },
        { host: '127.0.0.1', port: 65536 },
        { host: '127.0.0.1', port: 80, localAddress: '::1' },
        { host: '127.0.0.1', port: 80, timeout: 5 },
      ];
      for (const o of bad) await expect(ns.connect(o as never), JSON.stringify(o)).rejects.toBeInstanceOf(ValidationError);
      for (const o of [{ host: 'example.com' }, { port: -1 }, { port: 1.5 }]) {
        await expect(ns.createServer(o as never), JSON.stringify(o)).rejects.toBeInstanceOf(ValidationError);
      }
      await expect(ns.createUdpSocket({ type: 'udp4', address: '::' })).rejects.toBeInstanceOf(ValidationError);
      await expect(ns.createUdpSocket({ type: 'tcp' } as never)).rejects.toBeInstanceOf(ValidationError);
      expect(await settledFdCount()).toBe(before);
    } finally {
      await ns.close();
    }
  });

  it('the namespace stays alive while its socket is open, and the socket keeps working after the pin is gone', async () => {
    const ns = await withLoopback('pin');
    const server = await ns.createServer({ host: '127.0.0.1', port: PORT }, (s) => s.end('still here'));
    const other = await ns.connect({ host: '127.0.0.1', port: PORT });
    await ns.delete(); // unpinned and handle closed: only the sockets hold the namespace now
    expect(await readAll(other)).toBe('still here');
    await close(server);
    expect(run('ip', ['netns', 'list'])).not.toContain(ns.name);
  });
});

describe('UDP', () => {
  it('dgram sockets bound in two namespaces on the same port answer only their own namespace', async () => {
    const spaces = await Promise.all([withLoopback('udp'), withLoopback('udp')]);
    const servers = await Promise.all(
      spaces.map((ns, i) => ns.createUdpSocket({ type: 'udp4', address: '127.0.0.1', port: PORT }, (_msg, rinfo) => {
        servers[i].send(`echo ${i}`, rinfo.port, rinfo.address);
      })),
    );
    try {
      for (const s of servers) expect(s.address()).toEqual({ address: '127.0.0.1', family: 'IPv4', port: PORT });
      const answers = await Promise.all(
        spaces.map(async (ns) => {
          const c = await ns.createUdpSocket({ type: 'udp4' });
          try {
            const got = once(c, 'message');
            c.send('ping', PORT, '127.0.0.1');
            const [msg] = (await got) as [Buffer];
            return msg.toString();
          } finally {
            c.close();
          }
        }),
      );
      expect(answers).toEqual(['echo 0', 'echo 1']);
      const ss = run('ip', ['netns', 'exec', spaces[0].name!, 'ss', '-Huln', `sport = :${PORT}`]);
      expect(ss).toContain(`127.0.0.1:${PORT}`);
    } finally {
      for (const s of servers) s.close();
      await Promise.all(spaces.map((ns) => ns.delete()));
    }
  });

  it('udp6 on [::1]', async () => {
    const ns = await withLoopback('udp6');
    const server = await ns.createUdpSocket({ type: 'udp6', address: '::1' }, (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
    const client = await ns.createUdpSocket({ type: 'udp6', address: '::1' });
    try {
      const got = once(client, 'message');
      client.send('six', server.address().port, '::1');
      expect(((await got) as [Buffer])[0].toString()).toBe('six');
    } finally {
      server.close();
      client.close();
      await ns.delete();
    }
  });
});

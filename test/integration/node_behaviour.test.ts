/** Node-library behaviour of results and handles (issue 11): JSON, util.inspect, scoped namespaces. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { getSystemErrorName, inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Netns, NetlinkError, SystemError, type NetnsError } from '../../lib/index.js';
import { ipJson, nsName } from './helpers.js';
import { nsTest } from './fixtures.js';

describe('JSON of results', () => {
  nsTest('a link with bigint counters round-trips through JSON, counters as decimal strings', async ({ ns }) => {
    await ns.links.add({ kind: 'veth', name: 'v0', peer: { name: 'v1' }, up: true });
    for (const l of await ns.links.list()) {
      const back = JSON.parse(JSON.stringify(l));
      expect(typeof l.stats?.rxBytes).toBe('bigint');
      expect(back.stats.rxBytes).toBe(String(l.stats?.rxBytes));
      expect(BigInt(back.stats.txPackets)).toBe(l.stats?.txPackets);
      expect(back.name).toBe(l.name);
      expect(back.mtu).toBe(l.mtu);
      // Same as ip -j for the plain fields.
      const ip = ipJson<{ ifname: string; mtu: number; ifindex: number }[]>(['link', 'show', 'dev', l.name], ns.name).at(0);
      expect({ name: back.name, mtu: back.mtu, index: back.index }).toEqual({ name: ip?.ifname, mtu: ip?.mtu, index: ip?.ifindex });
    }
  });

  nsTest('addresses, routes and neighbours stringify and parse back equal', async ({ ns }) => {
    await ns.links.setUp('lo');
    await ns.addresses.add('lo', '10.9.0.1/24');
    for (const list of [await ns.addresses.list(), await ns.routes.list({ table: 'all' }), await ns.neighbours.list()]) {
      expect(JSON.parse(JSON.stringify(list))).toEqual(JSON.parse(JSON.stringify(list.map((x) => ({ ...x })))));
      expect(JSON.parse(JSON.stringify(list))).toEqual(list.map((x) => JSON.parse(JSON.stringify(x))));
    }
  });
});

describe('handles', () => {
  nsTest('console.log(ns) prints Netns { name, inode, closed }', async ({ ns }) => {
    expect(inspect(ns)).toBe(`Netns { name: '${ns.name}', inode: ${ns.identity.ino}, closed: false }`);
    expect(JSON.parse(JSON.stringify(ns))).toMatchObject({ name: ns.name, inode: ns.identity.ino, closed: false });
  });

  it("README's claim: `await using` is a syntax error in plain JavaScript before Node 24", () => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', 'await using x = null;'], { encoding: 'utf8' });
    if (Number(process.versions.node.split('.')[0]) < 24) {
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain('SyntaxError');
    } else {
      expect(r.status, r.stderr).toBe(0);
    }
  });

  it('Netns.temporary(prefix) is deleted at dispose, also when the body throws', async () => {
    const prefix = nsName('tmp');
    const ns = await Netns.temporary(prefix);
    expect(ns.name?.startsWith(`${prefix}-`)).toBe(true);
    expect(existsSync(`/run/netns/${ns.name}`)).toBe(true);
    await expect((async () => {
      try {
        throw new Error('body failed');
      } finally {
        await ns[Symbol.asyncDispose]();
      }
    })()).rejects.toThrow('body failed');
    expect(existsSync(`/run/netns/${ns.name}`)).toBe(false);
    expect(ns.closed).toBe(true);
  });
});

describe('errors', () => {
  nsTest('carry no own undefined fields, and address/route operations name the namespace (ip -n NS)', async ({ ns }) => {
    await ns.addresses.add('lo', '10.0.0.1/24');
    const err = await ns.addresses.add('lo', '10.0.0.1/24').then(() => undefined, (e: unknown) => e as Record<string, unknown>);
    expect(err).toBeDefined();
    for (const [k, v] of Object.entries(err!)) expect(v, k).not.toBeUndefined();
    expect(Object.keys(err!)).not.toContain('name');
    expect(String(err!.operation)).toMatch(new RegExp(`^ip -n ${ns.name} address add 10.0.0.1/24 dev lo`));
    expect(err!.code).toBe('EEXIST');
    const r = await ns.routes.add({ destination: '10.1.0.0/16', gateway: '10.0.0.254' }).then(() => undefined, (e: unknown) => e as Record<string, unknown>);
    expect(String(r!.operation)).toMatch(new RegExp(`^ip -n ${ns.name} route add`));
  });
});

describe('errors like Node system errors', () => {
  nsTest('errno is negative, as in a Node fs error for the same condition', async ({ ns }) => {
    const fsErr = await readFile('/proc/sys/net/ipv4/no_such_key').catch((e: NodeJS.ErrnoException) => e);
    const err = await ns.sysctl.get('net.ipv4.no_such_key').catch((e: NetnsError) => e);
    expect(err).toBeInstanceOf(SystemError);
    expect(err.errno).toBe(fsErr.errno);
    expect(err.errno).toBe(-osConstants.errno.ENOENT);
    await ns.addresses.add('lo', '10.0.0.1/24');
    const nl = await ns.addresses.add('lo', '10.0.0.1/24').catch((e: NetlinkError) => e);
    expect(nl).toBeInstanceOf(NetlinkError);
    expect(nl.errno).toBe(-osConstants.errno.EEXIST);
    expect(getSystemErrorName(nl.errno)).toBe(nl.code);
  });

  nsTest("EOPNOTSUPP says 'operation not supported', not libuv's '... on socket'", async ({ ns }) => {
    await ns.links.add({ kind: 'veth', name: 'v0', peer: { name: 'v1' } });
    // A veth cannot enslave (no ndo_add_slave): the kernel answers EOPNOTSUPP with no extended ack,
    // as `ip link set lo master v0` shows ("RTNETLINK answers: Operation not supported").
    const err = await ns.links.setMaster('lo', 'v0').catch((e: NetlinkError) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err.code).toBe('EOPNOTSUPP');
    expect(err.kernelMessage).toBeUndefined();
    expect(err.message).toMatch(/: operation not supported \(EOPNOTSUPP\)$/);
    expect(err.message).not.toContain('on socket');
  });

  nsTest("async errors keep the caller's frame (netlink answer, addon callback)", async ({ ns }) => {
    await ns.addresses.add('lo', '10.0.0.1/24');
    async function callerOfAddressAdd(): Promise<void> {
      await ns.addresses.add('lo', '10.0.0.1/24');
    }
    async function callerOfLinkList(): Promise<void> {
      await ns.links.get('no-such-link0');
    }
    async function callerOfCreate(): Promise<void> {
      await Netns.create(ns.name!);
    }
    async function callerOfSpawn(): Promise<void> {
      await ns.spawn('no-such-command-xyz', []);
    }
    async function callerOfConnect(): Promise<void> {
      await ns.links.setUp('lo');
      await ns.connect({ host: '127.0.0.1', port: 9 }); // nothing listens: RST
    }
    const cases = [[callerOfAddressAdd, 'EEXIST'], [callerOfLinkList, 'ENODEV'], [callerOfCreate, 'EEXIST'], [callerOfSpawn, 'ENOENT'], [callerOfConnect, 'ECONNREFUSED']] as const;
    for (const [caller, code] of cases) {
      const err = await caller().catch((e: NetnsError) => e);
      expect(err, caller.name).toMatchObject({ code });
      // `at async NAME` in Node's own format; vitest's source-map formatter drops the word `async`.
      expect(err!.stack, caller.name).toMatch(new RegExp(`\\n +at (async )?${caller.name} `));
      expect(err!.stack!.split('\n')[0]).toBe(`${err!.name}: ${err!.message}`);
    }
  });
});

describe('NODE_DEBUG=netns-native', () => {
  // A child process: util.debuglog reads NODE_DEBUG once, and the library decides at load.
  const script = `
    const { Netns } = await import(${JSON.stringify(new URL('../../dist/lib/index.js', import.meta.url).href)});
    const ns = await Netns.anonymous();
    await ns.links.setUp('lo');
    await ns.addresses.add('lo', '10.0.0.1/24');
    await ns.addresses.add('lo', '10.0.0.1/24').catch(() => {});
    console.log(JSON.stringify((await ns.links.list()).map((l) => l.name)));
    await ns.close();`;
  const run = (env: NodeJS.ProcessEnv) => spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });

  it('logs every request and every answer on stderr; nothing without it', () => {
    const on = run({ NODE_DEBUG: 'netns-native' });
    expect(on.status, on.stderr).toBe(0);
    const lines = on.stderr.split('\n').filter((l) => l.startsWith(`NETNS-NATIVE ${on.pid}: `));
    const sent = lines.filter((l) => / > seq=/.test(l));
    const got = lines.filter((l) => / < seq=/.test(l));
    // set lo up, two address adds, the link dump (its own request and answers).
    expect(sent.length).toBeGreaterThanOrEqual(4);
    expect(sent.some((l) => /\(ip link set dev lo up\) [0-9a-f]+$/.test(l))).toBe(true);
    // Every request is answered in the log: an ACK, an error, or a dump's messages and its DONE.
    for (const s of sent) {
      const seq = / seq=(\d+) /.exec(s)![1];
      expect(got.some((g) => g.includes(` seq=${seq} `)), s).toBe(true);
    }
    expect(got.some((l) => / type=NLMSG_ERROR .* ack$/.test(l))).toBe(true);
    expect(got.some((l) => / error=-17 EEXIST$/.test(l) || / error=-17 EEXIST "/.test(l))).toBe(true);
    expect(got.some((l) => / type=NLMSG_DONE /.test(l))).toBe(true);
    expect(JSON.parse(on.stdout)).toContain('lo');

    const off = run({ NODE_DEBUG: '' });
    expect(off.status, off.stderr).toBe(0);
    expect(off.stderr).not.toContain('NETNS-NATIVE');
    expect(off.stdout).toBe(on.stdout);
  });
});

/** Node-library behaviour of results and handles (issue 11): JSON, util.inspect, scoped namespaces. */
import { existsSync } from 'node:fs';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Netns } from '../../lib/index.js';
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

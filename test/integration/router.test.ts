/**
 * The tutorial's "Namespace Routing and Policies" scenario, every host a namespace, built by the
 * builder the demo uses (examples/topologies.ts `router`): a router with a WAN and a LAN side,
 * forwarding switched through ns.sysctl, a LAN host whose default route goes through the router, a
 * WAN host serving TCP. The connection is made from inside the LAN namespace (ns.connect) to a
 * server inside the WAN namespace (ns.listen). NAT comes in a later issue, so the WAN host routes the
 * LAN back through the router instead of the tutorial's MASQUERADE.
 *
 * The machine's own ip_forward is read from this process (whose threads all stay at home) before,
 * during and after, and must never change.
 */
import { readFileSync } from 'node:fs';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, ROUTER_WAN, WAN_HOST, router as routerScenario } from '../../examples/topologies.js';
import { SystemError, type Netns } from '../../lib/index.js';
import { ipJson, nsName, ownNamespace, run, threadNamespaces } from './helpers.js';

const ROOT_FORWARD = '/proc/sys/net/ipv4/ip_forward';
const PORT = 8080;
const rootForward = (): string => readFileSync(ROOT_FORWARD, 'utf8').trim();

let rootBefore: string;
let lab: Lab | undefined;
let router: Netns;
let wan: Netns;
let lan: Netns;
let server: net.Server;
const seen: string[] = [];

beforeAll(async () => {
  rootBefore = rootForward();
  const built = (lab = new Lab((role) => nsName(role)));
  await routerScenario.build(built);
  [router, wan, lan] = routerScenario.roles.map((role) => built.ns(role));

  server = await wan.createServer({ host: WAN_HOST, port: PORT }, (s) => {
    seen.push(s.remoteAddress ?? '?');
    s.end(`wan ${wan.name} saw ${s.remoteAddress}\n`);
  });
});

afterAll(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await lab?.teardown();
  expect(rootForward()).toBe(rootBefore);
  const home = ownNamespace();
  expect([...threadNamespaces()].filter(([, n]) => n !== home)).toEqual([]);
});

/** One TCP exchange from inside the LAN host to the WAN server, bounded. */
async function lanToWan(timeoutMs: number): Promise<string> {
  const sock = await lan.connect({ host: WAN_HOST, port: PORT, connectTimeout: timeoutMs });
  sock.setEncoding('utf8');
  let out = '';
  for await (const chunk of sock) out += chunk as string;
  return out;
}

async function forwarding(value: 0 | 1): Promise<void> {
  await router.sysctl.set('net.ipv4.ip_forward', value);
  expect(run('ip', ['netns', 'exec', router.name!, 'sysctl', '-n', 'net.ipv4.ip_forward']).trim()).toBe(String(value));
  expect(await router.sysctl.getNumber('net.ipv4.ip_forward')).toBe(value);
  expect(rootForward()).toBe(rootBefore);
}

describe('router namespace', () => {
  it('is wired as the tutorial wires it (ip -j as the oracle)', () => {
    const addrs = ipJson<{ ifname: string; addr_info: { family: string; local: string; prefixlen: number }[] }[]>(['addr', 'show'], router.name);
    const v4 = Object.fromEntries(addrs.map((a) => [a.ifname, a.addr_info.filter((i) => i.family === 'inet').map((i) => `${i.local}/${i.prefixlen}`)]));
    expect(v4).toMatchObject({ 'veth-wan-ns': [`${ROUTER_WAN}/24`], 'veth-lan-ns': ['10.0.10.254/24'] });
    expect(ipJson(['route', 'get', WAN_HOST], lan.name)[0]).toMatchObject({ gateway: '10.0.10.254', dev: 'veth-lan', prefsrc: '10.0.10.1' });
  });

  it('with ip_forward=0 in the router, the LAN host cannot reach the WAN server (bounded)', async () => {
    await forwarding(0);
    const err = await lanToWan(1500).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(SystemError);
    // A router that does not forward drops silently (no ICMP), so the SYN times out.
    expect(['ETIMEDOUT', 'EHOSTUNREACH']).toContain((err as SystemError).code);
    expect(seen).toEqual([]);
  });

  it('with ip_forward=1, a TCP connection from the LAN namespace reaches the WAN server through the router', async () => {
    await forwarding(1);
    expect(await lanToWan(5000)).toBe(`wan ${wan.name} saw 10.0.10.1\n`);
    expect(seen).toEqual(['10.0.10.1']); // routed, not translated: the WAN host sees the LAN address
  });

  it('switched back to 0, it stops again; the root namespace never changed', async () => {
    await forwarding(0);
    await expect(lanToWan(1500)).rejects.toMatchObject({ code: expect.stringMatching(/^(ETIMEDOUT|EHOSTUNREACH)$/) });
    expect(seen).toEqual(['10.0.10.1']);
    await forwarding(1);
    expect(await lanToWan(5000)).toBe(`wan ${wan.name} saw 10.0.10.1\n`);
    expect(rootForward()).toBe(rootBefore);
  });
});

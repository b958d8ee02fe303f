/**
 * Fixture for the address, route and neighbour tests: a named test namespace holding a veth pair
 * v0/v1 (both up, lo up), made with `ip` so these tests do not depend on the links API. Removed by
 * helpers.ts's cleanup even when a test fails.
 */
import { Netns } from '../../lib/index.js';
import { ipJson, nsName, run } from './helpers.js';

export interface VethWorld {
  name: string;
  ns: Netns;
  /** Run `ip -n NAME ...args`. */
  ip(...args: string[]): string;
  /** `ip -n NAME -j ...args`, parsed. */
  ipj<T = any>(...args: string[]): T;
  /** Close the handle and delete the namespace. */
  dispose(): Promise<void>;
}

/**
 * A namespace with v0 <-> v1. `noLinkLocal` turns off IPv6 link-local addresses first, so views are
 * free of MAC-derived entries when two namespaces are compared.
 */
export async function vethWorld(tag: string, opts: { noLinkLocal?: boolean } = {}): Promise<VethWorld> {
  const name = nsName(tag);
  const ns = await Netns.create(name);
  const ip = (...args: string[]) => run('ip', ['-n', name, ...args]);
  if (opts.noLinkLocal) run('ip', ['netns', 'exec', name, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv6/conf/default/addr_gen_mode']);
  ip('link', 'set', 'lo', 'up');
  ip('link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
  ip('link', 'set', 'v0', 'up');
  ip('link', 'set', 'v1', 'up');
  return {
    name,
    ns,
    ip,
    ipj: (...args) => ipJson(args, name),
    dispose: async () => {
      await ns.delete({ ifExists: true });
    },
  };
}


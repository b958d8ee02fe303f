/**
 * The bridge plugin's `ipMasq`, on the library's own nf_tables firewall (lib/api/firewall) instead
 * of the reference's iptables chains: one masquerade rule per container address in the host
 * namespace's table `netns_native_cni` (chain postrouting), "this address, to anywhere but its own
 * subnet and multicast", commented `cni:NETWORK:CONTAINERID`. The executable keeps no state between
 * invocations, so DEL and GC find the rules again by that comment.
 * @module
 */
import type { Firewall } from '../api/firewall/index.js';
import type { Netns } from '../api/netns/index.js';
import { formatAddr, formatNet, network, type IpNet } from './ip.js';
import { CNI_ERR, CniError } from './types.js';

/** The nf_tables table holding the plugin's rules, apart from anything else in the host namespace. */
export const CNI_TABLE = 'netns_native_cni';

const commentOf = (networkName: string, containerId: string) => `cni:${networkName}:${containerId}`;

/** The host namespace's firewall, on the plugin's own table. */
async function withFirewall<T>(host: Netns, fn: (fw: Firewall) => Promise<T>): Promise<T> {
  return fn(host.firewall.table(CNI_TABLE));
}

/**
 * Masquerade what each address sends beyond its subnet.
 *
 * Equivalent to: `nft add rule inet netns_native_cni postrouting ip saddr 10.88.0.5 ip daddr != 10.88.0.0/16 ip daddr != 224.0.0.0/4 counter masquerade comment "cni:NET:ID"`
 * @example
 * ```ts
 * await masqueradeAdd(host, 'pods', 'c1', [parseNet('10.88.0.5/16')!]);
 * ```
 */
export async function masqueradeAdd(host: Netns, networkName: string, containerId: string, addrs: IpNet[]): Promise<void> {
  await withFirewall(host, async (fw) => {
    for (const a of addrs) {
      const self = `${formatAddr(a)}/${a.family === 4 ? 32 : 128}`;
      try {
        await fw.ipMasq(self, { subnet: formatNet(network(a)), comment: commentOf(networkName, containerId) });
      } catch (e) {
        throw new CniError(CNI_ERR.INTERNAL, `failed to set up IP masquerade for ${formatNet(a)}: ${e instanceof Error ? e.message : String(e)}`, '', e);
      }
    }
  });
}

async function deleteWhere(host: Netns, pick: (comment: string) => boolean): Promise<number> {
  return withFirewall(host, async (fw) => {
    let rules;
    try {
      rules = await fw.list();
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return 0; // no table: nothing was ever set up
      throw e;
    }
    let n = 0;
    for (const r of rules) {
      if (r.comment !== undefined && pick(r.comment)) {
        await fw.delete(r);
        n++;
      }
    }
    return n;
  });
}

/** Remove a container's masquerade rules; none is success (DEL is idempotent). */
export async function masqueradeDel(host: Netns, networkName: string, containerId: string): Promise<number> {
  const key = commentOf(networkName, containerId);
  return deleteWhere(host, (c) => c === key);
}

/** GC: remove the rules of this network whose container is not among `keep`. */
export async function masqueradeGc(host: Netns, networkName: string, keep: string[]): Promise<number> {
  const prefix = commentOf(networkName, '');
  const kept = new Set(keep.map((id) => commentOf(networkName, id)));
  return deleteWhere(host, (c) => c.startsWith(prefix) && !kept.has(c));
}

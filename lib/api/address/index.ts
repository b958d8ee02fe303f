/**
 * IP addresses of one namespace (`ip address`).
 * @module
 */
import { NetnsError, isNotFound } from '../../errors.js';
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE } from '../../netlink/constants.js';
import { formatIp } from '../../netlink/wire_formats.js';
import { decodeAddrMessage, encodeAddrBody, type AddrMessage } from '../../rtnl/addr/index.js';
import { AF_INET, AF_INET6, AF_UNSPEC, RTM_DELADDR, RTM_GETADDR, RTM_NEWADDR } from '../../rtnl/constants.js';
import { SCOPES, numberOf, type Scope } from '../../rtnl/route/names.js';
import { parseCidr, parseFamily, type IpFamily } from '../../validate/ip.js';
import { buildRequest, encodePlainAddrBody, type AddressOptions } from './spec.js';
import { localOf, toAddress, type Address } from './view.js';
import { checkKeys } from '../../validate/options.js';
import { checkLinkRef, ifindexOf, linkNames } from '../link/resolve.js';
import type { LinkRef } from '../link/index.js';
import type { NsContext } from '../context.js';
import { withIndexes } from '../link/index_cache.js';

export type { AddressOptions, AddressSetFlag, Lifetime } from './spec.js';
export type { Address, AddressFlag } from './view.js';

/** Selects addresses for {@link Addresses.list} and {@link Addresses.flush}. */
export interface AddressFilter {
  dev?: LinkRef;
  family?: IpFamily | 'inet' | 'inet6';
  /** Only addresses of this scope. */
  scope?: Scope;
}

/** Options of {@link Addresses.delete}. */
export interface AddressDeleteOptions {
  /** Resolve `false` instead of throwing when the address (or the link) does not exist. */
  ifExists?: boolean;
}

/** `ip address` verbs acting inside one namespace. */
export class Addresses {
  /** @internal The handle makes it (users reach it as `ns.links`, `ns.tc`, ...). */
  constructor(private readonly ns: NsContext) {}

  /**
   * Add an address. Fails with EEXIST when the link already has it.
   *
   * Equivalent to: `ip address add 10.0.0.1/24 brd + dev eth0`
   * @param dev the link, by name or index.
   * @param address `a.b.c.d/len` or `x::y/len`; a bare address means /32 or /128.
   * @example
   * ```ts
   * await ns.addresses.add('eth0', '10.0.0.1/24', { broadcast: '+' });
   * await ns.addresses.add('eth0', '2001:db8::1/64', { flags: ['nodad'] });
   * ```
   * @throws {@link ValidationError} for malformed input (nothing is sent); a {@link NetlinkError}
   *   with the kernel's code ('EEXIST', 'ENODEV', ...) otherwise.
   */
  add(dev: LinkRef, address: string, opts: AddressOptions = {}): Promise<void> {
    return this.modify(dev, address, opts, NLM_F_CREATE | NLM_F_EXCL, 'add');
  }

  /**
   * Add an address, or update the lifetimes, flags and metric of an existing one.
   *
   * Equivalent to: `ip address replace 10.0.0.1/24 dev eth0`
   * @example
   * ```ts
   * await ns.addresses.replace('eth0', '10.0.0.1/24', { validLifetime: 300, preferredLifetime: 200 });
   * ```
   */
  replace(dev: LinkRef, address: string, opts: AddressOptions = {}): Promise<void> {
    return this.modify(dev, address, opts, NLM_F_CREATE | NLM_F_REPLACE, 'replace');
  }

  /**
   * Remove an address. With a prefix length, only an address with that length matches; a bare
   * address removes it whatever its prefix length.
   *
   * Equivalent to: `ip address del 10.0.0.1/24 dev eth0`
   * @example
   * ```ts
   * await ns.addresses.delete('eth0', '10.0.0.1/24');
   * await ns.addresses.delete('eth0', '10.0.0.1/24', { ifExists: true }); // false: already gone
   * ```
   * @returns true when deleted; false when it did not exist and `ifExists` was set.
   * @throws a {@link NetlinkError} with code 'EADDRNOTAVAIL' when there is no such address.
   */
  async delete(dev: LinkRef, address: string, opts: AddressDeleteOptions = {}): Promise<boolean> {
    checkLinkRef(dev);
    checkKeys('', opts, ['ifExists']);
    const bare = typeof address === 'string' && !address.includes('/');
    const cidr = parseCidr(address, 'address', true);
    try {
      // The link's index comes from the handle's cache; a stale one fails (EADDRNOTAVAIL, ENODEV) and
      // withIndexes looks the name up again and retries once (docs/performance.md, "Levers of the request path").
      await withIndexes(this.ns, [dev], undefined, async (ifindex) => {
        const index = ifindex(dev);
        let prefixLength = cidr.prefixLength;
        if (bare) {
          const found = (await this.dumpRaw(cidr.family, index)).find((m) => localOf(m) === formatIp(cidr.bytes));
          if (!found) throw notFound(this.ns.op(`ip address del ${address} dev ${dev}`));
          prefixLength = found.header.prefixlen;
        }
        await this.deleteRaw(cidr.family, index, prefixLength, formatIp(cidr.bytes), this.ns.op(`ip address del ${address} dev ${dev}`));
      });
      return true;
    } catch (e) {
      if (opts.ifExists && isNotFound(e)) return false;
      throw e;
    }
  }

  /**
   * The addresses of the namespace, optionally of one link, family or scope.
   *
   * Equivalent to: `ip address show [dev eth0] [-4|-6] [scope global]`
   * @example
   * ```ts
   * const v4 = await ns.addresses.list({ dev: 'eth0', family: 4 });
   * console.log(v4.map((a) => a.cidr));
   * ```
   */
  async list(filter: AddressFilter = {}): Promise<Address[]> {
    const f = checkFilter(filter);
    const index = f.dev === undefined ? 0 : await ifindexOf(this.ns, f.dev);
    const [msgs, names] = await Promise.all([this.dumpRaw(f.family, index), linkNames(this.ns)]);
    return msgs.filter((m) => f.scope === undefined || m.header.scope === f.scope).map((m) => toAddress(m, names));
  }

  /**
   * Remove every address that matches the filter (all of them when it is empty).
   *
   * Equivalent to: `ip address flush dev eth0 [-4|-6] [scope global]`
   * @example
   * ```ts
   * const removed = await ns.addresses.flush({ dev: 'eth0', family: 4 });
   * ```
   * @returns how many addresses this call removed (secondaries the kernel drops along with their
   *   primary are not counted).
   */
  async flush(filter: AddressFilter = {}): Promise<number> {
    const f = checkFilter(filter);
    const index = f.dev === undefined ? 0 : await ifindexOf(this.ns, f.dev);
    let removed = 0;
    // Removing a primary IPv4 address also removes (or promotes) its secondaries, so one pass may
    // leave addresses that appeared after the dump; repeat until nothing matches, a bounded number
    // of times, as `ip address flush` does.
    for (let round = 0; round < 10; round++) {
      const msgs = (await this.dumpRaw(f.family, index)).filter((m) => f.scope === undefined || m.header.scope === f.scope);
      if (msgs.length === 0) return removed;
      for (const m of msgs) {
        const family: IpFamily = m.header.family === AF_INET ? 4 : 6;
        try {
          await this.deleteRaw(family, m.header.index, m.header.prefixlen, localOf(m), this.ns.op('ip address flush'));
          removed++;
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
    }
    return removed;
  }

  private async modify(dev: LinkRef, address: string, opts: AddressOptions, flags: number, verb: string): Promise<void> {
    checkLinkRef(dev);
    const req = buildRequest(address, opts, typeof dev === 'string' ? dev : undefined);
    const op = this.ns.op(`ip address ${verb} ${address} dev ${dev}`);
    const conn = await this.ns.rtnl();
    const plain = req.plain;
    await withIndexes(this.ns, [dev], undefined, (index) =>
      conn.request(RTM_NEWADDR, flags, plain ? encodePlainAddrBody(req.header, index(dev), plain) : encodeAddrBody({ ...req.header, index: index(dev) }, req.attrs), op),
    );
  }

  private async deleteRaw(family: IpFamily, index: number, prefixlen: number, local: string, operation: string): Promise<void> {
    const conn = await this.ns.rtnl();
    // As `ip address del` does: IFA_LOCAL plus IFA_ADDRESS, so the prefix length is compared too.
    const body = encodeAddrBody({ family: family === 4 ? AF_INET : AF_INET6, prefixlen, index }, { local, address: local });
    await conn.request(RTM_DELADDR, 0, body, operation);
  }

  private async dumpRaw(family: IpFamily | undefined, index: number): Promise<AddrMessage[]> {
    const conn = await this.ns.rtnl();
    // The link is filtered here, not by the kernel: a dump filtered by ifa_index takes a path in
    // inet_dump_ifaddr/inet6_dump_addr that never sets NLM_F_DUMP_INTR (seen on 6.18), so addresses
    // added or removed meanwhile could silently skip or repeat entries. Dumping the whole family
    // keeps the promise "consistent, or DumpInterruptedError" (test/integration/endurance.test.ts).
    const af = family === undefined ? AF_UNSPEC : family === 4 ? AF_INET : AF_INET6;
    const msgs = await conn.dump(RTM_GETADDR, encodeAddrBody({ family: af, index: 0 }, {}), this.ns.op('ip address show'));
    return msgs
      .filter((m) => m.type === RTM_NEWADDR)
      .map((m) => decodeAddrMessage(m.payload))
      .filter((m) => (index === 0 || m.header.index === index) && (af === AF_UNSPEC || m.header.family === af));
  }
}

function checkFilter(filter: AddressFilter): { dev?: LinkRef; family?: IpFamily; scope?: number } {
  checkKeys('filter', filter, ['dev', 'family', 'scope']);
  return {
    dev: filter.dev === undefined ? undefined : checkLinkRef(filter.dev),
    family: filter.family === undefined ? undefined : parseFamily(filter.family),
    scope: filter.scope === undefined ? undefined : numberOf(SCOPES, filter.scope, 'scope'),
  };
}

/** The kernel's own answer for a missing address, so `isNotFound` and `ifExists` treat both alike. */
function notFound(operation: string): NetnsError {
  return new NetnsError(`${operation}: no such address (EADDRNOTAVAIL)`, { code: 'EADDRNOTAVAIL', errno: 99, operation });
}

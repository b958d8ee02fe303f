/**
 * What a lab's namespaces hold, read back from the kernel through the library (`links.list`,
 * `addresses.list`, `routes.list`, `nsids.get`), as short lines for the demo's account.
 * @module
 */
import type { Link, Netns } from '../lib/index.js';
import type { Lab } from './topologies.js';

/** Where a veth's peer lives, as `veth-green in green`, found through the NSID the link reports. */
async function peerOf(lab: Lab, ns: Netns, link: Link): Promise<string | undefined> {
  if (link.kind !== 'veth' || link.peerIndex === undefined) return undefined;
  if (link.linkNetnsid === undefined) return `${(await ns.links.get(link.peerIndex)).name} here`;
  for (const role of lab.roles()) {
    const other = lab.ns(role);
    if ((await ns.nsids.get(other)) === link.linkNetnsid) return `${(await other.links.get(link.peerIndex)).name} in ${role}`;
  }
  return `index ${link.peerIndex} in nsid ${link.linkNetnsid}`;
}

/** One line per link (kind, up/down, master, IPv4 addresses, veth peer) and one for IPv4 routes, per role. */
export async function inventory(lab: Lab): Promise<string[]> {
  const out: string[] = [];
  const roleWidth = Math.max(...lab.roles().map((r) => r.length));
  for (const role of lab.roles()) {
    const ns = lab.ns(role);
    const [links, addresses, routes] = await Promise.all([ns.links.list(), ns.addresses.list({ family: 4 }), ns.routes.list({ family: 4 })]);
    const names = new Map(links.map((l) => [l.index, l.name]));
    const rows: string[] = [];
    for (const l of links) {
      const parts = [l.name, l.kind ?? '', !l.up ? 'DOWN' : l.lowerUp ? 'UP' : 'UP (no carrier)'];
      if (l.master !== undefined) parts.push(`master ${names.get(l.master) ?? l.master}`);
      parts.push(...addresses.filter((a) => a.ifindex === l.index).map((a) => a.cidr));
      const peer = await peerOf(lab, ns, l);
      if (peer !== undefined) parts.push(`peer ${peer}`);
      rows.push(parts.filter((p) => p !== '').join(' '));
    }
    if (routes.length > 0) {
      rows.push(`routes: ${routes.map((r) => [r.destination, r.gateway && `via ${r.gateway}`, r.dev && `dev ${r.dev}`].filter(Boolean).join(' ')).join('; ')}`);
    }
    rows.forEach((row, i) => out.push(`${(i === 0 ? role : '').padEnd(roleWidth)}  ${row}`));
  }
  return out;
}

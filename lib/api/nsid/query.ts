/**
 * NSID lookups shared by `Netns.list` and the NSID family.
 * @module
 */
import { openNetlink, type NetlinkConnection } from '../../netlink/connection.js';
import { RTM_GETNSID } from '../../rtnl/constants.js';
import { NETNSA_NSID_NOT_ASSIGNED, decodeNsidBody, encodeNsidBody } from '../../rtnl/nsid/index.js';

let home: Promise<NetlinkConnection> | undefined;

/** A shared rtnetlink connection in the process's own namespace (idle, it does not keep the process alive). */
export function homeConnection(): Promise<NetlinkConnection> {
  if (!home) {
    home = openNetlink({});
    home.catch(() => { home = undefined; });
  }
  return home;
}

/** The NSID the connection's namespace gave the namespace behind `fd`, or undefined. */
export async function queryNsid(conn: NetlinkConnection, fd: number): Promise<number | undefined> {
  const replies = await conn.request(RTM_GETNSID, 0, encodeNsidBody({ fd }), 'ip netns list-id');
  for (const m of replies) {
    const { nsid } = decodeNsidBody(m.payload);
    if (nsid !== undefined && nsid !== NETNSA_NSID_NOT_ASSIGNED) return nsid;
  }
  return undefined;
}

/**
 * iproute2 as the oracle for links: turns one entry of `ip -d -s -j link show` and one {@link Link}
 * read by the library into the same plain shape, so a test can say `expect(lib).toEqual(ip)`.
 * Used by the unit tests (on recorded bytes) and the integration tests (live).
 */
import type { Link } from '../index.js';

/** The comparable part of a link. */
export interface LinkView {
  index: number;
  name: string;
  kind?: string;
  /** Real IFF_* flag names, sorted; without RUNNING (ip never prints it) and ip's pseudo flags. */
  flags: string[];
  operState: string;
  mtu: number;
  minMtu?: number;
  maxMtu?: number;
  mac?: string;
  broadcast?: string;
  txqueuelen?: number;
  alias?: string;
  /** Master by name. */
  master?: string;
  /** The link this one sits on: a name when in the same namespace, else the index and netnsid. */
  link?: string;
  linkIndex?: number;
  linkNetnsid?: number;
  promiscuity?: number;
  numTxQueues?: number;
  numRxQueues?: number;
  stats?: Record<string, number>;
  /** Kind data, in the library's field names and units, limited to what ip prints. */
  data?: Record<string, unknown>;
}

type Conv = [key: string, fromIp: (v: any, names: Names) => unknown];
type Names = Map<number, string>;
const same = (v: unknown) => v;
const bool = (v: unknown) => v === true || v === 1;

/** ip's info_data keys -> the library's, per kind. Timers are left out: they tick between the two reads. */
const DATA: Record<string, Record<string, Conv>> = {
  bridge: {
    forward_delay: ['forwardDelay', same], hello_time: ['helloTime', same], max_age: ['maxAge', same],
    ageing_time: ['ageingTime', same], stp_state: ['stp', bool], priority: ['priority', same],
    vlan_filtering: ['vlanFiltering', bool], vlan_protocol: ['vlanProtocol', same], vlan_default_pvid: ['vlanDefaultPvid', same],
    group_fwd_mask: ['groupFwdMask', (v: string) => Number.parseInt(v, 16)],
    bridge_id: ['bridgeId', same], root_id: ['rootId', same], root_port: ['rootPort', same], root_path_cost: ['rootPathCost', same],
    topology_change: ['topologyChange', bool], topology_change_detected: ['topologyChangeDetected', bool],
    group_addr: ['groupAddr', same], mcast_snooping: ['mcastSnooping', bool], mcast_router: ['mcastRouter', same],
    mcast_query_use_ifaddr: ['mcastQueryUseIfaddr', bool], mcast_querier: ['mcastQuerier', bool],
    mcast_hash_elasticity: ['mcastHashElasticity', same], mcast_hash_max: ['mcastHashMax', same],
    mcast_last_member_cnt: ['mcastLastMemberCount', same], mcast_startup_query_cnt: ['mcastStartupQueryCount', same],
    mcast_last_member_intvl: ['mcastLastMemberInterval', same], mcast_membership_intvl: ['mcastMembershipInterval', same],
    mcast_querier_intvl: ['mcastQuerierInterval', same], mcast_query_intvl: ['mcastQueryInterval', same],
    mcast_query_response_intvl: ['mcastQueryResponseInterval', same], mcast_startup_query_intvl: ['mcastStartupQueryInterval', same],
    mcast_stats_enabled: ['mcastStatsEnabled', bool], mcast_igmp_version: ['mcastIgmpVersion', same],
    mcast_mld_version: ['mcastMldVersion', same], nf_call_iptables: ['nfCallIptables', bool],
    nf_call_ip6tables: ['nfCallIp6tables', bool], nf_call_arptables: ['nfCallArptables', bool],
  },
  vxlan: {
    id: ['vni', same], remote: ['remote', same], group: ['group', same], local: ['local', same],
    remote6: ['remote', same], group6: ['group', same], local6: ['local', same],
    link: ['link', (v: string, names) => [...names].find(([, n]) => n === v)?.[0] ?? `?${v}`],
    port: ['port', same], port_range: ['portRange', same], learning: ['learning', same], ttl: ['ttl', same],
    df: ['df', same], ageing: ['ageing', same], maxaddress: ['limit', same], proxy: ['proxy', same],
    l2miss: ['l2miss', same], l3miss: ['l3miss', same], udp_csum: ['udpCsum', same],
    udp_zero_csum6_tx: ['udpZeroCsum6Tx', same], udp_zero_csum6_rx: ['udpZeroCsum6Rx', same],
    external: ['collectMetadata', same],
  },
  macvlan: {
    mode: ['mode', same], bcqueuelen: ['bcQueueLen', same], usedbcqueuelen: ['bcQueueLenUsed', same],
  },
};

/**
 * Flag names left out of both views, in one place: RUNNING, which the kernel reports and ip never
 * prints, and ip's pseudo flags (NO-CARRIER, M-DOWN), which are not IFF_* bits. Both sides name the
 * rest as the library's IFF_NAMES table (lib/rtnl/link) does.
 */
const NOT_COMPARED = new Set(['RUNNING', 'NO-CARRIER', 'M-DOWN']);

/** The comparable flag names of either side, sorted. */
function comparableFlags(names: readonly string[]): string[] {
  return names.filter((f) => !NOT_COMPARED.has(f)).sort();
}

/** The view of one `ip -d -s -j link show` entry. `names` maps ifindexes of this namespace to names. */
export function ipView(j: any, names: Names = new Map()): LinkView {
  const v: LinkView = {
    index: j.ifindex,
    name: j.ifname,
    flags: comparableFlags(j.flags as string[]),
    operState: j.operstate,
    mtu: j.mtu,
  };
  const kind = j.linkinfo?.info_kind;
  if (kind !== undefined) v.kind = kind;
  copy(v, 'minMtu', j.min_mtu);
  copy(v, 'maxMtu', j.max_mtu);
  copy(v, 'mac', j.address);
  copy(v, 'broadcast', j.broadcast);
  copy(v, 'txqueuelen', j.txqlen);
  copy(v, 'alias', j.ifalias);
  copy(v, 'master', j.master);
  copy(v, 'link', j.link);
  copy(v, 'linkIndex', j.link_index);
  copy(v, 'linkNetnsid', j.link_netnsid);
  copy(v, 'promiscuity', j.promiscuity);
  copy(v, 'numTxQueues', j.num_tx_queues);
  copy(v, 'numRxQueues', j.num_rx_queues);
  if (j.stats64) {
    const { rx, tx } = j.stats64;
    v.stats = {
      rxBytes: rx.bytes, rxPackets: rx.packets, rxErrors: rx.errors, rxDropped: rx.dropped, rxOverErrors: rx.over_errors,
      multicast: rx.multicast, txBytes: tx.bytes, txPackets: tx.packets, txErrors: tx.errors, txDropped: tx.dropped,
      txCarrierErrors: tx.carrier_errors, collisions: tx.collisions,
    };
  }
  const table = kind ? DATA[kind] : undefined;
  const data = j.linkinfo?.info_data;
  if (table && data) {
    v.data = {};
    for (const [ipKey, [key, conv]] of Object.entries(table)) if (data[ipKey] !== undefined) v.data[key] = conv(data[ipKey], names);
  }
  return v;
}

/**
 * The library's view of the same link, limited to the fields `ip` printed (`like`), so a field ip
 * omits on this kernel is not counted as a difference.
 */
export function libView(l: Link, like: LinkView, names: Names = new Map()): LinkView {
  const v: LinkView = {
    index: l.index,
    name: l.name,
    flags: comparableFlags(l.flagNames),
    operState: l.operState,
    mtu: l.mtu ?? -1,
  };
  if (l.kind !== undefined) v.kind = l.kind;
  copy(v, 'minMtu', l.minMtu);
  copy(v, 'maxMtu', l.maxMtu);
  copy(v, 'mac', l.mac);
  copy(v, 'broadcast', l.broadcast);
  copy(v, 'txqueuelen', l.txqueuelen);
  copy(v, 'alias', l.alias);
  if (l.master !== undefined) v.master = names.get(l.master) ?? `?${l.master}`;
  if (l.linkIndex !== undefined) {
    // ip names the link when it is in this namespace (no netnsid), else prints its index.
    if (l.linkNetnsid !== undefined) {
      v.linkIndex = l.linkIndex;
      v.linkNetnsid = l.linkNetnsid;
    } else v.link = names.get(l.linkIndex) ?? `?${l.linkIndex}`;
  }
  copy(v, 'promiscuity', l.promiscuity);
  copy(v, 'numTxQueues', l.numTxQueues);
  copy(v, 'numRxQueues', l.numRxQueues);
  if (l.stats && like.stats) {
    v.stats = {};
    for (const k of Object.keys(like.stats)) v.stats[k] = Number(l.stats[k as keyof typeof l.stats]);
  }
  if (like.data) {
    const data = (l.info?.data ?? {}) as Record<string, unknown>;
    v.data = {};
    for (const k of Object.keys(like.data)) v.data[k] = data[k];
  }
  for (const k of Object.keys(v) as (keyof LinkView)[]) if (!(k in like)) delete v[k];
  return v;
}

function copy<K extends keyof LinkView>(v: LinkView, key: K, value: LinkView[K] | undefined): void {
  if (value !== undefined) v[key] = value;
}

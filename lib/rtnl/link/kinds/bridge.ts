/**
 * bridge: an Ethernet switch in the kernel (IFLA_BR_* in <linux/if_link.h>). Ports join it with
 * `links.setMaster(port, bridge)`.
 *
 * Times (forward delay, hello time, max age, ageing time, timers) are in hundredths of a second
 * (USER_HZ clock ticks): the unit the kernel takes and reports and that `ip -d link` prints, so
 * `forwardDelay: 1500` is `ip link add br0 type bridge forward_delay 1500` is 15 seconds.
 * @module
 */
import { ValidationError } from '../../../errors.js';
import { Schema, attr, macAddress, u16, u32, u32bool, u8, u8bool, type Decoded } from '../../../netlink/schema.js';
import { validateBoolean, validateIntRange } from '../../../validate/link.js';
import { bridgeId, u64num, vlanProtocol, VLAN_PROTOCOLS, type VlanProtocol } from './codecs.js';
import type { LinkKind } from './kind.js';

export const IFLA_BR_FORWARD_DELAY = 1;
export const IFLA_BR_HELLO_TIME = 2;
export const IFLA_BR_MAX_AGE = 3;
export const IFLA_BR_AGEING_TIME = 4;
export const IFLA_BR_STP_STATE = 5;
export const IFLA_BR_PRIORITY = 6;
export const IFLA_BR_VLAN_FILTERING = 7;
export const IFLA_BR_VLAN_PROTOCOL = 8;
export const IFLA_BR_GROUP_FWD_MASK = 9;
export const IFLA_BR_ROOT_ID = 10;
export const IFLA_BR_BRIDGE_ID = 11;
export const IFLA_BR_ROOT_PORT = 12;
export const IFLA_BR_ROOT_PATH_COST = 13;
export const IFLA_BR_TOPOLOGY_CHANGE = 14;
export const IFLA_BR_TOPOLOGY_CHANGE_DETECTED = 15;
export const IFLA_BR_HELLO_TIMER = 16;
export const IFLA_BR_TCN_TIMER = 17;
export const IFLA_BR_TOPOLOGY_CHANGE_TIMER = 18;
export const IFLA_BR_GC_TIMER = 19;
export const IFLA_BR_GROUP_ADDR = 20;
export const IFLA_BR_FDB_FLUSH = 21;
export const IFLA_BR_MCAST_ROUTER = 22;
export const IFLA_BR_MCAST_SNOOPING = 23;
export const IFLA_BR_MCAST_QUERY_USE_IFADDR = 24;
export const IFLA_BR_MCAST_QUERIER = 25;
export const IFLA_BR_MCAST_HASH_ELASTICITY = 26;
export const IFLA_BR_MCAST_HASH_MAX = 27;
export const IFLA_BR_MCAST_LAST_MEMBER_CNT = 28;
export const IFLA_BR_MCAST_STARTUP_QUERY_CNT = 29;
export const IFLA_BR_MCAST_LAST_MEMBER_INTVL = 30;
export const IFLA_BR_MCAST_MEMBERSHIP_INTVL = 31;
export const IFLA_BR_MCAST_QUERIER_INTVL = 32;
export const IFLA_BR_MCAST_QUERY_INTVL = 33;
export const IFLA_BR_MCAST_QUERY_RESPONSE_INTVL = 34;
export const IFLA_BR_MCAST_STARTUP_QUERY_INTVL = 35;
export const IFLA_BR_NF_CALL_IPTABLES = 36;
export const IFLA_BR_NF_CALL_IP6TABLES = 37;
export const IFLA_BR_NF_CALL_ARPTABLES = 38;
export const IFLA_BR_VLAN_DEFAULT_PVID = 39;
export const IFLA_BR_VLAN_STATS_ENABLED = 41;
export const IFLA_BR_MCAST_STATS_ENABLED = 42;
export const IFLA_BR_MCAST_IGMP_VERSION = 43;
export const IFLA_BR_MCAST_MLD_VERSION = 44;
export const IFLA_BR_VLAN_STATS_PER_PORT = 45;

/** IFLA_BR_* one row each; the first rows are the settable ones, in the order they are sent. */
export const bridgeAttrs = new Schema('bridge', {
  forwardDelay: attr(IFLA_BR_FORWARD_DELAY, u32),
  helloTime: attr(IFLA_BR_HELLO_TIME, u32),
  maxAge: attr(IFLA_BR_MAX_AGE, u32),
  ageingTime: attr(IFLA_BR_AGEING_TIME, u32),
  /** STP on (IFLA_BR_STP_STATE != 0). */
  stp: attr(IFLA_BR_STP_STATE, u32bool),
  priority: attr(IFLA_BR_PRIORITY, u16),
  vlanFiltering: attr(IFLA_BR_VLAN_FILTERING, u8bool),
  vlanProtocol: attr(IFLA_BR_VLAN_PROTOCOL, vlanProtocol),
  vlanDefaultPvid: attr(IFLA_BR_VLAN_DEFAULT_PVID, u16),
  groupFwdMask: attr(IFLA_BR_GROUP_FWD_MASK, u16),
  mcastSnooping: attr(IFLA_BR_MCAST_SNOOPING, u8bool),
  mcastRouter: attr(IFLA_BR_MCAST_ROUTER, u8),
  mcastQuerier: attr(IFLA_BR_MCAST_QUERIER, u8bool),
  nfCallIptables: attr(IFLA_BR_NF_CALL_IPTABLES, u8bool),
  nfCallIp6tables: attr(IFLA_BR_NF_CALL_IP6TABLES, u8bool),
  nfCallArptables: attr(IFLA_BR_NF_CALL_ARPTABLES, u8bool),
  // Read-only state.
  rootId: attr(IFLA_BR_ROOT_ID, bridgeId),
  bridgeId: attr(IFLA_BR_BRIDGE_ID, bridgeId),
  rootPort: attr(IFLA_BR_ROOT_PORT, u16),
  rootPathCost: attr(IFLA_BR_ROOT_PATH_COST, u32),
  topologyChange: attr(IFLA_BR_TOPOLOGY_CHANGE, u8bool),
  topologyChangeDetected: attr(IFLA_BR_TOPOLOGY_CHANGE_DETECTED, u8bool),
  helloTimer: attr(IFLA_BR_HELLO_TIMER, u64num),
  tcnTimer: attr(IFLA_BR_TCN_TIMER, u64num),
  topologyChangeTimer: attr(IFLA_BR_TOPOLOGY_CHANGE_TIMER, u64num),
  gcTimer: attr(IFLA_BR_GC_TIMER, u64num),
  groupAddr: attr(IFLA_BR_GROUP_ADDR, macAddress),
  mcastQueryUseIfaddr: attr(IFLA_BR_MCAST_QUERY_USE_IFADDR, u8bool),
  mcastHashElasticity: attr(IFLA_BR_MCAST_HASH_ELASTICITY, u32),
  mcastHashMax: attr(IFLA_BR_MCAST_HASH_MAX, u32),
  mcastLastMemberCount: attr(IFLA_BR_MCAST_LAST_MEMBER_CNT, u32),
  mcastStartupQueryCount: attr(IFLA_BR_MCAST_STARTUP_QUERY_CNT, u32),
  mcastLastMemberInterval: attr(IFLA_BR_MCAST_LAST_MEMBER_INTVL, u64num),
  mcastMembershipInterval: attr(IFLA_BR_MCAST_MEMBERSHIP_INTVL, u64num),
  mcastQuerierInterval: attr(IFLA_BR_MCAST_QUERIER_INTVL, u64num),
  mcastQueryInterval: attr(IFLA_BR_MCAST_QUERY_INTVL, u64num),
  mcastQueryResponseInterval: attr(IFLA_BR_MCAST_QUERY_RESPONSE_INTVL, u64num),
  mcastStartupQueryInterval: attr(IFLA_BR_MCAST_STARTUP_QUERY_INTVL, u64num),
  vlanStatsEnabled: attr(IFLA_BR_VLAN_STATS_ENABLED, u8bool),
  mcastStatsEnabled: attr(IFLA_BR_MCAST_STATS_ENABLED, u8bool),
  mcastIgmpVersion: attr(IFLA_BR_MCAST_IGMP_VERSION, u8),
  mcastMldVersion: attr(IFLA_BR_MCAST_MLD_VERSION, u8),
  vlanStatsPerPort: attr(IFLA_BR_VLAN_STATS_PER_PORT, u8bool),
});

/** What a bridge reports (`ip -d link show type bridge`). */
export type BridgeInfo = Decoded<typeof bridgeAttrs.fields>;

/** Options of `links.add({ kind: 'bridge', ... })`, named after `ip link add type bridge` words. */
export interface BridgeOptions {
  /** Spanning tree on (`stp_state 1`). */
  stp?: boolean;
  /** `forward_delay`, in 1/100 s. With STP on the kernel wants 200..3000. */
  forwardDelay?: number;
  /** `hello_time`, in 1/100 s. With STP on the kernel wants 100..1000. */
  helloTime?: number;
  /** `max_age`, in 1/100 s. With STP on the kernel wants 600..4000. */
  maxAge?: number;
  /** `ageing_time`: how long a learned MAC stays in the forwarding table, in 1/100 s. */
  ageingTime?: number;
  /** `priority` of the bridge in STP (lower wins root election). */
  priority?: number;
  /** `vlan_filtering` (needs a kernel built with CONFIG_BRIDGE_VLAN_FILTERING). */
  vlanFiltering?: boolean;
  /** `vlan_protocol`. */
  vlanProtocol?: VlanProtocol;
  /** `vlan_default_pvid`: 0 disables, else 1..4094. */
  vlanDefaultPvid?: number;
  /** `group_fwd_mask`. */
  groupFwdMask?: number;
  /** `mcast_snooping`. */
  mcastSnooping?: boolean;
  /** `mcast_querier`. */
  mcastQuerier?: boolean;
  /** `nf_call_iptables`: bridged IPv4 traffic goes through iptables (needs br_netfilter). */
  nfCallIptables?: boolean;
  nfCallIp6tables?: boolean;
  nfCallArptables?: boolean;
}

const SETTABLE = [
  'forwardDelay', 'helloTime', 'maxAge', 'ageingTime', 'stp', 'priority', 'vlanFiltering', 'vlanProtocol',
  'vlanDefaultPvid', 'groupFwdMask', 'mcastSnooping', 'mcastQuerier', 'nfCallIptables', 'nfCallIp6tables', 'nfCallArptables',
] as const satisfies ReadonlyArray<keyof BridgeOptions & keyof BridgeInfo>;

/** `ip` words of each option, for messages. */
const WORDS: Record<(typeof SETTABLE)[number], string> = {
  forwardDelay: 'forward_delay', helloTime: 'hello_time', maxAge: 'max_age', ageingTime: 'ageing_time', stp: 'stp_state',
  priority: 'priority', vlanFiltering: 'vlan_filtering', vlanProtocol: 'vlan_protocol', vlanDefaultPvid: 'vlan_default_pvid',
  groupFwdMask: 'group_fwd_mask', mcastSnooping: 'mcast_snooping', mcastQuerier: 'mcast_querier',
  nfCallIptables: 'nf_call_iptables', nfCallIp6tables: 'nf_call_ip6tables', nfCallArptables: 'nf_call_arptables',
};

export const bridge: LinkKind<BridgeOptions, BridgeInfo> = {
  kind: 'bridge',
  optionKeys: SETTABLE,

  validate(o) {
    for (const k of ['forwardDelay', 'helloTime', 'maxAge', 'ageingTime'] as const) {
      if (o[k] !== undefined) validateIntRange(k, o[k], 0, 0xffffffff);
    }
    if (o.priority !== undefined) validateIntRange('priority', o.priority, 0, 0xffff);
    if (o.groupFwdMask !== undefined) validateIntRange('groupFwdMask', o.groupFwdMask, 0, 0xffff);
    if (o.vlanDefaultPvid !== undefined) validateIntRange('vlanDefaultPvid', o.vlanDefaultPvid, 0, 4094);
    if (o.vlanProtocol !== undefined && !(o.vlanProtocol in VLAN_PROTOCOLS)) {
      throw new ValidationError('vlanProtocol', o.vlanProtocol, `must be one of ${Object.keys(VLAN_PROTOCOLS).join(', ')}`);
    }
    for (const k of ['stp', 'vlanFiltering', 'mcastSnooping', 'mcastQuerier', 'nfCallIptables', 'nfCallIp6tables', 'nfCallArptables'] as const) {
      if (o[k] !== undefined) validateBoolean(k, o[k]);
    }
  },

  encodeData(a, o) {
    const picked: Partial<BridgeInfo> = {};
    for (const k of SETTABLE) if (o[k] !== undefined) (picked as Record<string, unknown>)[k] = o[k];
    bridgeAttrs.encode(a, picked);
  },

  decode: (data) => bridgeAttrs.decode(data),

  describe(o) {
    const words = SETTABLE.filter((k) => o[k] !== undefined).map((k) => `${WORDS[k]} ${typeof o[k] === 'boolean' ? Number(o[k]) : o[k]}`);
    return ['type bridge', ...words].join(' ');
  },
};

/**
 * veth: a pair of Ethernet devices joined back to back (<linux/veth.h>).
 *
 * The peer is described inside IFLA_INFO_DATA by VETH_INFO_PEER, whose payload is a whole struct
 * ifinfomsg followed by IFLA_* attributes, exactly like the body of an RTM_NEWLINK. Putting
 * IFLA_NET_NS_FD there creates the peer directly inside another namespace, in the same request and
 * atomically: if the peer cannot be made, neither end exists. This is the CNI plugins' fast path;
 * moving an end afterwards costs an extra RCU grace period per move.
 * @module
 */
import { ValidationError } from '../../../errors.js';
import type { AttrWriter } from '../../../netlink/attributes.js';
import { validateMac, validateMtu, validateTxqueuelen } from '../../../validate/link.js';
import { validateIfname } from '../../../validate/names.js';
import { ifinfomsg, linkAttrs } from '../index.js';
import type { LinkKind, NamespaceFd } from './kind.js';

export const VETH_INFO_PEER = 1;

/** The other end of the pair. */
export interface VethPeerOptions<N extends NamespaceFd = NamespaceFd> {
  /** Name of the peer (`ip link add ... type veth peer name NAME`). */
  name: string;
  /** Create the peer directly in this namespace (`peer name NAME netns NS`). Default: the same one. */
  netns?: N;
  mtu?: number;
  /** Ethernet address of the peer; random when omitted. */
  mac?: string;
  txqueuelen?: number;
  /**
   * Bring the peer up. The kernel cannot do this inside the creating request (the peer is
   * configured before the pair is joined, so opening it fails with ENOTCONN), so it is one more
   * request, in the peer's namespace, right after; if it fails the pair is deleted again.
   */
  up?: boolean;
}

export interface VethOptions<N extends NamespaceFd = NamespaceFd> {
  peer: VethPeerOptions<N>;
  /**
   * Transmit and receive queues of each end (`numtxqueues N numrxqueues N` on both ends), all of
   * them active. Default (or 0): nothing is sent and the kernel chooses, as for `ip link add ...
   * type veth`: one queue per possible CPU allocated, one active, room to raise it later with
   * `ethtool -L`. 1 gives the same active queue without that room, and saves the kernel two
   * expedited RCU grace periods per creation (docs/performance.md, "Veth creation (veth2)").
   */
  queues?: number;
}

/** Largest queue count rtnetlink accepts (rtnl_create_link: "Invalid number of transmit queues"). */
const MAX_QUEUES = 4096;

/**
 * The IFLA_NUM_TX_QUEUES / IFLA_NUM_RX_QUEUES both ends are created with, or undefined to send none.
 * Without them the kernel allocates one queue per possible CPU and then, in veth_init_queues, cuts
 * the active ones down to one with netif_set_real_num_{tx,rx}_queues, each of which waits for
 * synchronize_net() (an expedited grace period under RTNL) on a registered device: most of a
 * veth creation's time in the kernel (docs/performance.md, "Veth creation (veth2)").
 */
export function vethQueues(opts: { queues?: number }): number | undefined {
  const q = opts.queues ?? 0;
  return q === 0 ? undefined : q;
}

/** veth has no IFLA_INFO_DATA in dumps; the peer is given by the link's IFLA_LINK (+ IFLA_LINK_NETNSID). */
export interface VethInfo {}

export const veth: LinkKind<VethOptions, VethInfo> = {
  kind: 'veth',
  optionKeys: ['peer', 'queues'],

  validate(opts) {
    const p = opts.peer as VethPeerOptions | undefined;
    if (!p || typeof p !== 'object') throw new ValidationError('peer', p, 'a veth needs a peer: { name }');
    validateIfname(p.name, 'peer.name');
    if (p.mtu !== undefined) validateMtu(p.mtu, 'peer.mtu');
    if (p.mac !== undefined) validateMac(p.mac, 'peer.mac');
    if (p.txqueuelen !== undefined) validateTxqueuelen(p.txqueuelen, 'peer.txqueuelen');
    const fd = p.netns === undefined ? 0 : (p.netns as Partial<NamespaceFd> | null)?.fd;
    if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) throw new ValidationError('peer.netns', p.netns, 'must be an open Netns handle');
    const q = opts.queues;
    if (q !== undefined && (typeof q !== 'number' || !Number.isInteger(q) || q < 0 || q > MAX_QUEUES)) {
      throw new ValidationError('queues', q, `must be an integer from 0 (the kernel's default) to ${MAX_QUEUES}`);
    }
  },

  encodeData(a: AttrWriter, opts) {
    const peer = opts.peer;
    const queues = vethQueues(opts);
    // VETH_INFO_PEER carries a struct ifinfomsg before its attributes, so it is not a plain nest of
    // attributes and NLA_F_NESTED would misdescribe it; iproute2 sends it without the flag too.
    a.nested(
      VETH_INFO_PEER,
      (p) => {
        ifinfomsg.encode(p.w, {});
        linkAttrs.encode(p, {
          mtu: peer.mtu,
          address: peer.mac,
          txqlen: peer.txqueuelen,
          numTxQueues: queues,
          numRxQueues: queues,
          netNsFd: peer.netns?.fd,
          ifname: peer.name,
        });
      },
      false,
    );
  },

  decode: () => ({}),

  describe: ({ peer }) => `type veth peer name ${peer.name}${peer.netns ? ` netns ${nsLabel(peer.netns)}` : ''}`,
};

/** A namespace as `ip` would name it: its name when the handle has one. */
function nsLabel(ns: NamespaceFd): string {
  const name = (ns as { name?: unknown }).name;
  return typeof name === 'string' ? name : `fd:${ns.fd}`;
}

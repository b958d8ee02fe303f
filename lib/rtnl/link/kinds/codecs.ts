/**
 * Attribute codecs shared by several link kinds.
 * @module
 */
import type { AttrCodec } from '../../../netlink/schema.js';
import { formatMac } from '../../../netlink/wire_formats.js';

/** A u64 the API shows as a number: timers and intervals, far below 2^53. */
export const u64num: AttrCodec<number> = {
  name: 'u64num',
  encode: (a, t, v) => a.u64(t, BigInt(v)),
  decode: (b) => Number(b.readBigUInt64LE(0)),
};

/** A u32 or u16 enumeration shown as words ('bridge', 'private'); unknown numbers read back as numbers. */
export function enumCodec<W extends string>(name: string, width: 16 | 32 | 8, words: Readonly<Record<W, number>>): AttrCodec<W | number> {
  const byValue = new Map<number, W>(Object.entries(words).map(([w, v]) => [v as number, w as W]));
  return {
    name,
    encode: (a, t, v) => {
      const n = typeof v === 'number' ? v : words[v];
      if (width === 8) a.u8(t, n);
      else if (width === 16) a.u16(t, n);
      else a.u32(t, n);
    },
    decode: (b) => {
      const n = width === 8 ? b.readUInt8(0) : width === 16 ? b.readUInt16LE(0) : b.readUInt32LE(0);
      return byValue.get(n) ?? n;
    },
  };
}

/** 802.1Q ethertypes of VLAN tags (IFLA_BR_VLAN_PROTOCOL, IFLA_VLAN_PROTOCOL; big-endian u16). */
export const VLAN_PROTOCOLS = { '802.1Q': 0x8100, '802.1ad': 0x88a8 } as const;
export type VlanProtocol = keyof typeof VLAN_PROTOCOLS;

export const vlanProtocol: AttrCodec<VlanProtocol | number> = {
  name: 'vlanProtocol',
  encode: (a, t, v) => a.be16(t, typeof v === 'number' ? v : VLAN_PROTOCOLS[v]),
  decode: (b) => {
    const n = b.readUInt16BE(0);
    return n === 0x8100 ? '802.1Q' : n === 0x88a8 ? '802.1ad' : n;
  },
};

/** struct ifla_bridge_id: priority (2 bytes, big-endian) + MAC, shown as `ip` does: 8000.2:0:0:0:0:1. */
export const bridgeId: AttrCodec<string> = {
  name: 'bridgeId',
  encode: () => {
    throw new Error('bridge ids are read-only');
  },
  decode: (b) => {
    const prio = b.readUInt16BE(0).toString(16).padStart(4, '0');
    return `${prio}.${formatMac(b.subarray(2, 8)).split(':').map((x) => x.replace(/^0/, '')).join(':')}`;
  },
};

/**
 * Access to the fixtures recorded by test/fixtures/addr_route_neigh_capture.py: the kernel's
 * datagrams, what `ip -j` printed for them, and the requests `ip` sent.
 */
import { readFileSync } from 'node:fs';
import { parseDatagram, type NetlinkMessage } from '../../lib/netlink/message.js';

export interface IpFixture {
  /** The whole JSON file (ip_json, setup, _produced_by ...). */
  raw: any;
  /** ifindex of v0 in the recording namespace (v1 is the other veth end, lo is 1). */
  v0: number;
  /** ifindex -> name for the recording namespace. */
  names: Map<number, string>;
  /** Messages of type `type` in the kernel's answer recorded under `key`. */
  messages(key: string, type: number): NetlinkMessage[];
  /** The request `ip` sent for `command`, split into header fields and body. */
  ipRequest(command: string): { type: number; flags: number; seq: number; body: Buffer };
}

export function ipFixture(family: 'addr' | 'route' | 'neigh'): IpFixture {
  const raw = JSON.parse(readFileSync(new URL(`../fixtures/${family}_fixture.json`, import.meta.url), 'utf8'));
  const v0: number = raw.v0_ifindex;
  return {
    raw,
    v0,
    names: new Map([[1, 'lo'], [v0 === 2 ? 3 : 2, 'v1'], [v0, 'v0']]),
    messages: (key, type) =>
      (raw.kernel[key].datagrams as string[]).flatMap((d) => parseDatagram(Buffer.from(d, 'hex')).messages).filter((m) => m.type === type),
    ipRequest: (command) => {
      const [hex] = raw.ip_requests[command] as string[];
      const b = Buffer.from(hex, 'hex');
      return { type: b.readUInt16LE(4), flags: b.readUInt16LE(6), seq: b.readUInt32LE(8), body: b.subarray(16) };
    },
  };
}

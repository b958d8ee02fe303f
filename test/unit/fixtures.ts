import { readFileSync } from 'node:fs';

/** A request and the kernel's answer, recorded by test/fixtures/capture_core.py. */
export interface Exchange {
  what: string;
  request: Buffer;
  datagrams: Buffer[];
}

const raw = JSON.parse(readFileSync(new URL('../fixtures/core.json', import.meta.url), 'utf8')) as Record<string, any>;

export function coreFixture(name: string): Exchange {
  const f = raw[name];
  if (!f) throw new Error(`no fixture ${name}`);
  return { what: f.what, request: Buffer.from(f.request, 'hex'), datagrams: f.datagrams.map((d: string) => Buffer.from(d, 'hex')) };
}

/** Port id of the socket the fixtures were recorded on (nlmsg_pid of the kernel's answers). */
export function recordedPortId(): number {
  return coreFixture('setlink_up_ack').datagrams[0].readUInt32LE(12);
}

/**
 * The tutorial's "Bandwidth Limiting", through the library: the "limited" topology, its tbf
 * (rate 10mbit burst 32kbit latency 400ms) added by ns.tc, and a TCP bulk transfer between the two
 * namespaces through sockets the library opens in them (no iperf3), measured at the receiver over a
 * steady window. Then ingress shaping through the ifb recipe (ns.tc.shape), measured the same way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, LIMITED_HOST_END, limited } from '../../examples/topologies.js';
import { formatRate, measureThroughput } from '../../examples/bandwidth.js';
import type { Tc } from '../../lib/api/tc/index.js';
import { nsName } from './helpers.js';
import { tc } from './tc_helpers.js';

const lab = new Lab((role) => nsName(role));
beforeAll(() => limited.build(lab));
afterAll(() => lab.teardown());
const limTc = (): Tc => lab.ns('limited').tc;
const hostTc = (): Tc => lab.ns('host').tc;

const TARGET = 10e6;

describe('bandwidth limiting (measured with TCP between the two namespaces)', () => {
  let unshaped = 0;

  it('without a qdisc the transfer runs far above 10 Mbit/s', async () => {
    const r = await measureThroughput(lab.ns('limited'), lab.ns('host'), '10.0.3.1', { warmupMs: 300, windowMs: 1000 });
    console.log(`unshaped limited -> host: ${formatRate(r.bitsPerSecond)} (${r.bytes} bytes in ${r.seconds.toFixed(2)} s)`);
    unshaped = r.bitsPerSecond;
    expect(unshaped).toBeGreaterThan(5 * TARGET);
  });

  it("the tutorial's tbf on veth-limited holds the sender to 10 Mbit/s within 15 %, at least 5x slower than unshaped", async () => {
    await limTc().qdiscs.add('veth-limited', { kind: 'tbf', rate: '10mbit', burst: '32kbit', latency: '400ms' });
    expect(tc(lab.name('limited'), 'qdisc', 'show', 'dev', 'veth-limited')).toContain('tbf');
    const r = await measureThroughput(lab.ns('limited'), lab.ns('host'), '10.0.3.1');
    console.log(`tbf 10mbit limited -> host: ${formatRate(r.bitsPerSecond)} (${r.bytes} bytes in ${r.seconds.toFixed(2)} s); unshaped ${formatRate(unshaped)}, ${(unshaped / r.bitsPerSecond).toFixed(0)}x`);
    expect(r.bitsPerSecond).toBeGreaterThan(TARGET * 0.85);
    expect(r.bitsPerSecond).toBeLessThan(TARGET * 1.15);
    expect(unshaped).toBeGreaterThanOrEqual(5 * r.bitsPerSecond);
    // The other direction is not shaped.
    const back = await measureThroughput(lab.ns('host'), lab.ns('limited'), '10.0.3.10', { warmupMs: 300, windowMs: 1000 });
    expect(back.bitsPerSecond).toBeGreaterThan(5 * TARGET);
    await limTc().qdiscs.delete('veth-limited');
  });

  it('ingress shaping through an ifb (shape) holds what the host end receives to 10 Mbit/s, and clear removes it all', async () => {
    const made = await hostTc().shape(LIMITED_HOST_END, { ingress: '10mbit' });
    expect(made.ingress?.ifb).toMatch(/^nnifb\d+$/);
    const host = lab.name('host');
    expect(tc(host, 'qdisc', 'show', 'dev', LIMITED_HOST_END)).toContain('qdisc ingress ffff:');
    expect(tc(host, 'filter', 'show', 'dev', LIMITED_HOST_END, 'parent', 'ffff:')).toContain(`mirred (Egress Redirect to device ${made.ingress!.ifb}) stolen`);
    const r = await measureThroughput(lab.ns('limited'), lab.ns('host'), '10.0.3.1');
    console.log(`ingress 10mbit via ${made.ingress!.ifb}, limited -> host: ${formatRate(r.bitsPerSecond)} (${r.bytes} bytes in ${r.seconds.toFixed(2)} s)`);
    expect(r.bitsPerSecond).toBeGreaterThan(TARGET * 0.85);
    expect(r.bitsPerSecond).toBeLessThan(TARGET * 1.15);
    expect(unshaped).toBeGreaterThanOrEqual(5 * r.bitsPerSecond);
    // The ifb's tbf counted the redirected traffic.
    const [q] = await hostTc().qdiscs.list(made.ingress!.ifb);
    expect(q.kind).toBe('tbf');
    expect(Number(q.stats!.bytes)).toBeGreaterThan(r.bytes);

    expect(await hostTc().clear(LIMITED_HOST_END)).toBe(true);
    expect(tc(host, 'qdisc', 'show', 'dev', LIMITED_HOST_END)).not.toMatch(/ingress|tbf/);
    expect(await lab.ns('host').links.find(made.ingress!.ifb)).toBeUndefined();
    expect(await hostTc().clear(LIMITED_HOST_END)).toBe(false);
  });
});

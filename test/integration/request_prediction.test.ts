/**
 * The request path's per-kind poll prediction and the worker's spin after a result
 * (docs/threading.md, "The path of one request"): a request of a kind that rtnetlink keeps busy
 * longer than the JS thread's poll bound is not polled, whatever came before it, and the levers can
 * be switched at run time for A/B measurements (`netlinkTune`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns } from '../../lib/index.js';
import { native } from '../../lib/native.js';
import { nsName, ipJson } from './helpers.js';

describe('request kinds that outlast the poll', () => {
  let ns: Netns;
  beforeAll(async () => {
    ns = await Netns.create(nsName('pred'));
  });
  afterAll(async () => {
    native().netlinkTune({ predict: true, chainSpinUs: 0 });
    await ns?.delete();
  });

  it('veth creations stop being polled after two slow ones; quick requests in between go on', async () => {
    native().netlinkTune({ predict: true });
    const before = native().netlinkStats();
    // The kernel spends well over the poll's bound (100 µs) inside sendmsg for a veth creation
    // (two expedited RCU grace periods, docs/performance.md "Veth creation (veth2)").
    for (let i = 0; i < 6; i++) {
      await ns.links.add({ kind: 'veth', name: `pv${i}`, peer: { name: `pq${i}` } });
      await ns.links.setUp('lo');
    }
    const after = native().netlinkStats();
    // The first two creations teach the kind; at least the last four are predicted slow.
    expect(after.pollSlow - before.pollSlow).toBeGreaterThanOrEqual(4);
    const links = ipJson<{ ifname: string }[]>(['link', 'show'], ns.name!).map((l) => l.ifname);
    for (let i = 0; i < 6; i++) expect(links).toContain(`pv${i}`);
  });

  it('with the prediction switched off every such flush is polled again (or backed off), none counted slow', async () => {
    native().netlinkTune({ predict: false });
    try {
      const before = native().netlinkStats();
      for (let i = 0; i < 3; i++) await ns.links.add({ kind: 'veth', name: `po${i}`, peer: { name: `pr${i}` } });
      const after = native().netlinkStats();
      expect(after.pollSlow - before.pollSlow).toBe(0);
      expect(after.polls + after.pollSkipped - before.polls - before.pollSkipped).toBeGreaterThanOrEqual(3);
    } finally {
      native().netlinkTune({ predict: true });
    }
  });

  it('no worker spins for the next job after a result when the chain spin is off (the default)', async () => {
    const before = native().netlinkStats();
    for (let i = 0; i < 20; i++) await ns.links.setUp('lo');
    expect(native().netlinkStats().chainSpins - before.chainSpins).toBe(0);
  });

  it('with the chain spin on, requests still settle and no thread is added', async () => {
    const threads = native().threadCount();
    native().netlinkTune({ chainSpinUs: 250, chainCall: true });
    try {
      for (let i = 0; i < 50; i++) {
        await ns.links.setUp('lo');
        const until = performance.now() + 0.15; // a verb's JS before its next request
        while (performance.now() < until);
      }
      await ns.links.add({ kind: 'veth', name: 'pc0', peer: { name: 'pc1' } });
      await ns.links.setUp('pc0');
      expect(native().threadCount()).toBe(threads);
    } finally {
      native().netlinkTune({ chainSpinUs: 0 });
    }
    expect(ipJson<{ ifname: string; flags: string[] }[]>(['link', 'show', 'pc0'], ns.name!)[0].flags).toContain('UP');
  });

  it('netlinkTune rejects what it cannot use', () => {
    expect(() => native().netlinkTune({ predict: 1 as unknown as boolean })).toThrow(/predict must be a boolean/);
    expect(() => native().netlinkTune({ chainSpinUs: -1 })).toThrow(/chainSpinUs/);
    expect(() => native().netlinkTune({ chainSpinUs: 10_001 })).toThrow(/chainSpinUs/);
    expect(() => native().netlinkTune(null as unknown as object)).toThrow(/opts must be an object/);
  });
});

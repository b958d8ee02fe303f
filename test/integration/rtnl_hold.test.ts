/**
 * The event loop never waits for RTNL (docs/threading.md, "Why rtnetlink requests are sent from
 * workers"): while another process holds the lock for well over 50 ms, a request of ours waits that
 * long, and the loop keeps turning meanwhile.
 *
 * The lock holder is `ip -n A link set group 7 netns B`: one RTM_NEWLINK that moves every device of
 * group 7 inside a single RTNL hold, each move waiting for an RCU grace period. A and B are the
 * test's own namespaces; nothing outside them changes.
 */
import { execFile } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Netns } from '../../lib/index.js';
import { nsName, run } from './helpers.js';

const DEVICES = 12;

/** Resolves with the command's wall-clock ms once it has exited. */
function timedIp(args: string[]): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    execFile('ip', args, (err, _out, stderr) => (err ? reject(new Error(`ip ${args.join(' ')}: ${stderr}`)) : resolve(performance.now() - t0)));
  });
}

describe('another process holding RTNL', () => {
  it('a request waits for the lock on a worker while the event loop keeps running', async () => {
    const a = await Netns.create(nsName('holda'));
    const b = await Netns.create(nsName('holdb'));
    const probe = await Netns.create(nsName('probe'));
    const dir = mkdtempSync(join(tmpdir(), 'rtnl-hold-'));
    try {
      const batch = join(dir, 'links.batch');
      writeFileSync(batch, Array.from({ length: DEVICES }, (_, i) => `link add m${i} group 7 type veth peer name q${i}`).join('\n') + '\n');
      run('ip', ['-n', a.name!, '-batch', batch]);

      // A 1 ms interval: every tick is an event-loop turn.
      const ticks: number[] = [];
      const timer = setInterval(() => ticks.push(performance.now()), 1);
      const probes: { start: number; end: number }[] = [];
      let holderMs = 0;
      try {
        let done = false;
        const holder = timedIp(['-n', a.name!, 'link', 'set', 'group', '7', 'netns', b.name!]).then((ms) => {
          holderMs = ms;
          done = true;
        });
        // Trivial requests in an unrelated namespace, one after another: RTNL is global, so the
        // ones issued while the mover holds it wait for it.
        while (!done) {
          const start = performance.now();
          await probe.links.setUp('lo');
          probes.push({ start, end: performance.now() });
        }
        await holder;
      } finally {
        clearInterval(timer);
      }

      // The mover really held the lock: it moved every device, and one of our requests waited.
      // (run, not ipJson: ip prints a warning about each moved device's peer on stderr)
      const moved = (JSON.parse(run('ip', ['-n', b.name!, '-j', 'link', 'show', 'group', '7'])) as { ifname?: string }[]).filter((l) => l.ifname);
      expect(moved).toHaveLength(DEVICES);
      expect(holderMs).toBeGreaterThanOrEqual(50);
      const longest = probes.reduce((x, y) => (y.end - y.start > x.end - x.start ? y : x));
      const waited = longest.end - longest.start;
      expect(waited).toBeGreaterThanOrEqual(50);

      // Meanwhile the loop turned: ticks all through the wait, no gap anywhere near its length.
      const during = ticks.filter((t) => t >= longest.start && t <= longest.end);
      let gap = 0;
      for (let i = 1; i < during.length; i++) gap = Math.max(gap, during[i] - during[i - 1]);
      gap = Math.max(gap, (during[0] ?? longest.end) - longest.start, longest.end - (during.at(-1) ?? longest.start));
      const seen = `request waited ${waited.toFixed(1)} ms, ${during.length} ticks, longest gap ${gap.toFixed(1)} ms`;
      expect(during.length, seen).toBeGreaterThanOrEqual(10);
      expect(gap, seen).toBeLessThan(waited / 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await probe.delete();
      await b.delete();
      await a.delete();
    }
  });
});

/** The integration fixtures themselves: fresh namespace per test, deleted after; kernel-has skips. */
import { existsSync } from 'node:fs';
import { describe, expect } from 'vitest';
import { kernelRefusal, nsTest, skipUnlessKernelHas, skipUnlessRoot } from './fixtures.js';

const seen: string[] = [];

describe('fixtures', () => {
  nsTest('gives a fresh named namespace with only lo', async ({ ns, skip }) => {
    skipUnlessRoot({ skip });
    expect(existsSync(`/run/netns/${ns.name}`)).toBe(true);
    expect((await ns.links.list()).map((l) => l.name)).toEqual(['lo']);
    seen.push(ns.name!);
  });

  nsTest('gives another one to the next test, the first being gone', async ({ ns }) => {
    expect(seen).toHaveLength(1);
    expect(ns.name).not.toBe(seen[0]);
    expect(existsSync(`/run/netns/${seen[0]}`)).toBe(false);
  });

  nsTest('kernelRefusal returns the kernel text for what it lacks, undefined for what it has', () => {
    expect(kernelRefusal(['link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1'])).toBeUndefined();
    const refusal = kernelRefusal(['link', 'add', 'x0', 'type', 'no-such-kind-xyz']);
    expect(refusal).toMatch(/\S/);
  });

  nsTest('skipUnlessKernelHas does not skip what the kernel has', ({ skip }) => {
    skipUnlessKernelHas({ skip }, ['link', 'add', 'b0', 'type', 'bridge']);
    expect(kernelRefusal(['link', 'add', 'b0', 'type', 'bridge'])).toBeUndefined();
  });
});

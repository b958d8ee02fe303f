import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // One process per test file: tests inspect /proc/self (threads, fds, namespaces) and the addon's
    // threads are per process.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ['test/global_setup.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'unit+integration', include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'], sequence: { groupOrder: 0 } },
      },
      {
        // Event-loop delay is measured with nothing else running: another test file creating
        // namespaces on the same 2 cores would be measured too.
        extends: true,
        test: { name: 'timing', include: ['test/timing/**/*.test.ts'], maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});

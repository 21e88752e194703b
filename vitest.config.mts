import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'e2e/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Real processes and sockets on a 2-core machine: a few files at a time.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    // Ends the run with the suites skipped for missing Debian tools, and the apt-get that brings them back.
    globalSetup: ['test/global-setup.mjs'],
  },
});

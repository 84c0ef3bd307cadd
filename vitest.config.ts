import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Child processes, not worker threads: koffi's libpam callbacks run on
    // the main thread of the process that bound them. Files share a process
    // (no isolation): state lives in engines each test makes (host/engine),
    // so no file depends on starting in a fresh one.
    pool: 'forks',
    isolate: false,
  },
});

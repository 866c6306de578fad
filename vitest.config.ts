import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'src/**/*.test.ts',
      'emulator/test/**/*.test.ts',
      'simulator/src/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Tests start real HTTP servers on loopback; two cores do not gain from more workers.
    maxWorkers: 2,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});

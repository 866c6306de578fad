import { configDefaults, defineConfig } from 'vitest/config';
import LongestFirstSequencer from './test/sequencer.ts';

/**
 * The test tiers. `npm test` runs `fast` (unit, integration and end-to-end tests: the change-test
 * loop, about 2 minutes on 2 cores); `npm run test:all` adds the slow tiers, which measure, fuzz,
 * drive a browser, build, or need PostgreSQL. A tier is a list of files: a new test file lands in
 * `fast` unless it is named here.
 */
const slow = {
  /** `npm run bench -- --quick` as a process: every figure's key, ~2 minutes. */
  bench: ['test/bench/**/*.test.ts'],
  /**
   * The short runs: chaos (kills, outages and limits through every scenario), failover over HTTP
   * and over AMI (three instances on a private PostgreSQL), and outbound-only (clicks while the
   * bridge is down).
   */
  chaos: [
    'test/chaos/chaos.test.ts',
    'test/chaos/failover.test.ts',
    'test/chaos/ami-failover.test.ts',
    'test/chaos/offline.test.ts',
  ],
  /** Random and mutated bodies against the live server and the parsers. */
  fuzz: [
    'test/security/fuzz-server.test.ts',
    'src/pbx/webhook/fuzz.test.ts',
    'test/pbx/asterisk/fuzz.test.ts',
  ],
  /** Headless Chromium (Debian's /usr/bin/chromium; skipped with a message without it). */
  browser: [
    'test/admin/browser.test.ts',
    'test/admin/journal-browser.test.ts',
    'test/e2e/demo-page.test.ts',
    'test/e2e/offline-office.test.ts',
    'emulator/test/page.test.ts',
  ],
  /** DATABASE_URL (skipped with a message, and how to start PostgreSQL, without it). */
  postgres: [
    'test/store/postgres.test.ts',
    'test/cli/postgres.test.ts',
    'test/e2e/two-instances.test.ts',
    'test/e2e/offline-two-instances.test.ts',
    'test/outbox/instances.test.ts',
    'test/admin/shared-state.test.ts',
    'test/recordings/postgres.test.ts',
    'test/e2e/ami-leader.test.ts',
    'test/e2e/pg-restart.test.ts',
    'test/pbx/asterisk/parking-postgres.test.ts',
  ],
  /** `npm run build`, then the compiled binary (what the Docker image and the systemd unit run); `npm run test:build` runs it alone, as it times the binary's start. */
  build: ['test/build/**/*.test.ts'],
} as const;

const all = [
  'src/**/*.test.ts',
  'emulator/test/**/*.test.ts',
  'simulator/src/**/*.test.ts',
  'test/**/*.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Tests start real HTTP servers on loopback; two cores do not gain from more workers.
    maxWorkers: 2,
    // Every process a test spawns through bin/b24-bridge.js runs the TypeScript sources, never a
    // dist/ from an earlier build (the build tier unsets it for the compiled binary).
    env: { B24_BRIDGE_FROM_SOURCES: '1' },
    reporters: ['default', './test/summary-reporter.ts'],
    sequence: { sequencer: LongestFirstSequencer },
    projects: [
      {
        extends: true,
        test: {
          name: 'fast',
          include: all,
          exclude: [...configDefaults.exclude, ...Object.values(slow).flat()],
        },
      },
      ...Object.entries(slow).map(([name, include]) => ({
        extends: true as const,
        test: { name, include: [...include] },
      })),
    ],
  },
});

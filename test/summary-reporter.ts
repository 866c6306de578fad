import { appendFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

/**
 * Ends the run with one plain line, `N passed, N failed`, that any CI can read without parsing
 * vitest's coloured summary; the tiers that ran (vitest projects: `fast`, `bench`, …) each get a
 * line of their own before it, and the skipped count. With `TEST_SUMMARY_FILE` set, each tier's
 * counts are also appended to that file as one JSON line (`{tier, passed, failed, skipped}`), so
 * a script that runs several vitest runs (`.ci/run`) can add them up and print the total as its
 * own last line.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: readonly TestModule[]): void {
    const tiers = new Map<string, Counts>();
    for (const module of testModules) {
      const tier = module.project.name || 'tests';
      let counts = tiers.get(tier);
      if (!counts) tiers.set(tier, (counts = { passed: 0, failed: 0, skipped: 0 }));
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') counts.passed++;
        else if (state === 'failed') counts.failed++;
        else counts.skipped++;
      }
      // A file that failed before any test ran (an import error) counts as one failure.
      if (module.state() === 'failed' && [...module.children.allTests()].length === 0) counts.failed++;
    }
    const total: Counts = { passed: 0, failed: 0, skipped: 0 };
    const lines: string[] = [];
    const file = process.env.TEST_SUMMARY_FILE;
    for (const [tier, c] of tiers) {
      total.passed += c.passed;
      total.failed += c.failed;
      total.skipped += c.skipped;
      lines.push(`${tier}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`);
      if (file) appendFileSync(file, `${JSON.stringify({ tier, ...c })}\n`);
    }
    // No test module at all (a filter that matched nothing): still one line, counted as a failure.
    if (tiers.size === 0) {
      total.failed = 1;
      if (file)
        appendFileSync(file, `${JSON.stringify({ tier: 'none', passed: 0, failed: 1, skipped: 0 })}\n`);
    }
    process.stdout.write(
      `\n${[...lines, `${total.skipped} skipped`].join('\n')}\n${total.passed} passed, ${total.failed} failed\n`,
    );
  }
}

import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take longest (real processes, restarts, simulated talk time) start first, so two
 * workers finish together instead of one waiting for a long file started last. Vitest orders by
 * the last run's durations when it has them, and by file size on a fresh clone (CI): this list
 * keeps the fresh order right too. Order within a project only; projects stay apart.
 */
const longestFirst = [
  'test/e2e/manager-first.test.ts',
  'test/e2e/bitrix-app.test.ts',
  'test/e2e/crash-restart.test.ts',
  'test/e2e/replay-cli.test.ts',
  'test/admin/log-scan.test.ts',
  'test/cli/check.test.ts',
  'test/e2e/every-call-logged.test.ts',
  'test/server/offline-events.test.ts',
  'test/e2e/outage-replay.test.ts',
  'test/e2e/store-full.test.ts',
  'test/e2e/scenarios.test.ts',
];

const rank = (file: TestSpecification): number => {
  const i = longestFirst.findIndex((path) => file.moduleId.endsWith(path));
  return i === -1 ? longestFirst.length : i;
};

export default class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const byProject = new Map<string, TestSpecification[]>();
    for (const file of sorted) {
      const group = byProject.get(file.project.name) ?? [];
      group.push(file);
      byProject.set(file.project.name, group);
    }
    return [...byProject.values()].flatMap((group) => [...group].sort((a, b) => rank(a) - rank(b)));
  }
}

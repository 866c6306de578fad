import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * `npm run bench -- --quick --json` as CI runs it: real processes (emulator, bridge, naive
 * baseline), CI-sized counts. The figures of a quick run are rough; what must hold is the shape of
 * the answer and the relations no machine can reverse.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const keys = [
  'requestsPerDirectCall',
  'requestsPerQueuedCall',
  'replayRequests10k',
  'callsPerMinuteAt2rps',
  'queryLimitErrors',
  'cardLatencyP99Ms',
  'overheadP99Ms',
  'amiEventsPerSec',
  'bytesPerLiveCall',
  'routeKnownCallerP50Ms',
  'routeKnownCallerP99Ms',
  'cardLatencyP99MsAt60',
  'cardLatencyP99MsAt1000',
  'bucketPeak',
  'offlineCallsPerMinuteAt2rps',
] as const;
type Figures = Record<(typeof keys)[number], number | null>;

function runQuickBench(
  extra: readonly string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'bench/main.ts', '--quick', '--json', ...extra],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function expectShape(figures: Figures, who: string): void {
  for (const key of keys) {
    const value = figures[key];
    if (key === 'amiEventsPerSec' && value === null) continue;
    // The naive way asks nobody for a route, nor has an outbound-only mode.
    if ((key.startsWith('routeKnownCaller') || key === 'offlineCallsPerMinuteAt2rps') && who === 'naive') {
      expect(value, `${who}.${key}`).toBeNull();
      continue;
    }
    expect(typeof value, `${who}.${key}`).toBe('number');
    expect(Number.isFinite(value), `${who}.${key} = ${String(value)}`).toBe(true);
    expect(value, `${who}.${key}`).toBeGreaterThanOrEqual(0);
  }
}

describe('npm run bench -- --quick --json', () => {
  it('prints one JSON object last, every figure for the bridge and the naive baseline', async () => {
    const { code, stdout, stderr } = await runQuickBench();
    expect(code, stderr.slice(-3000)).toBe(0);
    const lines = stdout.trim().split('\n');
    const result = JSON.parse(lines[lines.length - 1] ?? '') as Figures & { naive: Figures };
    expect(Object.keys(result).sort()).toEqual([...keys, 'naive'].sort());
    expect(Object.keys(result.naive).sort()).toEqual([...keys].sort());
    expectShape(result, 'bridge');
    expectShape(result.naive, 'naive');
    // The table comes before it.
    expect(stdout).toContain('| requestsPerDirectCall');

    // Batching and the card in the register: fewer requests than one per method per user.
    expect(result.requestsPerDirectCall).toBeGreaterThan(0);
    expect(result.requestsPerDirectCall).toBeLessThan(result.naive.requestsPerDirectCall ?? 0);
    expect(result.requestsPerQueuedCall).toBeLessThan(result.naive.requestsPerQueuedCall ?? 0);
    expect(result.replayRequests10k).toBeGreaterThan(0);
    expect(result.replayRequests10k).toBeLessThan(result.naive.replayRequests10k ?? 0);
    // The naive way spends ~3 requests a call with no batching: the bridge carries more calls.
    expect(result.callsPerMinuteAt2rps).toBeGreaterThan(result.naive.callsPerMinuteAt2rps ?? 0);
    expect(result.queryLimitErrors).toBe(0);
    expect(result.cardLatencyP99Ms).toBeLessThanOrEqual(1000);
    expect(result.overheadP99Ms).toBeGreaterThan(0);
    expect(result.bytesPerLiveCall).toBeGreaterThan(0);
    expect(result.naive.amiEventsPerSec).toBeNull();
    // Answered from the CRM phone index with the manager first (a plan without is no figure).
    expect(result.routeKnownCallerP50Ms).toBeGreaterThan(0);
    expect(result.routeKnownCallerP99Ms).toBeGreaterThanOrEqual(result.routeKnownCallerP50Ms ?? 0);
    // The outbound-only capacity phase (a fresh emulator and bridge, one step) added about 40 s.
  }, 480_000);

  it('--only route prints the known caller’s route figures alone', async () => {
    const { code, stdout, stderr } = await runQuickBench(['--only', 'route']);
    expect(code, stderr.slice(-3000)).toBe(0);
    const lines = stdout.trim().split('\n');
    const result = JSON.parse(lines[lines.length - 1] ?? '') as Record<string, number | null>;
    expect(Object.keys(result).sort()).toEqual(['routeKnownCallerP50Ms', 'routeKnownCallerP99Ms']);
    expect(result.routeKnownCallerP50Ms).toBeGreaterThan(0);
    expect(stdout).toContain('| routeKnownCallerP99Ms');
  }, 400_000);
});

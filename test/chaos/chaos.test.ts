import { runJson } from './run-json.ts';
import { describe, expect, it } from 'vitest';

/**
 * The short chaos run CI makes: `npm run chaos` as a process, 60 calls over 25 s while
 * the bridge is SIGKILLed every ~8 s, the portal is down for 8 s, answers 500 one time in ten,
 * answers late, lets tokens live 10 s and shrinks its bucket for 3 s. No call may be lost, doubled
 * or logged to the wrong person, and no secret may reach the bridge's log.
 */
describe('a short chaos run', () => {
  it('loses, doubles and misattributes nothing, and logs no secret', async () => {
    const args = [
      '--import',
      'tsx',
      'chaos/main.ts',
      '--calls',
      '60',
      '--feed-sec',
      '25',
      '--kill-every',
      '8',
      '--outage-at',
      '6',
      '--outage-sec',
      '8',
      '--token-ttl',
      '10',
      '--limit-every',
      '12',
      '--limit-sec',
      '3',
      '--drain-timeout',
      '40',
      '--json',
    ];
    const { figures, out, err, code } = await runJson<Record<string, number | boolean>>(args);
    expect(figures, out).toMatchObject({ lost: 0, duplicates: 0, wrongUser: 0, secretsInLogs: 0 });
    expect(figures.calls).toBeGreaterThanOrEqual(50);
    expect(figures.finished).toBe(figures.calls);
    expect(figures.bridgeKills).toBeGreaterThanOrEqual(2);
    expect(figures.outageCalls).toBeGreaterThan(0);
    expect(figures.portalErrors500).toBeGreaterThan(0);
    expect(figures.tokenRefreshes).toBeGreaterThan(0);
    expect(figures.drained).toBe(true);
    expect(code, err).toBe(0);
  }, 150_000);
});

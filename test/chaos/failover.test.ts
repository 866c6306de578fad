import { runJson } from './run-json.ts';
import { describe, expect, it } from 'vitest';
import { privatePostgresUnavailable } from '../../failover/postgres.ts';

const unavailable = privatePostgresUnavailable();
if (unavailable !== undefined) console.warn(`the short failover run is skipped: ${unavailable}`);

/**
 * The short failover run CI makes: `npm run failover` as a process, three instances on a
 * PostgreSQL of the run's own behind a round-robin balancer, 40 calls over 20 s while an instance
 * is SIGKILLed every ~6 s and PostgreSQL restarts once. No call may be lost, doubled or logged to
 * the wrong person, and every recording must be served by every instance.
 */
describe.skipIf(unavailable !== undefined)('a short failover run', () => {
  it('loses, doubles and misattributes nothing, and every instance serves every recording', async () => {
    const args = ['--import', 'tsx', 'failover/main.ts', '--calls', '40', '--feed-sec', '20'];
    args.push('--kill-every', '6', '--db-restart-at', '10', '--drain-timeout', '60', '--json');
    const { figures, out, err, code } = await runJson<Record<string, number | boolean | null>>(args);
    expect(figures, out).toMatchObject({ lost: 0, duplicates: 0, wrongUser: 0, recordingsUnreachable: 0 });
    expect(figures.finished).toBe(figures.calls);
    expect(figures.kills).toBeGreaterThanOrEqual(2);
    expect(figures.recordingsChecked).toBeGreaterThan(0);
    expect(figures.dbRecoverySec).not.toBeNull();
    expect(figures.drained).toBe(true);
    expect(code, err).toBe(0);
  }, 200_000);
});

import { runJson } from './run-json.ts';
import { describe, expect, it } from 'vitest';
import { privatePostgresUnavailable } from '../../failover/postgres.ts';

const unavailable = privatePostgresUnavailable();
if (unavailable !== undefined) console.warn(`the short AMI failover run is skipped: ${unavailable}`);

/**
 * The short AMI failover run CI makes: `npm run failover -- --pbx ami` as a process, three
 * instances on a PostgreSQL of the run's own, each configured with the same Asterisk (the AMI
 * fake), 24 calls over 24 s while the instance holding the AMI connection is SIGKILLed every ~6 s.
 * Never two AMI sessions at once, each takeover resynchronised within 5 s, and no call lost,
 * doubled or logged to the wrong person.
 */
describe.skipIf(unavailable !== undefined)('a short AMI failover run', () => {
  it('one login at a time, takeover within 5 s, every call once to the right person', async () => {
    const args = ['--import', 'tsx', 'failover/main.ts', '--pbx', 'ami', '--calls', '24', '--feed-sec', '24'];
    args.push('--kill-every', '6', '--drain-timeout', '30', '--json');
    const { figures, out, err, code } = await runJson<Record<string, number | boolean>>(args);
    expect(figures, out).toMatchObject({
      lost: 0,
      duplicates: 0,
      wrongUser: 0,
      amiMaxConcurrentLogins: 1,
      amiTakeoversMissed: 0,
      drained: true,
    });
    expect(figures.finished).toBe(figures.calls);
    expect(figures.leaderKills).toBeGreaterThanOrEqual(2);
    expect(figures.amiLogins).toBeGreaterThanOrEqual(3);
    expect(figures.amiMaxTakeoverSec).toBeLessThanOrEqual(5);
    expect(code, err).toBe(0);
  }, 120_000);
});

/**
 * What a chaos run does and when: how many calls over how long, and the fault schedule. The
 * defaults are the run (1,000 calls, a two-minute outage, 10 % 5xx, token expiry every
 * minute, a SIGKILL every ~30 s); every figure can be set from the command line for a shorter run.
 */
import { parseArgs } from 'node:util';

export interface ChaosOptions {
  calls: number;
  /** Calls arrive over this many seconds (Poisson). */
  feedSec: number;
  /** A SIGKILL of the bridge every this many seconds, ±30 %; 0: none. */
  killEverySec: number;
  /** The portal refuses every connection from `outageAtSec` for `outageSec` (0: no outage). */
  outageAtSec: number;
  outageSec: number;
  /** Share of REST requests answered 500 before processing. */
  errorRate: number;
  /** Added before every REST and OAuth answer. */
  latencyMs: number;
  /** Every access token dies this many seconds after it was issued (0: no expiry fault). */
  tokenTtlSec: number;
  /** Every `limitEverySec`, for `limitSec`, the portal's bucket shrinks to 1 request/s, burst 2. */
  limitEverySec: number;
  limitSec: number;
  /** After the last call: how long the backlog may take to drain before the run gives up. */
  drainTimeoutSec: number;
  seed: number;
  /**
   * How the portal's events reach the bridge: "push" (posted to its public URL) or "offline"
   * (outbound-only: the portal cannot reach the bridge at all, which reads the offline queue).
   */
  events: 'push' | 'offline';
  /** After each SIGKILL the bridge stays down this many seconds before its restart (0: at once). */
  downSec: number;
  /** Outbound-only: the bridge's bitrix.offline.clickFreshSec (a click older than this is not dialled). */
  clickFreshSec: number;
  json: boolean;
  /** Keep the run's folder (log, SQLite file, seed) and say where it is. */
  keep: boolean;
  logLevel: 'debug' | 'info' | 'warn';
}

export const usage = `Usage: npm run chaos -- [--calls N] [--json] [options]
  --calls N            simulated calls (default 1000)
  --feed-sec S         they arrive over S seconds (default: calls × 0.33, at least 20)
  --kill-every S       SIGKILL the bridge every ~S seconds (default 30; 0: never)
  --outage-at S        the portal refuses connections from S seconds into the run (default 60)
  --outage-sec S       ... for S seconds (default 120; 0: no outage)
  --error-rate R       share of REST requests answered 500 (default 0.1)
  --latency-ms MS      added to every portal answer (default 100)
  --token-ttl S        access tokens die S seconds after issue (default 60)
  --limit-every S      a QUERY_LIMIT_EXCEEDED burst every S seconds (default 60; 0: none)
  --limit-sec S        ... lasting S seconds (default 8)
  --drain-timeout S    give up waiting for the backlog after S seconds (default 150)
  --seed N             the simulated office's seed (default 12)
  --events E           push (the portal posts to the bridge's public URL) or offline (outbound-only:
                       the portal cannot reach the bridge; it reads the offline queue) (default push)
  --down-sec S         after each kill the bridge stays down S seconds before it restarts (default 0)
  --click-fresh-sec S  offline: a click older than S seconds when read is finished, not dialled
                       (the bridge's bitrix.offline.clickFreshSec; default 60)
  --log-level L        the bridge's log level: debug, info, warn (default info)
  --keep               keep the run's folder (bridge log, SQLite file)
  --json               print the figures as JSON on the last line`;

export class UsageError extends Error {}

function num(value: string | undefined, flag: string, fallback: number, min = 0, max = 1e9): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new UsageError(`${flag} must be a number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

export function parseOptions(argv: readonly string[]): ChaosOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        calls: { type: 'string' },
        'feed-sec': { type: 'string' },
        'kill-every': { type: 'string' },
        'outage-at': { type: 'string' },
        'outage-sec': { type: 'string' },
        'error-rate': { type: 'string' },
        'latency-ms': { type: 'string' },
        'token-ttl': { type: 'string' },
        'limit-every': { type: 'string' },
        'limit-sec': { type: 'string' },
        'drain-timeout': { type: 'string' },
        seed: { type: 'string' },
        events: { type: 'string' },
        'down-sec': { type: 'string' },
        'click-fresh-sec': { type: 'string' },
        'log-level': { type: 'string' },
        keep: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const calls = Math.round(num(values.calls, '--calls', 1000, 1, 100_000));
  const logLevel = values['log-level'] ?? 'info';
  if (logLevel !== 'debug' && logLevel !== 'info' && logLevel !== 'warn')
    throw new UsageError('--log-level must be debug, info or warn');
  const events = values.events ?? 'push';
  if (events !== 'push' && events !== 'offline') throw new UsageError('--events must be push or offline');
  return {
    calls,
    feedSec: num(values['feed-sec'], '--feed-sec', Math.max(20, Math.round(calls * 0.33)), 1),
    killEverySec: num(values['kill-every'], '--kill-every', 30),
    outageAtSec: num(values['outage-at'], '--outage-at', 60),
    outageSec: num(values['outage-sec'], '--outage-sec', 120),
    errorRate: num(values['error-rate'], '--error-rate', 0.1, 0, 0.9),
    latencyMs: num(values['latency-ms'], '--latency-ms', 100, 0, 10_000),
    tokenTtlSec: num(values['token-ttl'], '--token-ttl', 60),
    limitEverySec: num(values['limit-every'], '--limit-every', 60),
    limitSec: num(values['limit-sec'], '--limit-sec', 8),
    drainTimeoutSec: num(values['drain-timeout'], '--drain-timeout', 150, 1),
    seed: Math.round(num(values.seed, '--seed', 12)),
    events,
    downSec: num(values['down-sec'], '--down-sec', 0, 0, 600),
    clickFreshSec: Math.round(num(values['click-fresh-sec'], '--click-fresh-sec', 60, 5, 3600)),
    json: values.json,
    keep: values.keep,
    logLevel,
  };
}

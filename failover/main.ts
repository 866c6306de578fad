/**
 * `npm run failover -- [--calls N] [--json]`: three instances on one PostgreSQL (a server of the
 * run's own) behind a round-robin balancer, the office's calls of every scenario, an instance
 * SIGKILLed every ~20 s and PostgreSQL restarted once. Prints the figures; with `--json`, one JSON
 * object on the last line. Exits 1 when a call was lost, doubled or logged to the wrong person, or
 * a recording could not be fetched through every instance.
 *
 * `--pbx ami`: the same instances with the Asterisk adapter against the AMI fake (`ami.ts`): the
 * instance holding the AMI connection is killed; exits 1 also when two sessions were ever logged in
 * at once or a takeover took more than 5 s.
 */
import { parseArgs } from 'node:util';
import { runAmiFailover } from './ami.ts';
import { runFailover, type FailoverOptions } from './run.ts';

export const usage = `Usage: npm run failover -- [--calls N] [--json] [options]
  --calls N          simulated calls (default 300)
  --feed-sec S       they arrive over S seconds (default: calls × 0.4, at least 20)
  --instances N      bridge instances (default 3)
  --kill-every S     SIGKILL an instance, in turn, every ~S seconds (default 20; 0: never)
  --db-restart-at S  restart PostgreSQL S seconds into the feed (default: halfway; 0: never)
  --drain-timeout S  give up waiting for the backlog after S seconds (default 120)
  --seed N           the simulated office's seed (default 21)
  --pbx api|ami      api (default): the simulated PBX through the PBX API; ami: the Asterisk
                     adapter against the AMI fake, the AMI holder killed (no PostgreSQL restart
                     unless --db-restart-at is given)
  --json             print the figures as JSON on the last line`;

function parse(argv: readonly string[]): FailoverOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      calls: { type: 'string' },
      'feed-sec': { type: 'string' },
      instances: { type: 'string' },
      'kill-every': { type: 'string' },
      'db-restart-at': { type: 'string' },
      'drain-timeout': { type: 'string' },
      seed: { type: 'string' },
      pbx: { type: 'string', default: 'api' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const num = (v: string | undefined, flag: string, fallback: number, min = 0): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min)
      throw new Error(`${flag} must be a number of at least ${String(min)}`);
    return n;
  };
  const pbx = values.pbx;
  if (pbx !== 'api' && pbx !== 'ami') throw new Error('--pbx must be "api" or "ami"');
  const calls = num(values.calls, '--calls', 300, 1);
  const feedSec = num(values['feed-sec'], '--feed-sec', Math.max(20, Math.round(calls * 0.4)), 1);
  return {
    calls,
    feedSec,
    instances: num(values.instances, '--instances', 3, 2),
    killEverySec: num(values['kill-every'], '--kill-every', 20),
    dbRestartAtSec: num(
      values['db-restart-at'],
      '--db-restart-at',
      pbx === 'ami' ? 0 : Math.round(feedSec / 2),
    ),
    drainTimeoutSec: num(values['drain-timeout'], '--drain-timeout', 120, 1),
    seed: num(values.seed, '--seed', 21),
    json: values.json,
    pbx,
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage);
    return;
  }
  let options: FailoverOptions;
  try {
    options = parse(argv);
  } catch (e) {
    console.error(`failover: ${(e as Error).message}\n\n${usage}`);
    process.exitCode = 2;
    return;
  }
  const say = (line: string): void => console.error(`failover: ${line}`);
  if (options.pbx === 'ami') {
    say(
      `AMI: ${String(options.calls)} calls over ${String(options.feedSec)} s; ${String(options.instances)} instances; ` +
        `the AMI holder killed every ~${String(options.killEverySec)} s`,
    );
    const { figures: f, problems, notes } = await runAmiFailover(options, say);
    for (const [key, value] of Object.entries(f)) console.log(`${key.padEnd(22)} ${String(value)}`);
    for (const line of [...problems, ...notes]) console.log(`  ${line}`);
    if (options.json) console.log(JSON.stringify(f));
    if (
      f.lost > 0 ||
      f.duplicates > 0 ||
      f.wrongUser > 0 ||
      f.amiMaxConcurrentLogins !== 1 ||
      f.amiMaxTakeoverSec > 5 ||
      f.amiTakeoversMissed > 0
    )
      process.exitCode = 1;
    return;
  }
  say(
    `${String(options.calls)} calls over ${String(options.feedSec)} s; ${String(options.instances)} instances; ` +
      `a kill every ~${String(options.killEverySec)} s; PostgreSQL restarted at ${String(options.dbRestartAtSec)} s`,
  );
  const { figures: f, verdict, notes } = await runFailover(options, say);
  for (const [key, value] of Object.entries(f)) console.log(`${key.padEnd(22)} ${String(value)}`);
  for (const line of [...verdict.problems, ...notes]) console.log(`  ${line}`);
  if (options.json) console.log(JSON.stringify(f));
  if (f.lost > 0 || f.duplicates > 0 || f.wrongUser > 0 || f.recordingsUnreachable > 0) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error('failover: the run failed:', e);
  process.exit(3);
});

/**
 * `npm run chaos -- [--calls N] [--json]`: the chaos run. Prints the faults, a table per
 * scenario and the figures; with `--json`, the figures as one JSON object on the last line. Exits
 * 1 when a call was lost, doubled or logged to the wrong person, or a secret reached the log, and
 * with `--events offline` when a click was left open in the portal.
 */
import { formatReport } from './report.ts';
import { parseOptions, usage, UsageError } from './options.ts';
import { runChaos } from './run.ts';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage);
    return;
  }
  let options;
  try {
    options = parseOptions(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`chaos: ${e.message}\n\n${usage}`);
    process.exitCode = 2;
    return;
  }
  const say = (line: string): void => console.error(`chaos: ${line}`);
  say(
    `${options.calls} calls over ${options.feedSec} s; kills every ~${options.killEverySec} s; outage ` +
      `${options.outageSec} s from ${options.outageAtSec} s; 5xx ${options.errorRate * 100} %; latency ` +
      `${options.latencyMs} ms; tokens live ${options.tokenTtlSec} s; limit bursts every ${options.limitEverySec} s; ` +
      `events ${options.events}${options.downSec > 0 ? `; down ${options.downSec} s a kill` : ''}`,
  );
  const result = await runChaos(options, say);
  for (const line of formatReport(result)) console.log(line);
  const f = result.figures;
  if (options.json) console.log(JSON.stringify(f));
  if (f.lost > 0 || f.duplicates > 0 || f.wrongUser > 0 || f.secretsInLogs > 0) process.exitCode = 1;
  // Outbound-only, a click waits in the portal's queue: one left open is a click lost.
  if (options.events === 'offline' && f.clicksLeftOpen > 0) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error('chaos: the run failed:', e);
  process.exit(3);
});

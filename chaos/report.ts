/** What a chaos run prints: the faults, the table per scenario, the figures, and the JSON line. */
import type { Tally } from './compare.ts';
import type { ChaosResult } from './run.ts';
import { scenarioNames, type Scenario } from './traffic.ts';

const labels: Record<string, string> = {
  ...scenarioNames,
  S5: 'S5 recorded (answered)',
  S6: 'S6 during the outage',
};

const columns: { key: keyof Tally; title: string }[] = [
  { key: 'calls', title: 'calls' },
  { key: 'answered', title: 'answered' },
  { key: 'finished', title: 'finished' },
  { key: 'lost', title: 'lost' },
  { key: 'duplicates', title: 'dup' },
  { key: 'wrongUser', title: 'wrongUser' },
  { key: 'wrongDuration', title: 'wrongDur' },
  { key: 'missingRecording', title: 'missingRec' },
];

function table(rows: { label: string; tally: Tally }[]): string[] {
  const width = Math.max(...rows.map((r) => r.label.length));
  const head = [
    'scenario'.padEnd(width),
    ...columns.map((c) => c.title.padStart(Math.max(5, c.title.length))),
  ];
  const line = (label: string, t: Tally): string =>
    [label.padEnd(width), ...columns.map((c) => String(t[c.key]).padStart(Math.max(5, c.title.length)))].join(
      '  ',
    );
  return [head.join('  '), ...rows.map((r) => line(r.label, r.tally))];
}

export function formatReport(result: ChaosResult): string[] {
  const f = result.figures;
  const rows = [
    ...result.verdict.rows.map((r) => ({ label: labels[r.label as Scenario] ?? r.label, tally: r.tally })),
    { label: 'all', tally: result.verdict.total },
  ];
  return [
    'faults injected (seconds into the run):',
    ...result.faults.map((e) => `  ${String(e.atSec).padStart(6)}  ${e.what}`),
    `bridge: ${f.bridgeKills} SIGKILLs with restarts; link as /healthz reported it: ${result.links.join(' → ') || '?'}`,
    '',
    ...table(rows),
    '',
    `portal: ${f.portalRequests} REST requests, ${f.portalErrors500} answered 500, ${f.queryLimitExceeded} QUERY_LIMIT_EXCEEDED, ` +
      `${f.tokenRefreshes} token refreshes, ${f.limitBursts} limit bursts`,
    `PBX: ${f.pbxRetries} repeated requests, ${f.routeFallbacks} route answers not in time (own plan rang), ` +
      `${f.pbxRejected} refused; ${f.clicksUndelivered} clicks the bridge never heard of (it was down)`,
    `clicks: ${f.clicks} made in the portal (${f.clicksWhileDown} while the bridge was dead or restarting): ` +
      `${f.clicksDialled} dialled, ${f.clicksNotConnected} finished as not connected, ${f.clicksLeftOpen} left open` +
      ` (events: ${result.events})`,
    `also: wrongStatus ${f.wrongStatus}, wrongStart ${f.wrongStart}, duplicateRecordings ${f.duplicateRecordings}, ` +
      `phantoms ${f.phantoms}, unfinishedInPortal ${f.unfinishedInPortal}, outbox failed ${f.outboxFailed} / dropped ${f.outboxDropped}`,
    `backlog: max ${f.maxBacklog}, ${f.drained ? 'drained' : 'NOT drained'} in ${f.drainSeconds} s after the chaos; ` +
      `outage replay: ${f.replaySeconds === null ? '—' : `${f.replaySeconds} s`} after the portal came back; ` +
      `secrets in the log: ${f.secretsInLogs} lines (${result.scan.secretsKnown} secrets searched in ${result.scan.lines} lines` +
      `${result.scan.found.length > 0 ? `; found: ${result.scan.found.join(', ')}` : ''})`,
    'b24-bridge status at the end:',
    ...result.status.map((l) => `  ${l}`),
    ...(result.verdict.problems.length > 0
      ? ['problems (first 20):', ...result.verdict.problems.map((p) => `  ${p}`)]
      : []),
    ...result.notes.map((n) => `note: ${n}`),
    ...(result.dir === null ? [] : [`run folder kept: ${result.dir}`]),
    `${f.calls} calls in ${f.runSeconds} s`,
  ];
}

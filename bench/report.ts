/** The bench's output: the figures as one JSON object, and a table of them for people. */

export interface Figures {
  requestsPerDirectCall: number;
  requestsPerQueuedCall: number;
  replayRequests10k: number;
  callsPerMinuteAt2rps: number;
  queryLimitErrors: number;
  cardLatencyP99Ms: number;
  overheadP99Ms: number;
  amiEventsPerSec: number | null;
  bytesPerLiveCall: number;
  /** POST /pbx/v1/route for a known caller, answered from the CRM phone index, the portal 400 ms late. */
  routeKnownCallerP50Ms: number | null;
  routeKnownCallerP99Ms: number | null;
  /** POST /pbx/v1/route p99 with 10,000 live calls and three boards open (`--only boards`). */
  routeP99MsWithBoards?: number | null;
  /** p99 ringing sent → card shown, recorded direct calls at 60 calls/min (5 minutes), the portal answering at once. */
  cardLatencyP99MsAt60: number;
  /** The same at 1,000 calls/min. */
  cardLatencyP99MsAt1000: number;
  /** The highest level of the portal's bucket (burst 50) over the whole bench, as the emulator saw it. */
  bucketPeak: number;
  /** Outbound-only mode: reads of the offline event queue per minute, idle and with a call live. */
  offlinePollRequestsPerMinIdle?: number | null;
  offlinePollRequestsPerMinInCall?: number | null;
  /** `callsPerMinuteAt2rps` in outbound-only mode: the portal unreachable, the queue polled meanwhile. */
  offlineCallsPerMinuteAt2rps?: number | null;
}

export interface BenchResult extends Figures {
  naive: Figures;
}

export const figureKeys = [
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
] as const satisfies readonly (keyof Figures)[];

interface Target {
  label: string;
  ok: (v: number) => boolean;
}

/** The issue's targets, to be reached over time. */
export const targets: Partial<Record<keyof Figures, Target>> = {
  requestsPerDirectCall: { label: '≤ 2', ok: (v) => v <= 2 },
  requestsPerQueuedCall: { label: '≤ 3', ok: (v) => v <= 3 },
  replayRequests10k: { label: '≤ 400', ok: (v) => v <= 400 },
  callsPerMinuteAt2rps: { label: '≥ 1,800', ok: (v) => v >= 1800 },
  queryLimitErrors: { label: '0', ok: (v) => v === 0 },
  cardLatencyP99Ms: { label: '≤ 1,000', ok: (v) => v <= 1000 },
  overheadP99Ms: { label: '≤ 5', ok: (v) => v <= 5 },
  amiEventsPerSec: { label: '≥ 100,000', ok: (v) => v >= 100_000 },
  bytesPerLiveCall: { label: '≤ 10,000', ok: (v) => v <= 10_000 },
  routeKnownCallerP99Ms: { label: '≤ 20', ok: (v) => v <= 20 },
  routeP99MsWithBoards: { label: '≤ 20', ok: (v) => v <= 20 },
  cardLatencyP99MsAt60: { label: '≤ 50', ok: (v) => v <= 50 },
  cardLatencyP99MsAt1000: { label: '≤ 600', ok: (v) => v <= 600 },
  bucketPeak: { label: '≤ 47', ok: (v) => v <= 47 },
  // One read every ≤ 2 s while a call is live; slower (fewer) while idle.
  offlinePollRequestsPerMinInCall: { label: '≥ 30', ok: (v) => v >= 30 },
  offlinePollRequestsPerMinIdle: { label: '≤ 30', ok: (v) => v <= 30 },
  // Polling rides behind the card lane and within the budget: the same capacity as push mode.
  offlineCallsPerMinuteAt2rps: { label: '≥ 1,800', ok: (v) => v >= 1800 },
};

const fmt = (v: number | null): string =>
  v === null
    ? 'n/a'
    : Number.isInteger(v)
      ? v.toLocaleString('en-US')
      : v.toLocaleString('en-US', { maximumFractionDigits: 2 });

export function reached(key: keyof Figures, v: number | null): string {
  const t = targets[key];
  if (!t) return '';
  if (v === null) return 'not measured';
  return t.ok(v) ? 'yes' : 'NO';
}

/** A Markdown table: figure, bridge, naive, target, reached (by the bridge). */
export function table(
  result: Partial<Figures> & { naive: Partial<Figures> },
  keys: readonly (keyof Figures)[] = figureKeys,
): string[] {
  const rows = keys.map((key) => [
    key,
    fmt(result[key] ?? null),
    fmt(result.naive[key] ?? null),
    targets[key]?.label ?? '',
    reached(key, result[key] ?? null),
  ]);
  const head = ['figure', 'bridge', 'naive', 'target', 'reached'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(head), rule, ...rows.map(line)];
}

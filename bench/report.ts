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
  /** Outbound-only mode: reads of the offline event queue per minute, idle and with a call live. */
  offlinePollRequestsPerMinIdle?: number | null;
  offlinePollRequestsPerMinInCall?: number | null;
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
  callsPerMinuteAt2rps: { label: '≥ 1,000', ok: (v) => v >= 1000 },
  queryLimitErrors: { label: '0', ok: (v) => v === 0 },
  cardLatencyP99Ms: { label: '≤ 1,000', ok: (v) => v <= 1000 },
  overheadP99Ms: { label: '≤ 5', ok: (v) => v <= 5 },
  amiEventsPerSec: { label: '≥ 100,000', ok: (v) => v >= 100_000 },
  bytesPerLiveCall: { label: '≤ 10,000', ok: (v) => v <= 10_000 },
  routeKnownCallerP99Ms: { label: '≤ 20', ok: (v) => v <= 20 },
  // One read every ≤ 2 s while a call is live; slower (fewer) while idle.
  offlinePollRequestsPerMinInCall: { label: '≥ 30', ok: (v) => v >= 30 },
  offlinePollRequestsPerMinIdle: { label: '≤ 30', ok: (v) => v <= 30 },
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

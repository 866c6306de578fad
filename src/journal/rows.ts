/** Rows of the journal tables as both drivers return them, and the query's WHERE clause. */
import {
  latencyStepMs,
  defaultSearchLimit,
  maxSearchLimit,
  type CallOutcome,
  type CallSummary,
  type JournalEntry,
  type JournalEntryKind,
  type JournalQuery,
} from './types.ts';

export interface CallRow {
  portal_id: string;
  call_key: string;
  pbx_call_id: string;
  direction: string;
  phone_number: string;
  called_number: string;
  line_id: string;
  user_id: number | null;
  started_at: number;
  answered_at: number | null;
  ended_at: number | null;
  outcome: string;
  end_reason: string | null;
  card_latency_ms: number | null;
  crm_entity_type: string | null;
  crm_entity_id: number | null;
  activity_id: string | null;
  recording: string | null;
  updated_at: number;
}

export interface EntryRow<D> {
  portal_id: string;
  call_key: string;
  at: number;
  recorded_at: number;
  kind: string;
  summary: string;
  detail: D;
}

export const callColumns = [
  'portal_id',
  'call_key',
  'pbx_call_id',
  'direction',
  'phone_number',
  'called_number',
  'line_id',
  'user_id',
  'started_at',
  'answered_at',
  'ended_at',
  'outcome',
  'end_reason',
  'card_latency_ms',
  'crm_entity_type',
  'crm_entity_id',
  'activity_id',
  'recording',
  'updated_at',
] as const;

/** Columns a later summary may not know (the feed learns them once): kept when it has null. */
export const keptColumns: ReadonlySet<string> = new Set([
  'user_id',
  'card_latency_ms',
  'crm_entity_type',
  'crm_entity_id',
  'activity_id',
  'recording',
]);

export function callValues(c: CallSummary): unknown[] {
  return [
    c.portalId,
    c.callKey,
    c.pbxCallId,
    c.direction,
    c.phoneNumber,
    c.calledNumber,
    c.lineId,
    c.userId,
    c.startedAt,
    c.answeredAt,
    c.endedAt,
    c.outcome,
    c.endReason,
    c.cardLatencyMs,
    c.crmEntityType,
    c.crmEntityId,
    c.activityId,
    c.recording,
    c.updatedAt,
  ];
}

export function toSummary(r: CallRow): CallSummary {
  return {
    portalId: r.portal_id,
    callKey: r.call_key,
    pbxCallId: r.pbx_call_id,
    direction: r.direction === 'outbound' ? 'outbound' : 'inbound',
    phoneNumber: r.phone_number,
    calledNumber: r.called_number,
    lineId: r.line_id,
    userId: r.user_id,
    startedAt: r.started_at,
    answeredAt: r.answered_at,
    endedAt: r.ended_at,
    outcome: r.outcome as CallOutcome,
    endReason: r.end_reason,
    cardLatencyMs: r.card_latency_ms,
    crmEntityType: r.crm_entity_type,
    crmEntityId: r.crm_entity_id,
    activityId: r.activity_id,
    recording: r.recording,
    updatedAt: r.updated_at,
  };
}

export function toEntry<D>(r: EntryRow<D>, parse: (d: D) => unknown): JournalEntry {
  return {
    portalId: r.portal_id,
    callKey: r.call_key,
    at: r.at,
    recordedAt: r.recorded_at,
    kind: r.kind as JournalEntryKind,
    summary: r.summary,
    detail: parse(r.detail),
  };
}

/** `%` and `_` in a searched number are characters, not wildcards. */
const likeEscaped = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * The WHERE clause and parameters of a search, with `param(n)` spelling the n-th placeholder
 * (`?` for SQLite, `$n` for PostgreSQL).
 */
export function whereOf(
  q: JournalQuery,
  param: (n: number) => string,
): { where: string; params: unknown[]; limit: number } {
  const parts: string[] = [];
  const params: unknown[] = [];
  const add = (sql: (p: string) => string, value: unknown): void => {
    params.push(value);
    parts.push(sql(param(params.length)));
  };
  if (q.number !== undefined && q.number !== '') {
    // Twice: SQLite's `?` placeholders are positional, one value each.
    const like = `%${likeEscaped(q.number)}%`;
    params.push(like);
    const a = param(params.length);
    params.push(like);
    const b = param(params.length);
    parts.push(`(phone_number LIKE ${a} ESCAPE '\\' OR called_number LIKE ${b} ESCAPE '\\')`);
  }
  if (q.userId !== undefined) add((p) => `user_id = ${p}`, q.userId);
  if (q.lineId !== undefined && q.lineId !== '') add((p) => `line_id = ${p}`, q.lineId);
  if (q.from !== undefined) add((p) => `started_at >= ${p}`, q.from);
  if (q.to !== undefined) add((p) => `started_at < ${p}`, q.to);
  if (q.outcome !== undefined) add((p) => `outcome = ${p}`, q.outcome);
  const limit = Math.min(maxSearchLimit, Math.max(1, Math.floor(q.limit ?? defaultSearchLimit)));
  return { where: parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`, params, limit };
}

/** The dashboard's three queries, `$1` being the time from (rewritten to `?` for SQLite). */
export const statsSql = {
  hours: `SELECT started_at / 3600000 AS hour, outcome, count(*) AS calls FROM journal_calls
    WHERE started_at >= $1 GROUP BY started_at / 3600000, outcome ORDER BY 1`,
  latency: `SELECT card_latency_ms / ${String(latencyStepMs)} AS step, count(*) AS calls FROM journal_calls
    WHERE started_at >= $1 AND card_latency_ms IS NOT NULL GROUP BY card_latency_ms / ${String(latencyStepMs)} ORDER BY 1`,
  lines: `SELECT line_id AS "lineId", count(*) AS calls,
      sum(CASE WHEN outcome = 'answered' THEN 1 ELSE 0 END) AS answered,
      CAST(avg(CASE WHEN answered_at IS NOT NULL THEN answered_at - started_at END) AS DOUBLE PRECISION) AS "meanWaitMs"
    FROM journal_calls WHERE started_at >= $1 AND outcome <> 'live' GROUP BY line_id ORDER BY line_id`,
};

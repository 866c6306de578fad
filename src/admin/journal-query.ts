/** The journal's search, from a query string (the page's form or `/api/journal`), checked. */
import { callOutcomes, type CallOutcome, type JournalQuery } from '../journal/index.ts';

export interface QueryProblem {
  field: string;
  message: string;
}

type ParsedQuery = { ok: true; query: JournalQuery } | { ok: false; problems: QueryProblem[] };

/** The form's values as typed, to show them again. */
export interface QueryForm {
  number: string;
  user: string;
  line: string;
  from: string;
  to: string;
  outcome: string;
}

const text = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');

export function queryForm(raw: unknown): QueryForm {
  const q = (raw ?? {}) as Record<string, unknown>;
  return {
    number: text(q.number),
    user: text(q.user),
    line: text(q.line),
    from: text(q.from),
    to: text(q.to),
    outcome: text(q.outcome),
  };
}

/** `2026-12-03`, `2026-12-03T09:30` (the form's local time) or a full ISO-8601 time. */
function timeOf(value: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value))
    return undefined;
  const at = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00` : value.replace(' ', 'T'));
  return Number.isFinite(at) ? at : undefined;
}

export function parseJournalQuery(raw: unknown): ParsedQuery {
  const f = queryForm(raw);
  const limitRaw = text((raw as Record<string, unknown> | null)?.limit);
  const problems: QueryProblem[] = [];
  const query: JournalQuery = {};
  if (f.number !== '') {
    const number = f.number.replace(/[\s()-]/g, '');
    if (!/^\+?[0-9*#]{1,32}$/.test(number))
      problems.push({ field: 'number', message: 'expected digits of a phone number (at most 32)' });
    else query.number = number;
  }
  if (f.user !== '') {
    if (!/^\d{1,9}$/.test(f.user))
      problems.push({ field: 'user', message: 'expected a Bitrix24 user id (digits)' });
    else query.userId = Number(f.user);
  }
  if (f.line !== '') {
    if (f.line.length > 64)
      problems.push({ field: 'line', message: 'expected a line id (at most 64 characters)' });
    else query.lineId = f.line;
  }
  for (const field of ['from', 'to'] as const) {
    if (f[field] === '') continue;
    const at = timeOf(f[field]);
    if (at === undefined) problems.push({ field, message: 'expected a date and time like 2026-12-03T09:30' });
    else query[field] = at;
  }
  if (f.outcome !== '') {
    if (!callOutcomes.includes(f.outcome as CallOutcome))
      problems.push({ field: 'outcome', message: `expected one of ${callOutcomes.join(', ')}` });
    else query.outcome = f.outcome as CallOutcome;
  }
  if (limitRaw !== '') {
    if (!/^\d{1,4}$/.test(limitRaw) || Number(limitRaw) < 1 || Number(limitRaw) > 1000)
      problems.push({ field: 'limit', message: 'expected a number from 1 to 1000' });
    else query.limit = Number(limitRaw);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, query };
}

/** Outbox entries: reading a portal's open calls and backlog, updating entries, requeueing. */
import type { Backlog, EntryUpdate, OutboxEntry } from '../../types.ts';
import { toEntry as entryOf, type EntryRow as Row } from '../../rows.ts';
import { json, OPEN, type Queryable } from './queryable.ts';

export type EntryRow = Row<unknown>;
export const toEntry = (r: EntryRow): OutboxEntry => entryOf(r, (v) => v ?? null);

/** Every entry of the calls that still have an open one, in delivery order. */
export async function openCalls(db: Queryable, portalId: string): Promise<OutboxEntry[]> {
  const { rows } = await db.query<EntryRow>(
    `SELECT * FROM outbox_entries
     WHERE portal_id = $1 AND call_key IN (SELECT call_key FROM outbox_entries WHERE portal_id = $1 AND ${OPEN})
     ORDER BY call_key, seq`,
    [portalId],
  );
  return rows.map(toEntry);
}

export async function callEntries(db: Queryable, portalId: string, callKey: string): Promise<OutboxEntry[]> {
  const { rows } = await db.query<EntryRow>(
    'SELECT * FROM outbox_entries WHERE portal_id = $1 AND call_key = $2 ORDER BY seq',
    [portalId, callKey],
  );
  return rows.map(toEntry);
}

/** Each update sets only the fields it names (`'status' in u`), plus one attempt if it says so. */
export async function applyUpdates(
  db: Queryable,
  updates: readonly EntryUpdate[],
  now: number,
): Promise<void> {
  for (const u of updates) {
    const has = (k: keyof EntryUpdate): boolean => k in u;
    await db.query(
      `UPDATE outbox_entries SET
         status = CASE WHEN $2 THEN $3 ELSE status END,
         attempts = attempts + $4,
         next_attempt_at = CASE WHEN $5 THEN $6::bigint ELSE next_attempt_at END,
         last_error = CASE WHEN $7 THEN $8 ELSE last_error END,
         note = CASE WHEN $9 THEN $10 ELSE note END,
         result = CASE WHEN $11 THEN $12::jsonb ELSE result END,
         payload = CASE WHEN $13 THEN $14::jsonb ELSE payload END,
         lane = CASE WHEN $15 THEN $16 ELSE lane END,
         updated_at = $17
       WHERE id = $1`,
      [
        u.id,
        has('status'),
        u.status ?? null,
        u.addAttempt ? 1 : 0,
        has('nextAttemptAt'),
        u.nextAttemptAt ?? null,
        has('lastError'),
        u.lastError ?? null,
        has('note'),
        u.note ?? null,
        has('result'),
        json(u.result),
        has('payload'),
        json(u.payload),
        has('lane'),
        u.lane ?? null,
        now,
      ],
    );
  }
}

/** Entries in flight of calls no live lease holds: their holder died (or there was none). */
export async function requeueInFlight(db: Queryable, portalId: string, now: number): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE outbox_entries e SET status = 'pending', updated_at = $2
     WHERE e.portal_id = $1 AND e.status = 'in_flight' AND NOT EXISTS (
       SELECT 1 FROM outbox_calls c WHERE c.portal_id = e.portal_id AND c.call_key = e.call_key
         AND c.claimed_by IS NOT NULL AND c.lease_until >= $2)`,
    [portalId, now],
  );
  return rowCount ?? 0;
}

export async function backlog(db: Queryable, portalId: string): Promise<Backlog> {
  const { rows } = await db.query<{ status: OutboxEntry['status']; n: number }>(
    'SELECT status, count(*) AS n FROM outbox_entries WHERE portal_id = $1 GROUP BY status',
    [portalId],
  );
  const counts = Object.fromEntries(rows.map((r) => [r.status, r.n])) as Partial<
    Record<OutboxEntry['status'], number>
  >;
  const oldest = await db.query<{ at: number | null }>(
    `SELECT min(created_at) AS at FROM outbox_entries WHERE portal_id = $1 AND ${OPEN}`,
    [portalId],
  );
  return {
    pending: counts.pending ?? 0,
    inFlight: counts.in_flight ?? 0,
    failed: counts.failed ?? 0,
    dropped: counts.dropped ?? 0,
    oldestOpenAt: oldest.rows[0]?.at ?? null,
  };
}

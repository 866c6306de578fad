/**
 * The engine's state per portal: a counter row (`engine_meta`) and its shards of calls, and the
 * one statement sequence that commits a step. Every `commitStep` of a portal locks the portal's
 * counter row, so steps of all instances are applied one at a time, and a step computed from an
 * older revision than the stored one is refused as `stale` (the outbox reloads the shards changed
 * since and steps again). A per-portal lock rather than per shard: routing and presence read calls
 * of every shard.
 */
import type pg from 'pg';
import type { StepCommit, StepOutcome, StoredEngine } from '../../types.ts';
import { applyUpdates } from './entries.ts';
import { json, type Queryable } from './queryable.ts';

/** The counter and the shards changed after `sinceRevision`, from one snapshot so they agree. */
export async function loadEngine(
  pool: pg.Pool,
  portalId: string,
  sinceRevision: number,
): Promise<StoredEngine | undefined> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const meta = await client.query<{ version: number; seq: number; revision: number }>(
      'SELECT version, seq, revision FROM engine_meta WHERE portal_id = $1',
      [portalId],
    );
    const m = meta.rows[0];
    if (!m) {
      await client.query('COMMIT');
      return undefined;
    }
    const { rows } = await client.query<{ shard: string; calls: Record<string, unknown> }>(
      'SELECT shard, calls FROM engine_shards WHERE portal_id = $1 AND revision > $2',
      [portalId, sinceRevision],
    );
    await client.query('COMMIT');
    const shards: StoredEngine['shards'] = {};
    for (const row of rows) shards[row.shard] = row.calls;
    return { version: m.version, seq: m.seq, revision: m.revision, shards };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

/**
 * One step inside the caller's transaction: the input (unless its dedupe key was seen), the
 * counter, the shards, the new entries and their calls, the entry updates. `notify` runs last,
 * inside the transaction, when there is new work (NOTIFY is delivered at commit, and only then).
 */
export async function commitStep(
  db: Queryable,
  c: StepCommit,
  notify: (db: Queryable) => Promise<void>,
): Promise<StepOutcome> {
  // The portal's row lock: every instance's steps of this portal pass here one at a time.
  await db.query(
    `INSERT INTO engine_meta (portal_id, version, seq, revision, updated_at) VALUES ($1, $2, $3, 0, $4)
     ON CONFLICT (portal_id) DO NOTHING`,
    [c.portalId, c.engine.version, c.engine.seq, c.now],
  );
  const meta = await db.query<{ revision: number }>(
    'SELECT revision FROM engine_meta WHERE portal_id = $1 FOR UPDATE',
    [c.portalId],
  );
  const current = meta.rows[0]?.revision ?? 0;
  const { input } = c;
  if (input !== null && input.dedupeKey !== null) {
    const seen = await db.query('SELECT 1 FROM inputs WHERE portal_id = $1 AND dedupe_key = $2', [
      c.portalId,
      input.dedupeKey,
    ]);
    if (seen.rowCount !== 0) return { stored: false, reason: 'duplicate' };
  }
  if (c.expectedRevision !== undefined && c.expectedRevision !== current)
    return { stored: false, reason: 'stale', revision: current };
  if (input !== null) {
    await db.query(
      'INSERT INTO inputs (portal_id, dedupe_key, type, payload, received_at) VALUES ($1, $2, $3, $4, $5)',
      [c.portalId, input.dedupeKey, input.type, json(input.payload), c.now],
    );
  }
  const revision = current + 1;
  await db.query(
    'UPDATE engine_meta SET version = $2, seq = $3, revision = $4, updated_at = $5 WHERE portal_id = $1',
    [c.portalId, c.engine.version, c.engine.seq, revision, c.now],
  );
  const shards = Object.entries(c.engine.shards);
  if (shards.length > 0) {
    await db.query(
      `INSERT INTO engine_shards (portal_id, shard, calls, revision, updated_at)
       SELECT $1, s.shard, s.calls::jsonb, $4, $5 FROM unnest($2::text[], $3::text[]) AS s (shard, calls)
       ON CONFLICT (portal_id, shard) DO UPDATE SET calls = excluded.calls, revision = excluded.revision,
         updated_at = excluded.updated_at`,
      [c.portalId, shards.map(([k]) => k), shards.map(([, v]) => JSON.stringify(v)), revision, c.now],
    );
  }
  if (c.newEntries.length > 0) await insertEntries(db, c);
  await applyUpdates(db, c.entryUpdates, c.now);
  if (c.newEntries.length > 0) await notify(db);
  return { stored: true, revision };
}

async function insertEntries(db: Queryable, c: StepCommit): Promise<void> {
  const e = c.newEntries;
  // A replayed step re-emits the same op ids: the unique key makes it add nothing.
  await db.query(
    `INSERT INTO outbox_entries (portal_id, call_key, op_id, seq, lane, kind, payload, status,
       next_attempt_at, created_at, updated_at)
     SELECT $1, n.call_key, n.op_id, n.seq, n.lane, n.kind, n.payload::jsonb, 'pending', n.next_at, $8, $8
     FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $9::bigint[])
       WITH ORDINALITY AS n (call_key, op_id, seq, lane, kind, payload, next_at, ord)
     ORDER BY n.ord
     ON CONFLICT (portal_id, op_id) DO NOTHING`,
    [
      c.portalId,
      e.map((x) => x.callKey),
      e.map((x) => x.opId),
      e.map((x) => x.seq),
      e.map((x) => x.lane),
      e.map((x) => x.kind),
      e.map((x) => json(x.payload)),
      c.now,
      e.map((x) => x.nextAttemptAt),
    ],
  );
  await db.query(
    `INSERT INTO outbox_calls (portal_id, call_key, created_at)
     SELECT DISTINCT $1, k, $3::bigint FROM unnest($2::text[]) AS k
     ON CONFLICT (portal_id, call_key) DO NOTHING`,
    [c.portalId, [...new Set(e.map((x) => x.callKey))], c.now],
  );
}

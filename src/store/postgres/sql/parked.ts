/** PBX events kept while no portal is installed: in order, bounded a PBX, removed once fed. */
import type { ParkedEvent } from '../../types.ts';
import { json, type Queryable } from './queryable.ts';

const countOf = async (db: Queryable, pbxId: string): Promise<number> =>
  (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM parked_events WHERE pbx_id = $1', [pbxId]))
    .rows[0]?.n ?? 0;

/** Appends the events in order; past `max` of the PBX, the oldest go. */
export async function parkEvents(
  db: Queryable,
  pbxId: string,
  events: readonly unknown[],
  now: number,
  max: number,
): Promise<{ dropped: number; parked: number }> {
  if (events.length > 0)
    await db.query(
      `INSERT INTO parked_events (pbx_id, event, created_at)
       SELECT $1, e.value, $3 FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e(value, n) ORDER BY e.n`,
      [pbxId, json(events), now],
    );
  const before = await countOf(db, pbxId);
  if (before <= max) return { dropped: 0, parked: before };
  const { rowCount } = await db.query(
    `DELETE FROM parked_events WHERE id IN (
       SELECT id FROM parked_events WHERE pbx_id = $1 ORDER BY id LIMIT $2)`,
    [pbxId, before - max],
  );
  const dropped = rowCount ?? 0;
  return { dropped, parked: before - dropped };
}

export async function oldestParked(db: Queryable, pbxId: string, limit: number): Promise<ParkedEvent[]> {
  const { rows } = await db.query<ParkedEvent>(
    'SELECT id, event FROM parked_events WHERE pbx_id = $1 ORDER BY id LIMIT $2',
    [pbxId, limit],
  );
  return rows;
}

export async function removeParked(db: Queryable, pbxId: string, throughId: number): Promise<number> {
  await db.query('DELETE FROM parked_events WHERE pbx_id = $1 AND id <= $2', [pbxId, throughId]);
  return countOf(db, pbxId);
}

export { countOf as countParked };

/** PBX events kept while no portal is installed, on SQLite: one table, in order, bounded a PBX. */
import type { Database } from 'better-sqlite3';
import type { ParkedEvents } from '../types.ts';

export function sqliteParkedEvents(
  db: Database,
  run: <T>(doing: string, fn: () => T) => Promise<T>,
  write: <T>(site: string, fn: () => T) => T,
): ParkedEvents {
  const insert = db.prepare<[string, string, number]>(
    'INSERT INTO parked_events (pbx_id, event, created_at) VALUES (?, ?, ?)',
  );
  const count = db.prepare<[string], { n: number }>(
    'SELECT count(*) AS n FROM parked_events WHERE pbx_id = ?',
  );
  const dropOldest = db.prepare<[string, number, string]>(
    `DELETE FROM parked_events WHERE id IN (
       SELECT id FROM parked_events WHERE pbx_id = ? ORDER BY id LIMIT (
         SELECT max(count(*) - ?, 0) FROM parked_events WHERE pbx_id = ?))`,
  );
  const oldest = db.prepare<[string, number], { id: number; event: string }>(
    'SELECT id, event FROM parked_events WHERE pbx_id = ? ORDER BY id LIMIT ?',
  );
  const remove = db.prepare<[string, number]>('DELETE FROM parked_events WHERE pbx_id = ? AND id <= ?');
  const countOf = (pbxId: string): number => count.get(pbxId)?.n ?? 0;
  return {
    park: (pbxId, events, now, max) =>
      run('park PBX events', () =>
        write('parked events', () => {
          for (const event of events) insert.run(pbxId, JSON.stringify(event ?? null), now);
          const before = countOf(pbxId);
          const dropped = before > max ? dropOldest.run(pbxId, max, pbxId).changes : 0;
          return { dropped, parked: before - dropped };
        }),
      ),
    oldest: (pbxId, limit) =>
      run('read parked PBX events', () =>
        oldest.all(pbxId, limit).map((r) => ({ id: r.id, event: JSON.parse(r.event) as unknown })),
      ),
    remove: (pbxId, throughId) =>
      run('remove parked PBX events', () =>
        write('parked events', () => {
          remove.run(pbxId, throughId);
          return countOf(pbxId);
        }),
      ),
    count: (pbxId) => run('count parked PBX events', () => countOf(pbxId)),
  };
}

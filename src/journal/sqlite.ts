/** The journal on SQLite: one prepared statement per operation, on the store's own handle. */
import type { Database } from 'better-sqlite3';
import {
  statsSql,
  callColumns,
  callValues,
  keptColumns,
  toEntry,
  toSummary,
  whereOf,
  type CallRow,
  type EntryRow,
} from './rows.ts';
import type { JournalStats, JournalStore } from './types.ts';

const upsertCallSql = `INSERT INTO journal_calls (${callColumns.join(', ')})
  VALUES (${callColumns.map(() => '?').join(', ')})
  ON CONFLICT (portal_id, call_key) DO UPDATE SET ${callColumns
    .slice(2)
    .map((c) =>
      keptColumns.has(c) ? `${c} = coalesce(excluded.${c}, journal_calls.${c})` : `${c} = excluded.${c}`,
    )
    .join(', ')}`;

export function sqliteJournal(db: Database): JournalStore {
  const insertEntry = db.prepare(
    `INSERT INTO journal_entries (portal_id, call_key, at, recorded_at, kind, summary, detail)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const upsertCall = db.prepare(upsertCallSql);
  const callOf = db.prepare<[string], CallRow>(
    'SELECT * FROM journal_calls WHERE call_key = ? ORDER BY started_at DESC LIMIT 1',
  );
  const callOnPortal = db.prepare<[string, string], CallRow>(
    'SELECT * FROM journal_calls WHERE call_key = ? AND portal_id = ?',
  );
  const entriesOf = db.prepare<[string, string], EntryRow<string | null>>(
    'SELECT * FROM journal_entries WHERE portal_id = ? AND call_key = ? ORDER BY id',
  );
  const stats = {
    hours: db.prepare<[number], JournalStats['hours'][number]>(statsSql.hours.replace('$1', '?')),
    latency: db.prepare<[number], JournalStats['latency'][number]>(statsSql.latency.replace('$1', '?')),
    lines: db.prepare<[number], JournalStats['lines'][number]>(statsSql.lines.replace('$1', '?')),
  };
  const pruneCalls = db.prepare<[number]>('DELETE FROM journal_calls WHERE started_at < ?');
  const pruneEntries = db.prepare<[number]>('DELETE FROM journal_entries WHERE recorded_at < ?');
  const write = db.transaction(
    (entries: Parameters<JournalStore['write']>[0], calls: Parameters<JournalStore['write']>[1]) => {
      for (const e of entries)
        insertEntry.run(
          e.portalId,
          e.callKey,
          e.at,
          e.recordedAt,
          e.kind,
          e.summary,
          JSON.stringify(e.detail ?? null),
        );
      for (const c of calls) upsertCall.run(...callValues(c));
    },
  );
  const prune = db.transaction((before: number) => {
    pruneEntries.run(before);
    return pruneCalls.run(before).changes;
  });
  return {
    write: (entries, calls) => {
      if (entries.length === 0 && calls.length === 0) return Promise.resolve();
      // The journal is a record, not what the bridge must find again: its commits skip the fsync
      // (the next commit of the store's own, at synchronous=FULL, carries them to the disk). The
      // driver blocks while it waits for the disk, and PBX requests would wait behind it.
      const level = db.pragma('synchronous', { simple: true }) as number;
      db.pragma('synchronous = NORMAL');
      try {
        write.immediate(entries, calls);
      } finally {
        db.pragma(`synchronous = ${String(level)}`);
      }
      return Promise.resolve();
    },
    search: (query) => {
      const { where, params, limit } = whereOf(query, () => '?');
      const rows = db
        .prepare<unknown[], CallRow>(
          `SELECT * FROM journal_calls ${where} ORDER BY started_at DESC LIMIT ${String(limit)}`,
        )
        .all(...params);
      return Promise.resolve(rows.map(toSummary));
    },
    call: (callKey, portalId) => {
      const row = portalId === undefined ? callOf.get(callKey) : callOnPortal.get(callKey, portalId);
      if (!row) return Promise.resolve(undefined);
      const entries = entriesOf
        .all(row.portal_id, row.call_key)
        .map((r) => toEntry(r, (d) => (d === null ? null : JSON.parse(d))));
      return Promise.resolve({ summary: toSummary(row), entries });
    },
    stats: (from) =>
      Promise.resolve({
        hours: stats.hours.all(from),
        latency: stats.latency.all(from),
        lines: stats.lines.all(from),
      }),
    prune: (before) => Promise.resolve(prune.immediate(before)),
  };
}

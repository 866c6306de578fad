/** The journal on PostgreSQL, as on SQLite (`sqlite.ts`), on the store's pool. */
import type { Pool } from 'pg';
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
import type { CallSummary, JournalEntry, JournalStats, JournalStore } from './types.ts';

const upsertCallSql = `INSERT INTO journal_calls (${callColumns.join(', ')})
  VALUES (${callColumns.map((_, i) => `$${String(i + 1)}`).join(', ')})
  ON CONFLICT (portal_id, call_key) DO UPDATE SET ${callColumns
    .slice(2)
    .map((c) =>
      keptColumns.has(c) ? `${c} = coalesce(excluded.${c}, journal_calls.${c})` : `${c} = excluded.${c}`,
    )
    .join(', ')}`;

/** Entries go as one multi-row INSERT: a flush of a busy second is one round trip. */
function insertEntriesSql(n: number): string {
  const rows = Array.from({ length: n }, (_, i) => {
    const b = i * 7;
    return `($${String(b + 1)}, $${String(b + 2)}, $${String(b + 3)}, $${String(b + 4)}, $${String(b + 5)}, $${String(b + 6)}, $${String(b + 7)}::jsonb)`;
  });
  return `INSERT INTO journal_entries (portal_id, call_key, at, recorded_at, kind, summary, detail) VALUES ${rows.join(', ')}`;
}

const entryValues = (e: JournalEntry): unknown[] => [
  e.portalId,
  e.callKey,
  e.at,
  e.recordedAt,
  e.kind,
  e.summary,
  JSON.stringify(e.detail ?? null),
];

/** Rows a PostgreSQL statement may carry: its parameters are limited to 65535. */
const ENTRIES_PER_INSERT = 1000;

export function postgresJournal(pool: Pool): JournalStore {
  async function write(entries: readonly JournalEntry[], calls: readonly CallSummary[]): Promise<void> {
    if (entries.length === 0 && calls.length === 0) return;
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      for (let i = 0; i < entries.length; i += ENTRIES_PER_INSERT) {
        const chunk = entries.slice(i, i + ENTRIES_PER_INSERT);
        await client.query(insertEntriesSql(chunk.length), chunk.flatMap(entryValues));
      }
      for (const c of calls) await client.query(upsertCallSql, callValues(c));
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }
  return {
    write,
    search: async (query) => {
      const { where, params, limit } = whereOf(query, (n) => `$${String(n)}`);
      const { rows } = await pool.query<CallRow>(
        `SELECT * FROM journal_calls ${where} ORDER BY started_at DESC LIMIT ${String(limit)}`,
        params,
      );
      return rows.map(toSummary);
    },
    call: async (callKey, portalId) => {
      const { rows } = await pool.query<CallRow>(
        portalId === undefined
          ? 'SELECT * FROM journal_calls WHERE call_key = $1 ORDER BY started_at DESC LIMIT 1'
          : 'SELECT * FROM journal_calls WHERE call_key = $1 AND portal_id = $2',
        portalId === undefined ? [callKey] : [callKey, portalId],
      );
      const row = rows[0];
      if (!row) return undefined;
      const entries = await pool.query<EntryRow<unknown>>(
        'SELECT * FROM journal_entries WHERE portal_id = $1 AND call_key = $2 ORDER BY id',
        [row.portal_id, row.call_key],
      );
      return { summary: toSummary(row), entries: entries.rows.map((r) => toEntry(r, (d) => d ?? null)) };
    },
    stats: async (from) => {
      const [hours, latency, lines] = await Promise.all([
        pool.query<JournalStats['hours'][number]>(statsSql.hours, [from]),
        pool.query<JournalStats['latency'][number]>(statsSql.latency, [from]),
        pool.query<JournalStats['lines'][number]>(statsSql.lines, [from]),
      ]);
      return { hours: hours.rows, latency: latency.rows, lines: lines.rows };
    },
    prune: async (before) => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('DELETE FROM journal_entries WHERE recorded_at < $1', [before]);
        const gone = await client.query('DELETE FROM journal_calls WHERE started_at < $1', [before]);
        await client.query('COMMIT');
        return gone.rowCount ?? 0;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
    },
  };
}

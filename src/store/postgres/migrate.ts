import type { PoolClient } from 'pg';
import { StoreError } from '../errors.ts';
import { loadMigrations as loadFrom, type Migration } from '../sqlite/migrate.ts';

/**
 * Numbered migrations as in SQLite (`NNN-name.sql`, one transaction each with its row in
 * `schema_migrations`, a newer database refused), in this folder. Instances starting together
 * take a transaction-scoped advisory lock first: one migrates, the others then find it done.
 */

const migrationsDir = new URL('./migrations/', import.meta.url);

export const loadMigrations = (dir: URL = migrationsDir): Migration[] => loadFrom(dir);

interface AppliedMigration {
  id: number;
  name: string;
  appliedAt: number;
}

/** Advisory lock key of the migrations of this schema (advisory locks are per database). */
const lockSql = "SELECT pg_advisory_xact_lock(hashtext('b24-bridge:migrate:' || current_schema()))";

export async function appliedMigrations(client: Pick<PoolClient, 'query'>): Promise<AppliedMigration[]> {
  const { rows } = await client.query<AppliedMigration>(
    'SELECT id, name, applied_at AS "appliedAt" FROM schema_migrations ORDER BY id',
  );
  return rows;
}

/** Brings the schema up to the newest migration; returns the ids it applied. */
export async function migrate(
  client: PoolClient,
  migrations: readonly Migration[],
  now: number,
): Promise<number[]> {
  const latest = migrations.at(-1)?.id ?? 0;
  const applied: number[] = [];
  await client.query('BEGIN');
  try {
    await client.query(lockSql);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at BIGINT NOT NULL
    )`);
    const { rows } = await client.query<{ v: number | null }>('SELECT max(id) AS v FROM schema_migrations');
    const current = rows[0]?.v ?? 0;
    if (current > latest) {
      throw new StoreError(
        'STORE_TOO_NEW',
        `the database is at migration ${current}, this bridge knows up to ${latest}: run the newer bridge`,
      );
    }
    await client.query('COMMIT');
    for (const m of migrations) {
      if (m.id <= current) continue;
      await client.query('BEGIN');
      try {
        await client.query(lockSql);
        const done = await client.query('SELECT 1 FROM schema_migrations WHERE id = $1', [m.id]);
        if (done.rowCount === 0) {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (id, name, applied_at) VALUES ($1, $2, $3)', [
            m.id,
            m.name,
            now,
          ]);
          applied.push(m.id);
        }
        await client.query('COMMIT');
      } catch (cause) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new StoreError('STORE_MIGRATION_FAILED', `migration ${m.id}-${m.name} failed`, { cause });
      }
    }
    return applied;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

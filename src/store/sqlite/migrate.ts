import { readdirSync, readFileSync } from 'node:fs';
import type { Database } from 'better-sqlite3';
import { StoreError } from '../errors.ts';

/**
 * Numbered migrations, after graphile/worker's shape: one SQL file per version in a folder
 * (`NNN-name.sql`), applied in order, each in its own transaction together with the row that
 * records it in `schema_migrations`. A database that knows a version we do not is refused: a
 * newer bridge migrated it, and an older one writing to it could break what the newer expects.
 */

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

const fileName = /^(\d{3})-([a-z0-9-]+)\.sql$/;

const migrationsDir = new URL('./migrations/', import.meta.url);

export function loadMigrations(dir: URL = migrationsDir): Migration[] {
  const migrations = readdirSync(dir)
    .map((file) => ({ file, match: fileName.exec(file) }))
    .filter((f): f is { file: string; match: RegExpExecArray } => f.match !== null)
    .map(({ file, match }) => ({
      id: Number(match[1]),
      name: match[2] ?? file,
      sql: readFileSync(new URL(file, dir), 'utf8'),
    }))
    .sort((a, b) => a.id - b.id);
  migrations.forEach((m, i) => {
    if (m.id !== i + 1) throw new StoreError('STORE_MIGRATION_FAILED', `migration ${i + 1} is missing`);
  });
  return migrations;
}

interface AppliedMigration {
  id: number;
  name: string;
  appliedAt: number;
}

export function appliedMigrations(db: Database): AppliedMigration[] {
  return db
    .prepare<[], AppliedMigration>(
      'SELECT id, name, applied_at AS appliedAt FROM schema_migrations ORDER BY id',
    )
    .all();
}

/** Brings the database up to the newest migration; returns the ids it applied. */
export function migrate(db: Database, migrations: readonly Migration[], now: number): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  )`);
  const latest = migrations.at(-1)?.id ?? 0;
  const current =
    db.prepare<[], { v: number | null }>('SELECT max(id) AS v FROM schema_migrations').get()?.v ?? 0;
  if (current > latest) {
    throw new StoreError(
      'STORE_TOO_NEW',
      `the database is at migration ${current}, this bridge knows up to ${latest}: run the newer bridge`,
    );
  }
  const record = db.prepare('INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)');
  const has = db.prepare<[number], { id: number }>('SELECT id FROM schema_migrations WHERE id = ?');
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.id <= current) continue;
    try {
      // IMMEDIATE, and checked again inside: a second process opening the same file at the same
      // moment waits for the lock and then finds the migration done instead of applying it twice.
      const ran = db
        .transaction(() => {
          if (has.get(m.id)) return false;
          db.exec(m.sql);
          record.run(m.id, m.name, now);
          return true;
        })
        .immediate();
      if (ran) applied.push(m.id);
    } catch (cause) {
      throw new StoreError('STORE_MIGRATION_FAILED', `migration ${m.id}-${m.name} failed`, { cause });
    }
  }
  return applied;
}

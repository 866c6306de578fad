/** The admin UI's settings and sessions on PostgreSQL. */
import type { AdminSetting } from '../../types.ts';
import { json, type Queryable } from './queryable.ts';

export async function getSetting(db: Queryable, key: string): Promise<AdminSetting | undefined> {
  const { rows } = await db.query<AdminSetting>('SELECT value, revision FROM admin_settings WHERE key = $1', [
    key,
  ]);
  return rows[0];
}

export async function putSetting(db: Queryable, key: string, value: unknown, now: number): Promise<number> {
  const { rows } = await db.query<{ revision: number }>(
    `INSERT INTO admin_settings (key, value, revision, updated_at) VALUES ($1, $2::jsonb, 1, $3)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, revision = admin_settings.revision + 1,
       updated_at = excluded.updated_at
     RETURNING revision`,
    [key, json(value), now],
  );
  return rows[0]?.revision ?? 1;
}

export async function addSession(
  db: Queryable,
  s: { digest: string; now: number; expiresAt: number; max: number },
): Promise<void> {
  await db.query('DELETE FROM admin_sessions WHERE expires_at <= $1', [s.now]);
  await db.query(
    `INSERT INTO admin_sessions (digest, created_at, expires_at) VALUES ($1, $2, $3)
     ON CONFLICT (digest) DO UPDATE SET created_at = excluded.created_at, expires_at = excluded.expires_at`,
    [s.digest, s.now, s.expiresAt],
  );
  await db.query(
    `DELETE FROM admin_sessions WHERE digest IN (
       SELECT digest FROM admin_sessions ORDER BY created_at DESC, digest OFFSET $1)`,
    [s.max],
  );
}

export async function sessionAlive(db: Queryable, digest: string, now: number): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM admin_sessions WHERE digest = $1 AND expires_at > $2', [
    digest,
    now,
  ]);
  return (rowCount ?? 0) > 0;
}

export async function removeSession(db: Queryable, digest: string): Promise<void> {
  await db.query('DELETE FROM admin_sessions WHERE digest = $1', [digest]);
}

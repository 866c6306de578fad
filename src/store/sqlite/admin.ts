/** The admin UI's settings and sessions on SQLite: two tables, one statement per operation. */
import type { Database } from 'better-sqlite3';
import type { AdminState } from '../types.ts';

export function sqliteAdminState(
  db: Database,
  run: <T>(doing: string, fn: () => T) => Promise<T>,
  write: <T>(site: string, fn: () => T) => T,
): AdminState {
  const getSetting = db.prepare<[string], { value: string; revision: number }>(
    'SELECT value, revision FROM admin_settings WHERE key = ?',
  );
  const putSetting = db.prepare<[string, string, number], { revision: number }>(
    `INSERT INTO admin_settings (key, value, revision, updated_at) VALUES (?, ?, 1, ?)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, revision = admin_settings.revision + 1,
       updated_at = excluded.updated_at
     RETURNING revision`,
  );
  const addSession = db.prepare<[string, number, number]>(
    'INSERT OR REPLACE INTO admin_sessions (digest, created_at, expires_at) VALUES (?, ?, ?)',
  );
  const dropExpired = db.prepare<[number]>('DELETE FROM admin_sessions WHERE expires_at <= ?');
  const dropOldest = db.prepare<[number]>(
    `DELETE FROM admin_sessions WHERE digest IN (
       SELECT digest FROM admin_sessions ORDER BY created_at DESC, digest LIMIT -1 OFFSET ?)`,
  );
  const alive = db.prepare<[string, number], { n: number }>(
    'SELECT count(*) AS n FROM admin_sessions WHERE digest = ? AND expires_at > ?',
  );
  const remove = db.prepare<[string]>('DELETE FROM admin_sessions WHERE digest = ?');
  return {
    getSetting: (key) =>
      run('read an admin setting', () => {
        const row = getSetting.get(key);
        return row ? { value: JSON.parse(row.value) as unknown, revision: row.revision } : undefined;
      }),
    putSetting: (key, value, now) =>
      run('save an admin setting', () =>
        write('admin setting', () => putSetting.get(key, JSON.stringify(value), now)?.revision ?? 1),
      ),
    addSession: (digest, now, expiresAt, max) =>
      run('save an admin session', () => {
        write('admin session', () => {
          dropExpired.run(now);
          addSession.run(digest, now, expiresAt);
          dropOldest.run(max);
        });
      }),
    sessionAlive: (digest, now) => run('read an admin session', () => (alive.get(digest, now)?.n ?? 0) > 0),
    removeSession: (digest) =>
      run('end an admin session', () => {
        write('admin session', () => remove.run(digest));
      }),
  };
}

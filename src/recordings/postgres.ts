/**
 * Recordings in PostgreSQL: every instance on the database serves any recording, so the portal's
 * download works whichever instance the balancer sends it to. The same refs, retention and
 * per-portal deletion as the file store; the secret that keys refs and links is made once in the
 * database and shared by every instance.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import {
  checkSize,
  contentKeyOf,
  linkSecretOf,
  portalKeyOf,
  RecordingStoreError,
  refPattern,
  type NewRecording,
  type RecordingFile,
  type RecordingStore,
} from './store.ts';

export class PostgresRecordingStore implements RecordingStore {
  private constructor(
    private readonly pool: pg.Pool,
    private readonly secret: Buffer,
    readonly linkSecret: Buffer,
    readonly maxBytes: number,
  ) {}

  /** On the store's pool (its tables come with the store's migrations). */
  static async open(pool: pg.Pool, maxBytes = 64 * 1024 * 1024): Promise<PostgresRecordingStore> {
    const secret = await io('open the recordings', async () => {
      // The first instance makes the secret; the others read the one it made.
      await pool.query(
        'INSERT INTO recording_secret (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING',
        [randomBytes(32)],
      );
      const { rows } = await pool.query<{ secret: Buffer }>(
        'SELECT secret FROM recording_secret WHERE id = 1',
      );
      const found = rows[0]?.secret;
      if (!found) throw new Error('no recording secret');
      return found;
    });
    return new PostgresRecordingStore(pool, secret, linkSecretOf(secret), maxBytes);
  }

  async put(recording: NewRecording, now: number): Promise<string> {
    checkSize(recording, this.maxBytes);
    const portalKey = portalKeyOf(this.secret, recording.portal);
    const ref = `${portalKey}-${contentKeyOf(this.secret, recording)}`;
    await io('store the recording', () =>
      this.pool.query(
        `INSERT INTO recordings (ref, portal_key, filename, content, stored_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (ref) DO UPDATE SET filename = coalesce(excluded.filename, recordings.filename)`,
        [ref, portalKey, recording.filename ?? null, Buffer.from(recording.content), now],
      ),
    );
    return ref;
  }

  async get(ref: string): Promise<RecordingFile> {
    if (!refPattern.test(ref)) throw new RecordingStoreError('RECORDING_NOT_FOUND', 'no such recording');
    const { rows } = await io('read the recording', () =>
      this.pool.query<{ content: Buffer; filename: string | null }>(
        'SELECT content, filename FROM recordings WHERE ref = $1',
        [ref],
      ),
    );
    const row = rows[0];
    if (!row) throw new RecordingStoreError('RECORDING_NOT_FOUND', 'no such recording');
    return { content: row.content, filename: row.filename ?? undefined };
  }

  async deletePortal(portal: string): Promise<number> {
    const { rowCount } = await io("delete the portal's recordings", () =>
      this.pool.query('DELETE FROM recordings WHERE portal_key = $1', [portalKeyOf(this.secret, portal)]),
    );
    return rowCount ?? 0;
  }

  async deleteStoredBefore(before: number): Promise<number> {
    const { rowCount } = await io('delete old recordings', () =>
      this.pool.query('DELETE FROM recordings WHERE stored_at < $1', [before]),
    );
    return rowCount ?? 0;
  }
}

async function io<T>(doing: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (cause) {
    throw new RecordingStoreError('RECORDING_IO', `could not ${doing}`, { cause });
  }
}

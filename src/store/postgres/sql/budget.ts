/**
 * The portal's shared leaky bucket (a row per portal), on the database's clock so every
 * instance drains it alike: lock its row, drain it to now, add one if that stays within the
 * capacity. A few round trips per request, which at the portal's rate of a few requests per
 * second costs nothing.
 */
import type { RateLimit } from '../../../bitrix/index.ts';
import { drained, waitToFit } from '../../../kit/index.ts';
import type { Queryable } from './queryable.ts';

const dbNowMs = 'extract(epoch FROM clock_timestamp()) * 1000';

export async function ensureBucket(db: Queryable, memberId: string): Promise<void> {
  await db.query(
    `INSERT INTO rate_buckets (member_id, level, updated_at) VALUES ($1, 0, ${dbNowMs})
     ON CONFLICT (member_id) DO NOTHING`,
    [memberId],
  );
}

/** 0 when a request was taken; else how many ms to wait before asking again. */
export async function takeBudget(
  db: Queryable,
  memberId: string,
  limit: RateLimit,
  headroom: number,
): Promise<{ waitMs: number; found: boolean }> {
  const row = await db.query<{ level: number; updated_at: number }>(
    'SELECT level, updated_at FROM rate_buckets WHERE member_id = $1 FOR UPDATE',
    [memberId],
  );
  // Read after the lock is ours: the time another instance held it must drain too.
  const clock = await db.query<{ ms: number }>(`SELECT (${dbNowMs})::float8 AS ms`);
  const b = row.rows[0];
  const now = clock.rows[0]?.ms ?? 0;
  if (!b) return { waitMs: 1, found: false };
  const at = Math.max(b.updated_at, now);
  const level = drained(b.level, at - b.updated_at, limit.rate);
  const waitMs = waitToFit(level, 1, Math.max(1, limit.burst - headroom), limit.rate);
  if (waitMs > 0) return { waitMs, found: true };
  await db.query('UPDATE rate_buckets SET level = $2, updated_at = $3 WHERE member_id = $1', [
    memberId,
    level + 1,
    at,
  ]);
  return { waitMs: 0, found: true };
}

/** The portal said it is over its limit: the bucket is full, whatever this side counted. */
export async function fillBudget(db: Queryable, memberId: string, limit: RateLimit): Promise<void> {
  await db.query(
    `INSERT INTO rate_buckets (member_id, level, updated_at) VALUES ($1, $2, ${dbNowMs})
     ON CONFLICT (member_id) DO UPDATE SET level = greatest(rate_buckets.level, excluded.level),
       updated_at = greatest(rate_buckets.updated_at, excluded.updated_at)`,
    [memberId, limit.burst],
  );
}

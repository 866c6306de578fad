/** A portal's OAuth pair: a JSON string in the column when sealed, the object itself when not. */
import type { PortalTokens } from '../../../bitrix/index.ts';
import { plainSealer, type Sealer } from '../../sealer.ts';
import type { Queryable } from './queryable.ts';

export async function readTokens(
  db: Queryable,
  sealer: Sealer,
  memberId: string,
): Promise<PortalTokens | undefined> {
  const { rows } = await db.query<{ tokens: PortalTokens | string }>(
    'SELECT tokens FROM portal_tokens WHERE member_id = $1',
    [memberId],
  );
  const stored = rows[0]?.tokens;
  return typeof stored === 'string' ? (JSON.parse(sealer.open(stored)) as PortalTokens) : stored;
}

export async function saveTokens(
  db: Queryable,
  sealer: Sealer,
  memberId: string,
  tokens: PortalTokens,
  now: number,
): Promise<void> {
  await db.query(
    `INSERT INTO portal_tokens (member_id, tokens, updated_at) VALUES ($1, $2, $3)
     ON CONFLICT (member_id) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at`,
    [
      memberId,
      sealer === plainSealer ? JSON.stringify(tokens) : JSON.stringify(sealer.seal(JSON.stringify(tokens))),
      now,
    ],
  );
}

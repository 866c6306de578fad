/**
 * Calls claimed whole by one instance under a lease (`outbox_calls`), in the manner of
 * graphile-worker's job claim: the owner's own leases are renewed; then free calls with open
 * entries (never claimed, released, or whose holder's lease ran out) are locked with SKIP LOCKED,
 * so two instances claiming at once take different calls without waiting on each other.
 */
import type { OutboxEntry } from '../../types.ts';
import { toEntry, type EntryRow } from './entries.ts';
import { OPEN, type Queryable } from './queryable.ts';

export async function claimCalls(
  db: Queryable,
  c: { portalId: string; owner: string; leaseMs: number; limit: number; now: number },
): Promise<OutboxEntry[]> {
  const { portalId, owner, now } = c;
  const until = now + c.leaseMs;
  await db.query('UPDATE outbox_calls SET lease_until = $3 WHERE portal_id = $1 AND claimed_by = $2', [
    portalId,
    owner,
    until,
  ]);
  const claimed = await db.query<{ call_key: string }>(
    `WITH free AS (
       SELECT c.call_key FROM outbox_calls c
       WHERE c.portal_id = $1
         AND (c.claimed_by IS NULL OR c.lease_until < $3)
         AND c.call_key IN (SELECT call_key FROM outbox_entries WHERE portal_id = $1 AND ${OPEN})
       ORDER BY c.created_at, c.call_key
       LIMIT $5
       FOR UPDATE OF c SKIP LOCKED
     )
     UPDATE outbox_calls c SET claimed_by = $2, lease_until = $4
     FROM free WHERE c.portal_id = $1 AND c.call_key = free.call_key
     RETURNING c.call_key`,
    [portalId, owner, now, until, Math.max(0, Math.floor(c.limit))],
  );
  // A call claimed just now is in flight nowhere: what its row says is in flight was sent by a
  // holder that died (or by a process before a restart). The same repeat-safety rules as a
  // restart apply to it.
  const takenOver = claimed.rows.map((r) => r.call_key);
  if (takenOver.length > 0) {
    await db.query(
      `UPDATE outbox_entries SET status = 'pending', updated_at = $3
       WHERE portal_id = $1 AND call_key = ANY($2::text[]) AND status = 'in_flight'`,
      [portalId, takenOver, now],
    );
  }
  const { rows } = await db.query<EntryRow>(
    `SELECT e.* FROM outbox_entries e
     WHERE e.portal_id = $1
       AND e.call_key IN (SELECT call_key FROM outbox_entries WHERE portal_id = $1 AND ${OPEN})
       AND EXISTS (SELECT 1 FROM outbox_calls c
                   WHERE c.portal_id = e.portal_id AND c.call_key = e.call_key AND c.claimed_by = $2)
     ORDER BY e.call_key, e.seq`,
    [portalId, owner],
  );
  return rows.map(toEntry);
}

export async function releaseCalls(
  db: Queryable,
  portalId: string,
  owner: string,
  callKeys: readonly string[],
): Promise<void> {
  await db.query(
    `UPDATE outbox_calls SET claimed_by = NULL, lease_until = NULL
     WHERE portal_id = $1 AND claimed_by = $2 AND call_key = ANY($3::text[])`,
    [portalId, owner, [...callKeys]],
  );
}

/** The portals table: one row per installed portal, its secrets sealed at rest. */
import type { PortalRecord } from '../../types.ts';
import type { Sealer } from '../../sealer.ts';
import { toPortal, type PortalRow } from '../../rows.ts';
import { OPEN, type Queryable } from './queryable.ts';

export async function savePortal(
  db: Queryable,
  sealer: Sealer,
  portal: PortalRecord,
  now: number,
): Promise<void> {
  await db.query(
    `INSERT INTO portals (member_id, domain, client_endpoint, auth_kind, webhook_url, application_token,
       created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
     ON CONFLICT (member_id) DO UPDATE SET domain = excluded.domain,
       client_endpoint = excluded.client_endpoint, auth_kind = excluded.auth_kind,
       webhook_url = excluded.webhook_url, application_token = excluded.application_token,
       updated_at = excluded.updated_at`,
    [
      portal.memberId,
      portal.domain,
      portal.clientEndpoint,
      portal.authKind,
      portal.webhookUrl === null ? null : sealer.seal(portal.webhookUrl),
      portal.applicationToken === null ? null : sealer.seal(portal.applicationToken),
      now,
    ],
  );
}

export async function getPortal(
  db: Queryable,
  sealer: Sealer,
  memberId: string,
): Promise<PortalRecord | undefined> {
  const { rows } = await db.query<PortalRow>('SELECT * FROM portals WHERE member_id = $1', [memberId]);
  return rows[0] ? toPortal(rows[0], sealer) : undefined;
}

export async function listPortals(db: Queryable, sealer: Sealer): Promise<PortalRecord[]> {
  const { rows } = await db.query<PortalRow>('SELECT * FROM portals ORDER BY member_id');
  return rows.map((r) => toPortal(r, sealer));
}

/** Everything of the portal goes; its open entries stay, dropped, for the record. */
export async function deletePortal(db: Queryable, memberId: string, now: number): Promise<void> {
  await db.query('DELETE FROM portals WHERE member_id = $1', [memberId]);
  await db.query('DELETE FROM portal_tokens WHERE member_id = $1', [memberId]);
  await db.query('DELETE FROM engine_meta WHERE portal_id = $1', [memberId]);
  await db.query('DELETE FROM engine_shards WHERE portal_id = $1', [memberId]);
  await db.query('DELETE FROM outbox_calls WHERE portal_id = $1', [memberId]);
  await db.query('DELETE FROM rate_buckets WHERE member_id = $1', [memberId]);
  await db.query('DELETE FROM crm_phone_index WHERE portal_id = $1', [memberId]);
  await db.query(
    `UPDATE outbox_entries SET status = 'dropped', note = 'the app was uninstalled', updated_at = $1
     WHERE portal_id = $2 AND ${OPEN}`,
    [now, memberId],
  );
}

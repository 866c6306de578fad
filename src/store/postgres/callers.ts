/** The CRM phone index on PostgreSQL, as on SQLite (`src/store/sqlite/callers.ts`). */
import type { Pool, PoolClient } from 'pg';
import type { CallerIndex, CallerRecord } from '../types.ts';
import { toCaller as toRecord, type CallerRow as Row } from '../rows.ts';

/** `run` and `write` are the store's: a closed store refused, errors as StoreErrors, one transaction. */
export function postgresCallers(
  pool: Pool,
  run: <T>(doing: string, fn: () => Promise<T>) => Promise<T>,
  write: <T>(site: string, fn: (db: PoolClient) => Promise<T>) => Promise<T>,
): CallerIndex {
  const read = async (sql: string, params: unknown[]): Promise<CallerRecord[]> =>
    (await pool.query<Row>(sql, params)).rows.map(toRecord);
  return {
    get: (portalId, phone) =>
      run('read the CRM phone index', async () => {
        const rows = await read('SELECT * FROM crm_phone_index WHERE portal_id = $1 AND phone = $2', [
          portalId,
          phone,
        ]);
        return rows[0];
      }),
    put: (portalId, records) =>
      records.length === 0
        ? run('write the CRM phone index', () => Promise.resolve())
        : write('crm index', async (db) => {
            for (const r of records)
              await db.query(
                `INSERT INTO crm_phone_index (portal_id, phone, entity_type, entity_id, responsible_id,
                   timeman_status, verified_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (portal_id, phone) DO UPDATE SET entity_type = excluded.entity_type,
                   entity_id = excluded.entity_id, responsible_id = excluded.responsible_id,
                   timeman_status = excluded.timeman_status, verified_at = excluded.verified_at`,
                [portalId, r.phone, r.entityType, r.entityId, r.responsibleId, r.timemanStatus, r.verifiedAt],
              );
          }),
    remove: (portalId, phones) =>
      run('write the CRM phone index', async () => {
        if (phones.length === 0) return;
        await pool.query('DELETE FROM crm_phone_index WHERE portal_id = $1 AND phone = ANY($2::text[])', [
          portalId,
          phones,
        ]);
      }),
    ofEntity: (portalId, entityType, entityId) =>
      run('read the CRM phone index', () =>
        read(
          `SELECT * FROM crm_phone_index WHERE portal_id = $1 AND entity_type = $2 AND entity_id = $3
           ORDER BY phone`,
          [portalId, entityType, entityId],
        ),
      ),
    oldest: (portalId, before, limit) =>
      run('read the CRM phone index', () =>
        read(
          `SELECT * FROM crm_phone_index WHERE portal_id = $1 AND verified_at < $2
           ORDER BY verified_at, phone LIMIT $3`,
          [portalId, before, limit],
        ),
      ),
    count: (portalId) =>
      run('read the CRM phone index', async () => {
        const { rows } = await pool.query<{ n: number }>(
          'SELECT count(*)::bigint AS n FROM crm_phone_index WHERE portal_id = $1',
          [portalId],
        );
        return rows[0]?.n ?? 0;
      }),
  };
}

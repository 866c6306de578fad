/** The CRM phone index on SQLite: one table, one statement per operation. */
import type { Database } from 'better-sqlite3';
import type { CallerIndex } from '../types.ts';
import { toCaller as toRecord, type CallerRow as Row } from '../rows.ts';

/**
 * `run` is the store's: it refuses a closed store and turns driver errors into StoreErrors;
 * `write` runs its function in one write transaction.
 */
export function sqliteCallers(
  db: Database,
  run: <T>(doing: string, fn: () => T) => Promise<T>,
  write: <T>(site: string, fn: () => T) => T,
): CallerIndex {
  const get = db.prepare<[string, string], Row>(
    'SELECT * FROM crm_phone_index WHERE portal_id = ? AND phone = ?',
  );
  const put = db.prepare(
    `INSERT INTO crm_phone_index (portal_id, phone, entity_type, entity_id, responsible_id,
       timeman_status, verified_at)
     VALUES (@portal_id, @phone, @entity_type, @entity_id, @responsible_id, @timeman_status, @verified_at)
     ON CONFLICT (portal_id, phone) DO UPDATE SET entity_type = excluded.entity_type,
       entity_id = excluded.entity_id, responsible_id = excluded.responsible_id,
       timeman_status = excluded.timeman_status, verified_at = excluded.verified_at`,
  );
  const remove = db.prepare<[string, string]>(
    'DELETE FROM crm_phone_index WHERE portal_id = ? AND phone = ?',
  );
  const ofEntity = db.prepare<[string, string, number], Row>(
    `SELECT * FROM crm_phone_index WHERE portal_id = ? AND entity_type = ? AND entity_id = ?
     ORDER BY phone`,
  );
  const oldest = db.prepare<[string, number, number], Row>(
    `SELECT * FROM crm_phone_index WHERE portal_id = ? AND verified_at < ?
     ORDER BY verified_at, phone LIMIT ?`,
  );
  const count = db.prepare<[string], { n: number }>(
    'SELECT count(*) AS n FROM crm_phone_index WHERE portal_id = ?',
  );
  return {
    get: (portalId, phone) =>
      run('read the CRM phone index', () => {
        const row = get.get(portalId, phone);
        return row ? toRecord(row) : undefined;
      }),
    put: (portalId, records) =>
      run('write the CRM phone index', () => {
        if (records.length === 0) return;
        write('crm index', () => {
          for (const r of records)
            put.run({
              portal_id: portalId,
              phone: r.phone,
              entity_type: r.entityType,
              entity_id: r.entityId,
              responsible_id: r.responsibleId,
              timeman_status: r.timemanStatus,
              verified_at: r.verifiedAt,
            });
        });
      }),
    remove: (portalId, phones) =>
      run('write the CRM phone index', () => {
        if (phones.length === 0) return;
        write('crm index', () => {
          for (const phone of phones) remove.run(portalId, phone);
        });
      }),
    ofEntity: (portalId, entityType, entityId) =>
      run('read the CRM phone index', () => ofEntity.all(portalId, entityType, entityId).map(toRecord)),
    oldest: (portalId, before, limit) =>
      run('read the CRM phone index', () => oldest.all(portalId, before, limit).map(toRecord)),
    count: (portalId) => run('read the CRM phone index', () => count.get(portalId)?.n ?? 0),
  };
}

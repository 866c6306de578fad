import { StoreError, type StoreErrorCode } from '../errors.ts';

/**
 * PostgreSQL's SQLSTATE codes (https://www.postgresql.org/docs/15/errcodes-appendix.html) → ours.
 * Exact codes first, then the class (the first two characters).
 */
const exact: Readonly<Record<string, StoreErrorCode>> = {
  '53100': 'STORE_FULL', // disk_full
  '53200': 'STORE_UNAVAILABLE', // out_of_memory
  '53300': 'STORE_BUSY', // too_many_connections
  '25006': 'STORE_READONLY', // read_only_sql_transaction (a standby, or default_transaction_read_only)
  '42501': 'STORE_READONLY', // insufficient_privilege: the role may not write
  '40001': 'STORE_BUSY', // serialization_failure
  '40P01': 'STORE_BUSY', // deadlock_detected
  '55P03': 'STORE_BUSY', // lock_not_available (lock_timeout)
  '57014': 'STORE_BUSY', // query_canceled (statement_timeout)
  '57P01': 'STORE_UNAVAILABLE', // admin_shutdown
  '57P02': 'STORE_UNAVAILABLE', // crash_shutdown
  '57P03': 'STORE_UNAVAILABLE', // cannot_connect_now (starting up)
  '3D000': 'STORE_UNAVAILABLE', // invalid_catalog_name: no such database
  XX001: 'STORE_CORRUPT', // data_corrupted
  XX002: 'STORE_CORRUPT', // index_corrupted
};

const byClass: Readonly<Record<string, StoreErrorCode>> = {
  '08': 'STORE_UNAVAILABLE', // connection exception
  '28': 'STORE_UNAVAILABLE', // invalid authorization
  '53': 'STORE_FULL', // insufficient resources (disk, memory, connections: exact codes above)
  '58': 'STORE_UNAVAILABLE', // system error (I/O)
};

/** Node's socket errors: the server cannot be reached. */
const network = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EPIPE',
]);

/** Turns whatever `pg` threw into a StoreError (a StoreError passes through). */
export function toStoreError(e: unknown, doing: string): StoreError {
  if (e instanceof StoreError) return e;
  const code = (e as { code?: unknown }).code;
  const message = e instanceof Error ? e.message : 'unknown failure';
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    const mapped = exact[code] ?? byClass[code.slice(0, 2)] ?? 'STORE_FAILED';
    return new StoreError(mapped, `${doing}: ${code} ${message}`, { cause: e });
  }
  if (typeof code === 'string' && network.has(code)) {
    return new StoreError('STORE_UNAVAILABLE', `${doing}: the database cannot be reached (${code})`, {
      cause: e,
    });
  }
  if (/pool after calling end|Client was closed|not queryable/i.test(message)) {
    return new StoreError('STORE_CLOSED', `${doing}: the store is closed`, { cause: e });
  }
  if (/Connection terminated|timeout exceeded when trying to connect/i.test(message)) {
    return new StoreError('STORE_UNAVAILABLE', `${doing}: ${message}`, { cause: e });
  }
  return new StoreError('STORE_FAILED', `${doing}: ${message}`, { cause: e });
}

/**
 * Telling a PostgreSQL store from another without loading its module: the driver (`pg`) costs a
 * start on SQLite, where it is never used, about a tenth of the start's CPU. The class carries the
 * brand; this module imports nothing but types.
 */
import type { Store } from '../types.ts';
import type { PostgresStore } from './store.ts';

export const postgresBrand: unique symbol = Symbol.for('b24-bridge.store.postgres');

export function isPostgresStore(store: Store): store is PostgresStore {
  return postgresBrand in store;
}

/** The store: portals, tokens, engine state, the input journal and the outbox. */
export type * from './types.ts';
export { StoreError, isStoreError, storeErrorCodes, type StoreErrorCode } from './errors.ts';
export { SqliteStore, defaultDatabasePath, type SqliteStoreOptions } from './sqlite/index.ts';

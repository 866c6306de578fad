export { PostgresStore, type PostgresStoreOptions } from './store.ts';
export { appliedMigrations, loadMigrations, migrate, type AppliedMigration } from './migrate.ts';
export { LeaderLock, type LeaderLockEvents, type LeaderLockOptions } from './leader.ts';
export { toStoreError as toPostgresStoreError } from './errors.ts';

export { PostgresStore } from './store.ts';
export { appliedMigrations, loadMigrations } from './migrate.ts';
export { LeaderLock } from './leader.ts';
export { toStoreError as toPostgresStoreError } from './errors.ts';

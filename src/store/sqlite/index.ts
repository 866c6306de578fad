export { SqliteStore, type SqliteStoreOptions } from './store.ts';
export {
  appliedMigrations,
  loadMigrations,
  migrate,
  type AppliedMigration,
  type Migration,
} from './migrate.ts';

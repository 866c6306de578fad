export { SqliteStore } from './store.ts';
export { appliedMigrations, loadMigrations } from './migrate.ts';

/**
 * The store: portals, tokens, engine state, the input journal and the outbox. PostgreSQL's store
 * (and its driver) is loaded only when configured: import it from `./postgres/index.ts`.
 */
import { SqliteStore } from './sqlite/index.ts';
import type { Store } from './types.ts';
import type { Sealer } from './sealer.ts';

export type * from './types.ts';
export { StoreError } from './errors.ts';
export { SqliteStore } from './sqlite/index.ts';
export { isPostgresStore } from './postgres/brand.ts';

/** The `store` section of the configuration (src/config/schema.ts), as far as opening needs it. */
type StoreSettings = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

export { aesSealer, sealerFromEnv, type Sealer } from './sealer.ts';

/**
 * The configured store: SQLite in a file (the default), or PostgreSQL for several instances.
 * `sealer` seals the secrets it keeps (see `sealerFromEnv`).
 */
export async function openStore(config: { store: StoreSettings }, sealer?: Sealer): Promise<Store> {
  const s = config.store;
  if (s.kind !== 'postgres') return SqliteStore.open({ path: s.path, sealer });
  const { PostgresStore } = await import('./postgres/index.ts');
  return PostgresStore.open({ url: s.url, sealer });
}

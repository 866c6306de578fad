/**
 * How the PostgreSQL store talks to its pool: reads that turn any failure into a StoreError, write
 * transactions on one connection (with a failpoint for tests, and a keep-or-roll-back decision
 * from the result), and session advisory locks the server drops if this process dies.
 */
import type pg from 'pg';
import { StoreError } from '../errors.ts';
import { toStoreError } from './errors.ts';

export class Transactions {
  closed = false;

  constructor(
    readonly pool: pg.Pool,
    private readonly failpoint: ((site: string) => void) | undefined,
  ) {}

  async run<T>(doing: string, fn: () => Promise<T> | T): Promise<T> {
    if (this.closed) throw new StoreError('STORE_CLOSED', `${doing}: the store is closed`);
    try {
      return await fn();
    } catch (e) {
      throw toStoreError(e, doing);
    }
  }

  /**
   * A write transaction on one connection. `keep` decides from the result whether to commit (a
   * step refused as a duplicate or stale changes nothing, so it rolls back).
   */
  write<T>(site: string, fn: (db: pg.PoolClient) => Promise<T>, keep?: (value: T) => boolean): Promise<T> {
    return this.run(`write ${site}`, async () => {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const out = await fn(client);
        if (keep && !keep(out)) {
          await client.query('ROLLBACK');
          return out;
        }
        this.failpoint?.(site);
        await client.query('COMMIT');
        return out;
      } catch (e) {
        await client.query('ROLLBACK').catch((rollback: unknown) => {
          broken = rollback instanceof Error ? rollback : new Error('rollback failed');
        });
        throw e;
      } finally {
        // A connection whose rollback failed is broken: the pool discards it.
        client.release(broken);
      }
    });
  }

  /** Runs `fn` holding a session advisory lock; keyed by schema too (advisory locks are per database). */
  async withAdvisoryLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreError('STORE_CLOSED', 'lock: the store is closed');
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw toStoreError(e, 'take a lock');
    }
    try {
      await client.query(
        "SELECT pg_advisory_lock(hashtext('b24-bridge:' || current_schema() || ':' || $1))",
        [name],
      );
    } catch (e) {
      // Not taken (the server went away while it waited): the connection goes back, discarded.
      client.release(e instanceof Error ? e : true);
      throw toStoreError(e, 'take a lock');
    }
    try {
      return await fn();
    } finally {
      await client
        .query("SELECT pg_advisory_unlock(hashtext('b24-bridge:' || current_schema() || ':' || $1))", [name])
        .then(
          () => client.release(),
          (e: unknown) => client.release(e instanceof Error ? e : true),
        );
    }
  }
}

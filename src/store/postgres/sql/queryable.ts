import type pg from 'pg';

/** What a statement needs: the pool (one-off reads) or a transaction's client. */
export type Queryable = Pick<pg.PoolClient, 'query'>;

/** JSONB parameters go as text: `pg` would send a JS array as a PostgreSQL array. */
export const json = (v: unknown): string => JSON.stringify(v ?? null);

/** An outbox entry still to deliver. */
export const OPEN = "status IN ('pending', 'in_flight')";

import { randomBytes } from 'node:crypto';
import pg, { type PoolClient } from 'pg';
import type { PortalTokens, RateLimit, SharedBudget, TokenStore } from '../../bitrix/index.ts';
import { StoreError } from '../errors.ts';
import type {
  Backlog,
  CallerIndex,
  Coordination,
  EntryUpdate,
  OutboxEntry,
  PortalRecord,
  StepCommit,
  StepOutcome,
  Store,
  StoredEngine,
} from '../types.ts';
import { toStoreError } from './errors.ts';
import { plainSealer, type Sealer } from '../sealer.ts';
import { toEntry as entryOf, toPortal, type EntryRow as Row, type PortalRow } from '../rows.ts';
import { loadMigrations, migrate } from './migrate.ts';
import { postgresCallers } from './callers.ts';

type EntryRow = Row<unknown>;
const toEntry = (r: EntryRow) => entryOf(r, (v) => v ?? null);

export interface PostgresStoreOptions {
  /** `postgres://user@host:5432/database`. A secret (it may hold a password): never logged. */
  url: string;
  /**
   * The schema the bridge's tables live in (created if missing), instead of the role's default
   * search path. Tests give each run its own; several bridges may share a database this way.
   */
  schema?: string | undefined;
  /** Seals tokens, application tokens and webhook URLs at rest (`sealerFromEnv`). Default: stored as they are. */
  sealer?: Sealer | undefined;
  /** Connections in the pool. Default 10. */
  poolSize?: number | undefined;
  /** How long to wait for a connection before STORE_UNAVAILABLE. Default 5 s. */
  connectTimeoutMs?: number | undefined;
  now?: (() => number) | undefined;
  /** As in SQLite: called inside every write transaction before it commits; a throw rolls it back. */
  failpoint?: ((site: string) => void) | undefined;
}

/** JSONB parameters go as text: `pg` would send a JS array as a PostgreSQL array. */
const json = (v: unknown): string => JSON.stringify(v ?? null);

/**
 * BIGINT (epoch ms, ids, counts) as numbers: every value the bridge keeps there is far below 2^53.
 * Per pool, not `pg.types.setTypeParser`, which would change every other `pg` user in the process.
 */
const INT8 = 20;
const builtinParser = pg.types.getTypeParser.bind(pg.types) as (oid: number, format?: string) => unknown;
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8
      ? (v: string) => Number(v)
      : builtinParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

const OPEN = "status IN ('pending', 'in_flight')";

/** The NOTIFY channel of outbox changes; payload `<schema> TAB <portal> TAB <store id>`. */
const CHANNEL = 'b24_bridge_outbox';
const notifySql = "SELECT pg_notify('b24_bridge_outbox', current_schema() || chr(9) || $1 || chr(9) || $2)";

export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * The store on PostgreSQL, for several bridge instances on one database. Each method is one
 * transaction where it writes, like SQLite's. What several instances need on top:
 *
 * - Engine steps: every `commitStep` of a portal locks the portal's `engine_meta` row, so steps of
 *   all instances are applied one at a time, and a step computed from an older revision than the
 *   stored one is refused as `stale` (the outbox reloads the shards changed since and steps again).
 *   A per-portal lock rather than per shard: routing and presence read calls of every shard.
 * - Delivery: calls are claimed whole with `FOR UPDATE SKIP LOCKED` and a lease (`outbox_calls`).
 * - `coordination`: the portal's rate budget (a row per portal) and single-flight token refresh
 *   (an advisory lock), for the Bitrix24 client.
 */
export class PostgresStore implements Store {
  readonly tokens: TokenStore;
  readonly callers: CallerIndex;
  readonly shared = true;
  readonly coordination: Coordination;
  private readonly now: () => number;
  private readonly sealer: Sealer;
  private closed = false;
  /** Portals whose rate bucket row is known to exist. */
  private readonly buckets = new Set<string>();
  /** Tells this store's own notifications from other instances'. */
  private readonly id = randomBytes(6).toString('hex');
  private readonly watchers = new Map<string, Set<() => void>>();
  private listener: Promise<pg.Client> | null = null;
  private relisten: NodeJS.Timeout | null = null;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly options: PostgresStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.sealer = options.sealer ?? plainSealer;
    this.callers = postgresCallers(
      pool,
      (doing, fn) => this.run(doing, fn),
      (site, fn) => this.write(site, fn),
    );
    this.tokens = {
      get: (memberId) =>
        this.run('read tokens', async () => {
          const { rows } = await this.pool.query<{ tokens: PortalTokens | string }>(
            'SELECT tokens FROM portal_tokens WHERE member_id = $1',
            [memberId],
          );
          const stored = rows[0]?.tokens;
          // Sealed tokens are a JSON string in the column; plain ones (no key) the object itself.
          return typeof stored === 'string' ? (JSON.parse(this.sealer.open(stored)) as PortalTokens) : stored;
        }),
      save: (memberId, tokens) =>
        this.write('tokens', async (c) => {
          await c.query(
            `INSERT INTO portal_tokens (member_id, tokens, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (member_id) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at`,
            [
              memberId,
              this.sealer === plainSealer
                ? JSON.stringify(tokens)
                : JSON.stringify(this.sealer.seal(JSON.stringify(tokens))),
              this.now(),
            ],
          );
        }),
    };
    const budget: SharedBudget = {
      take: (memberId, limit, headroom) => this.takeBudget(memberId, limit, headroom),
      fill: (memberId, limit) => this.fillBudget(memberId, limit),
    };
    this.coordination = {
      budget,
      refreshLock: { withLock: (memberId, fn) => this.withAdvisoryLock(`refresh:${memberId}`, fn) },
    };
  }

  /** Connects, creates the schema if asked, and brings it up to date. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const schema = options.schema;
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      types,
      ...(schema === undefined ? {} : { options: `-c search_path=${quoteIdent(schema)}` }),
    });
    // An idle connection that breaks (a restarted server) must not take the process down: the next
    // query gets a fresh one, or its own error.
    pool.on('error', () => undefined);
    try {
      const client = await pool.connect();
      try {
        if (schema !== undefined) {
          // IF NOT EXISTS still races with an instance creating it at the same moment: that is fine.
          await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`).catch((e: unknown) => {
            const code = (e as { code?: unknown }).code;
            if (code !== '23505' && code !== '42P06') throw e;
          });
        }
        await migrate(client, loadMigrations(), (options.now ?? Date.now)());
      } finally {
        client.release();
      }
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw toStoreError(e, 'open the PostgreSQL store');
    }
    return new PostgresStore(pool, options);
  }

  /** The connection pool, for diagnostics and tests. */
  get database(): pg.Pool {
    return this.pool;
  }

  savePortal(portal: PortalRecord, now: number): Promise<void> {
    return this.write('portal', async (c) => {
      await c.query(
        `INSERT INTO portals (member_id, domain, client_endpoint, auth_kind, webhook_url, application_token,
           created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
         ON CONFLICT (member_id) DO UPDATE SET domain = excluded.domain,
           client_endpoint = excluded.client_endpoint, auth_kind = excluded.auth_kind,
           webhook_url = excluded.webhook_url, application_token = excluded.application_token,
           updated_at = excluded.updated_at`,
        [
          portal.memberId,
          portal.domain,
          portal.clientEndpoint,
          portal.authKind,
          portal.webhookUrl === null ? null : this.sealer.seal(portal.webhookUrl),
          portal.applicationToken === null ? null : this.sealer.seal(portal.applicationToken),
          now,
        ],
      );
    });
  }

  getPortal(memberId: string): Promise<PortalRecord | undefined> {
    return this.run('read portal', async () => {
      const { rows } = await this.pool.query<PortalRow>('SELECT * FROM portals WHERE member_id = $1', [
        memberId,
      ]);
      return rows[0] ? toPortal(rows[0], this.sealer) : undefined;
    });
  }

  listPortals(): Promise<PortalRecord[]> {
    return this.run('list portals', async () => {
      const { rows } = await this.pool.query<PortalRow>('SELECT * FROM portals ORDER BY member_id');
      return rows.map((r) => toPortal(r, this.sealer));
    });
  }

  deletePortal(memberId: string, now: number): Promise<void> {
    return this.write('delete portal', async (c) => {
      await c.query('DELETE FROM portals WHERE member_id = $1', [memberId]);
      await c.query('DELETE FROM portal_tokens WHERE member_id = $1', [memberId]);
      await c.query('DELETE FROM engine_meta WHERE portal_id = $1', [memberId]);
      await c.query('DELETE FROM engine_shards WHERE portal_id = $1', [memberId]);
      await c.query('DELETE FROM outbox_calls WHERE portal_id = $1', [memberId]);
      await c.query('DELETE FROM rate_buckets WHERE member_id = $1', [memberId]);
      await c.query('DELETE FROM crm_phone_index WHERE portal_id = $1', [memberId]);
      await c.query(
        `UPDATE outbox_entries SET status = 'dropped', note = 'the app was uninstalled', updated_at = $1
         WHERE portal_id = $2 AND ${OPEN}`,
        [now, memberId],
      );
    });
  }

  loadEngine(portalId: string, sinceRevision = -1): Promise<StoredEngine | undefined> {
    return this.run('load engine', async () => {
      // One snapshot for the counter and the shards, so they agree.
      const client = await this.pool.connect();
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const meta = await client.query<{ version: number; seq: number; revision: number }>(
          'SELECT version, seq, revision FROM engine_meta WHERE portal_id = $1',
          [portalId],
        );
        const m = meta.rows[0];
        if (!m) {
          await client.query('COMMIT');
          return undefined;
        }
        const { rows } = await client.query<{ shard: string; calls: Record<string, unknown> }>(
          'SELECT shard, calls FROM engine_shards WHERE portal_id = $1 AND revision > $2',
          [portalId, sinceRevision],
        );
        await client.query('COMMIT');
        const shards: StoredEngine['shards'] = {};
        for (const row of rows) shards[row.shard] = row.calls;
        return { version: m.version, seq: m.seq, revision: m.revision, shards };
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
    });
  }

  commitStep(c: StepCommit): Promise<StepOutcome> {
    return this.write(
      'step',
      async (db): Promise<StepOutcome> => {
        // The portal's row lock: every instance's steps of this portal pass here one at a time.
        await db.query(
          `INSERT INTO engine_meta (portal_id, version, seq, revision, updated_at) VALUES ($1, $2, $3, 0, $4)
           ON CONFLICT (portal_id) DO NOTHING`,
          [c.portalId, c.engine.version, c.engine.seq, c.now],
        );
        const meta = await db.query<{ revision: number }>(
          'SELECT revision FROM engine_meta WHERE portal_id = $1 FOR UPDATE',
          [c.portalId],
        );
        const current = meta.rows[0]?.revision ?? 0;
        const { input } = c;
        if (input !== null && input.dedupeKey !== null) {
          const seen = await db.query('SELECT 1 FROM inputs WHERE portal_id = $1 AND dedupe_key = $2', [
            c.portalId,
            input.dedupeKey,
          ]);
          if (seen.rowCount !== 0) return { stored: false, reason: 'duplicate' };
        }
        if (c.expectedRevision !== undefined && c.expectedRevision !== current) {
          return { stored: false, reason: 'stale', revision: current };
        }
        if (input !== null) {
          await db.query(
            'INSERT INTO inputs (portal_id, dedupe_key, type, payload, received_at) VALUES ($1, $2, $3, $4, $5)',
            [c.portalId, input.dedupeKey, input.type, json(input.payload), c.now],
          );
        }
        const revision = current + 1;
        await db.query(
          'UPDATE engine_meta SET version = $2, seq = $3, revision = $4, updated_at = $5 WHERE portal_id = $1',
          [c.portalId, c.engine.version, c.engine.seq, revision, c.now],
        );
        const shards = Object.entries(c.engine.shards);
        if (shards.length > 0) {
          await db.query(
            `INSERT INTO engine_shards (portal_id, shard, calls, revision, updated_at)
             SELECT $1, s.shard, s.calls::jsonb, $4, $5 FROM unnest($2::text[], $3::text[]) AS s (shard, calls)
             ON CONFLICT (portal_id, shard) DO UPDATE SET calls = excluded.calls, revision = excluded.revision,
               updated_at = excluded.updated_at`,
            [c.portalId, shards.map(([k]) => k), shards.map(([, v]) => JSON.stringify(v)), revision, c.now],
          );
        }
        if (c.newEntries.length > 0) {
          const e = c.newEntries;
          // A replayed step re-emits the same op ids: the unique key makes it add nothing.
          await db.query(
            `INSERT INTO outbox_entries (portal_id, call_key, op_id, seq, lane, kind, payload, status,
               next_attempt_at, created_at, updated_at)
             SELECT $1, n.call_key, n.op_id, n.seq, n.lane, n.kind, n.payload::jsonb, 'pending', n.next_at, $8, $8
             FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $9::bigint[])
               WITH ORDINALITY AS n (call_key, op_id, seq, lane, kind, payload, next_at, ord)
             ORDER BY n.ord
             ON CONFLICT (portal_id, op_id) DO NOTHING`,
            [
              c.portalId,
              e.map((x) => x.callKey),
              e.map((x) => x.opId),
              e.map((x) => x.seq),
              e.map((x) => x.lane),
              e.map((x) => x.kind),
              e.map((x) => json(x.payload)),
              c.now,
              e.map((x) => x.nextAttemptAt),
            ],
          );
          await db.query(
            `INSERT INTO outbox_calls (portal_id, call_key, created_at)
             SELECT DISTINCT $1, k, $3::bigint FROM unnest($2::text[]) AS k
             ON CONFLICT (portal_id, call_key) DO NOTHING`,
            [c.portalId, [...new Set(e.map((x) => x.callKey))], c.now],
          );
        }
        await applyUpdates(db, c.entryUpdates, c.now);
        // Delivered at commit (and only then): the instance holding the call looks at once.
        if (c.newEntries.length > 0) await db.query(notifySql, [c.portalId, this.id]);
        return { stored: true, revision };
      },
      (outcome) => outcome.stored,
    );
  }

  openCalls(portalId: string): Promise<OutboxEntry[]> {
    return this.run('read open calls', async () => {
      const { rows } = await this.pool.query<EntryRow>(
        `SELECT * FROM outbox_entries
         WHERE portal_id = $1 AND call_key IN (SELECT call_key FROM outbox_entries WHERE portal_id = $1 AND ${OPEN})
         ORDER BY call_key, seq`,
        [portalId],
      );
      return rows.map(toEntry);
    });
  }

  callEntries(portalId: string, callKey: string): Promise<OutboxEntry[]> {
    return this.run('read call', async () => {
      const { rows } = await this.pool.query<EntryRow>(
        'SELECT * FROM outbox_entries WHERE portal_id = $1 AND call_key = $2 ORDER BY seq',
        [portalId, callKey],
      );
      return rows.map(toEntry);
    });
  }

  updateEntries(updates: readonly EntryUpdate[], now: number): Promise<void> {
    if (updates.length === 0) return Promise.resolve();
    return this.write('entries', (db) => applyUpdates(db, updates, now));
  }

  /** Entries in flight of calls no live lease holds: their holder died (or there was none). */
  requeueInFlight(portalId: string, now: number): Promise<number> {
    return this.write('requeue', async (db) => {
      const { rowCount } = await db.query(
        `UPDATE outbox_entries e SET status = 'pending', updated_at = $2
         WHERE e.portal_id = $1 AND e.status = 'in_flight' AND NOT EXISTS (
           SELECT 1 FROM outbox_calls c WHERE c.portal_id = e.portal_id AND c.call_key = e.call_key
             AND c.claimed_by IS NOT NULL AND c.lease_until >= $2)`,
        [portalId, now],
      );
      return rowCount ?? 0;
    });
  }

  backlog(portalId: string): Promise<Backlog> {
    return this.run('read backlog', async () => {
      const { rows } = await this.pool.query<{ status: OutboxEntry['status']; n: number }>(
        'SELECT status, count(*) AS n FROM outbox_entries WHERE portal_id = $1 GROUP BY status',
        [portalId],
      );
      const counts = Object.fromEntries(rows.map((r) => [r.status, r.n])) as Partial<
        Record<OutboxEntry['status'], number>
      >;
      const oldest = await this.pool.query<{ at: number | null }>(
        `SELECT min(created_at) AS at FROM outbox_entries WHERE portal_id = $1 AND ${OPEN}`,
        [portalId],
      );
      return {
        pending: counts.pending ?? 0,
        inFlight: counts.in_flight ?? 0,
        failed: counts.failed ?? 0,
        dropped: counts.dropped ?? 0,
        oldestOpenAt: oldest.rows[0]?.at ?? null,
      };
    });
  }

  /**
   * In the manner of graphile-worker's job claim: the owner's own leases are renewed; then free
   * calls with open entries (never claimed, released, or whose holder's lease ran out) are locked
   * with SKIP LOCKED, so two instances claiming at once take different calls without waiting on
   * each other, and given to the owner. A call's in-flight entries taken over from a dead holder
   * go back to pending (the same repeat-safety rules as a restart apply).
   */
  claimCalls(
    portalId: string,
    owner: string,
    leaseMs: number,
    limit: number,
    now: number,
  ): Promise<OutboxEntry[]> {
    return this.write('claim', async (db) => {
      const until = now + leaseMs;
      await db.query('UPDATE outbox_calls SET lease_until = $3 WHERE portal_id = $1 AND claimed_by = $2', [
        portalId,
        owner,
        until,
      ]);
      const claimed = await db.query<{ call_key: string }>(
        `WITH free AS (
           SELECT c.call_key FROM outbox_calls c
           WHERE c.portal_id = $1
             AND (c.claimed_by IS NULL OR c.lease_until < $3)
             AND c.call_key IN (SELECT call_key FROM outbox_entries WHERE portal_id = $1 AND ${OPEN})
           ORDER BY c.created_at, c.call_key
           LIMIT $5
           FOR UPDATE OF c SKIP LOCKED
         )
         UPDATE outbox_calls c SET claimed_by = $2, lease_until = $4
         FROM free WHERE c.portal_id = $1 AND c.call_key = free.call_key
         RETURNING c.call_key`,
        [portalId, owner, now, until, Math.max(0, Math.floor(limit))],
      );
      // A call claimed just now is in flight nowhere: what its row says is in flight was sent by a
      // holder that died (or by a process before a restart).
      const takenOver = claimed.rows.map((r) => r.call_key);
      if (takenOver.length > 0) {
        await db.query(
          `UPDATE outbox_entries SET status = 'pending', updated_at = $3
           WHERE portal_id = $1 AND call_key = ANY($2::text[]) AND status = 'in_flight'`,
          [portalId, takenOver, now],
        );
      }
      const { rows } = await db.query<EntryRow>(
        `SELECT e.* FROM outbox_entries e
         WHERE e.portal_id = $1
           AND e.call_key IN (SELECT call_key FROM outbox_entries WHERE portal_id = $1 AND ${OPEN})
           AND EXISTS (SELECT 1 FROM outbox_calls c
                       WHERE c.portal_id = e.portal_id AND c.call_key = e.call_key AND c.claimed_by = $2)
         ORDER BY e.call_key, e.seq`,
        [portalId, owner],
      );
      return rows.map(toEntry);
    });
  }

  releaseCalls(portalId: string, owner: string, callKeys: readonly string[]): Promise<void> {
    if (callKeys.length === 0) return this.run('release calls', () => undefined);
    return this.write('release', async (db) => {
      await db.query(
        `UPDATE outbox_calls SET claimed_by = NULL, lease_until = NULL
         WHERE portal_id = $1 AND claimed_by = $2 AND call_key = ANY($3::text[])`,
        [portalId, owner, [...callKeys]],
      );
      // Another instance may have added entries to these calls while we held them.
      await db.query(notifySql, [portalId, this.id]);
    });
  }

  /**
   * Calls `onChange` when another instance stored new entries of the portal or released calls
   * (LISTEN/NOTIFY on a connection of its own): the outbox looks for work at once instead of at
   * its next poll. Best effort: while that connection is down, the poll alone finds the work.
   */
  watchOutbox(portalId: string, onChange: () => void): () => void {
    let set = this.watchers.get(portalId);
    if (!set) this.watchers.set(portalId, (set = new Set()));
    set.add(onChange);
    this.listen();
    return () => {
      set.delete(onChange);
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.relisten) clearTimeout(this.relisten);
    const listener = this.listener;
    this.listener = null;
    await listener?.then((c) => c.end()).catch(() => undefined);
    await this.pool.end();
  }

  private listen(): void {
    if (this.listener || this.closed) return;
    const retry = (): void => {
      this.listener = null;
      if (this.closed || this.relisten) return;
      this.relisten = setTimeout(() => {
        this.relisten = null;
        this.listen();
      }, 1000);
      this.relisten.unref();
    };
    const client = new pg.Client({
      connectionString: this.options.url,
      connectionTimeoutMillis: this.options.connectTimeoutMs ?? 5000,
      keepAlive: true,
      ...(this.options.schema === undefined
        ? {}
        : { options: `-c search_path=${quoteIdent(this.options.schema)}` }),
    });
    client.on('error', () => {
      client.end().catch(() => undefined);
      retry();
    });
    this.listener = (async () => {
      await client.connect();
      const schema = (await client.query<{ s: string | null }>('SELECT current_schema() AS s')).rows[0]?.s;
      client.on('notification', (n) => {
        const [from, portalId, store] = (n.payload ?? '').split('\t');
        if (from !== schema || store === this.id || portalId === undefined) return;
        for (const fn of this.watchers.get(portalId) ?? []) fn();
      });
      await client.query(`LISTEN ${CHANNEL}`);
      return client;
    })();
    this.listener.catch(() => {
      client.end().catch(() => undefined);
      retry();
    });
  }

  // --- coordination ---

  /**
   * The portal's shared leaky bucket, on the database's clock: lock its row, drain it to now, add
   * one if that stays within the capacity. A few round trips per request, which at the portal's
   * rate of a few requests per second costs nothing.
   */
  private takeBudget(memberId: string, limit: RateLimit, headroom: number): Promise<number> {
    return this.write('rate budget', async (db) => {
      if (!this.buckets.has(memberId)) {
        await db.query(
          `INSERT INTO rate_buckets (member_id, level, updated_at)
           VALUES ($1, 0, extract(epoch FROM clock_timestamp()) * 1000) ON CONFLICT (member_id) DO NOTHING`,
          [memberId],
        );
      }
      const row = await db.query<{ level: number; updated_at: number }>(
        'SELECT level, updated_at FROM rate_buckets WHERE member_id = $1 FOR UPDATE',
        [memberId],
      );
      // Read after the lock is ours: the time another instance held it must drain too.
      const clock = await db.query<{ ms: number }>(
        'SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms',
      );
      const b = row.rows[0];
      const now = clock.rows[0]?.ms ?? 0;
      if (!b) return 1;
      this.buckets.add(memberId);
      const at = Math.max(b.updated_at, now);
      const level = Math.max(0, b.level - ((at - b.updated_at) / 1000) * limit.rate);
      const capacity = Math.max(1, limit.burst - headroom);
      const over = level + 1 - capacity;
      if (over > 1e-9) return Math.max(1, Math.ceil((over / limit.rate) * 1000));
      await db.query('UPDATE rate_buckets SET level = $2, updated_at = $3 WHERE member_id = $1', [
        memberId,
        level + 1,
        at,
      ]);
      return 0;
    });
  }

  private fillBudget(memberId: string, limit: RateLimit): Promise<void> {
    return this.write('rate budget', async (db) => {
      await db.query(
        `INSERT INTO rate_buckets (member_id, level, updated_at)
         VALUES ($1, $2, extract(epoch FROM clock_timestamp()) * 1000)
         ON CONFLICT (member_id) DO UPDATE SET level = greatest(rate_buckets.level, excluded.level),
           updated_at = greatest(rate_buckets.updated_at, excluded.updated_at)`,
        [memberId, limit.burst],
      );
    });
  }

  /**
   * Runs `fn` holding a session advisory lock on a connection of its own; the server drops the
   * lock if this process dies. Keyed by schema too: advisory locks are per database.
   */
  private async withAdvisoryLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreError('STORE_CLOSED', 'lock: the store is closed');
    let client: PoolClient;
    try {
      client = await this.pool.connect();
      await client.query(
        "SELECT pg_advisory_lock(hashtext('b24-bridge:' || current_schema() || ':' || $1))",
        [name],
      );
    } catch (e) {
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

  // --- plumbing ---

  /**
   * A write transaction on one connection. `keep` decides from the result whether to commit (a
   * step refused as a duplicate or stale changes nothing, so it rolls back).
   */
  private write<T>(
    site: string,
    fn: (db: PoolClient) => Promise<T>,
    keep?: (value: T) => boolean,
  ): Promise<T> {
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
        this.options.failpoint?.(site);
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

  private async run<T>(doing: string, fn: () => Promise<T> | T): Promise<T> {
    if (this.closed) throw new StoreError('STORE_CLOSED', `${doing}: the store is closed`);
    try {
      return await fn();
    } catch (e) {
      throw toStoreError(e, doing);
    }
  }
}

async function applyUpdates(db: PoolClient, updates: readonly EntryUpdate[], now: number): Promise<void> {
  for (const u of updates) {
    const has = (k: keyof EntryUpdate): boolean => k in u;
    await db.query(
      `UPDATE outbox_entries SET
         status = CASE WHEN $2 THEN $3 ELSE status END,
         attempts = attempts + $4,
         next_attempt_at = CASE WHEN $5 THEN $6::bigint ELSE next_attempt_at END,
         last_error = CASE WHEN $7 THEN $8 ELSE last_error END,
         note = CASE WHEN $9 THEN $10 ELSE note END,
         result = CASE WHEN $11 THEN $12::jsonb ELSE result END,
         payload = CASE WHEN $13 THEN $14::jsonb ELSE payload END,
         lane = CASE WHEN $15 THEN $16 ELSE lane END,
         updated_at = $17
       WHERE id = $1`,
      [
        u.id,
        has('status'),
        u.status ?? null,
        u.addAttempt ? 1 : 0,
        has('nextAttemptAt'),
        u.nextAttemptAt ?? null,
        has('lastError'),
        u.lastError ?? null,
        has('note'),
        u.note ?? null,
        has('result'),
        json(u.result),
        has('payload'),
        json(u.payload),
        has('lane'),
        u.lane ?? null,
        now,
      ],
    );
  }
}

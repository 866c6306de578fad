import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { postgresBrand } from './brand.ts';
import type { SharedBudget, TokenStore } from '../../bitrix/index.ts';
import type {
  Backlog,
  AdminState,
  CallerIndex,
  CommandRelay,
  Coordination,
  EntryUpdate,
  OutboxEntry,
  ParkedEvents,
  PortalRecord,
  StepCommit,
  StepOutcome,
  Store,
  StoredEngine,
} from '../types.ts';
import { toStoreError } from './errors.ts';
import { plainSealer, type Sealer } from '../sealer.ts';
import { loadMigrations, migrate } from './migrate.ts';
import { postgresCallers } from './callers.ts';
import { notifyOutbox, OutboxListener } from './notify.ts';
import { Transactions } from './transactions.ts';
import * as admin from './sql/admin.ts';
import * as budget from './sql/budget.ts';
import * as claims from './sql/claims.ts';
import * as engine from './sql/engine.ts';
import * as entries from './sql/entries.ts';
import * as parked from './sql/parked.ts';
import * as portals from './sql/portals.ts';
import { queueCommand, takeCommands } from './sql/relay.ts';
import { readTokens, saveTokens } from './sql/tokens.ts';

interface PostgresStoreOptions {
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

export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * The store on PostgreSQL, for several bridge instances on one database. Each method is one
 * transaction where it writes, like SQLite's; the statements live one module per operation
 * under `sql/`. What several instances need on top:
 *
 * - Engine steps: ordered per portal by a row lock and a revision (`sql/engine.ts`).
 * - Delivery: calls are claimed whole with `FOR UPDATE SKIP LOCKED` and a lease (`sql/claims.ts`),
 *   and other instances are woken by LISTEN/NOTIFY (`notify.ts`).
 * - `coordination`: the portal's rate budget (`sql/budget.ts`) and single-flight token refresh
 *   (an advisory lock), for the Bitrix24 client.
 */
export class PostgresStore implements Store {
  /** See `brand.ts`: tells this store apart without loading this module. */
  readonly [postgresBrand] = true;
  readonly tokens: TokenStore;
  readonly callers: CallerIndex;
  readonly admin: AdminState;
  readonly parked: ParkedEvents;
  readonly relay: CommandRelay;
  readonly shared = true;
  readonly coordination: Coordination;
  private readonly now: () => number;
  private readonly sealer: Sealer;
  private readonly tx: Transactions;
  private readonly listener: OutboxListener;
  /** Portals whose rate bucket row is known to exist. */
  private readonly buckets = new Set<string>();
  /** Tells this store's own notifications from other instances'. */
  private readonly id = randomBytes(6).toString('hex');

  private constructor(
    private readonly pool: pg.Pool,
    options: PostgresStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.sealer = options.sealer ?? plainSealer;
    const tx = (this.tx = new Transactions(pool, options.failpoint));
    this.listener = new OutboxListener(
      () => ({
        connectionString: options.url,
        connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
        keepAlive: true,
        ...(options.schema === undefined ? {} : { options: `-c search_path=${quoteIdent(options.schema)}` }),
      }),
      this.id,
    );
    this.callers = postgresCallers(
      pool,
      (doing, fn) => tx.run(doing, fn),
      (site, fn) => tx.write(site, fn),
    );
    this.admin = {
      getSetting: (key) => tx.run('read an admin setting', () => admin.getSetting(pool, key)),
      // Other instances' watchers are told at the commit (the outbox channel, key `admin:<key>`).
      putSetting: (key, value, now) =>
        tx.write('admin setting', async (db) => {
          const revision = await admin.putSetting(db, key, value, now);
          await notifyOutbox(db, `admin:${key}`, this.id);
          return revision;
        }),
      watchSetting: (key, onChange) =>
        tx.closed ? () => undefined : this.listener.watch(`admin:${key}`, onChange),
      addSession: (digest, now, expiresAt, max) =>
        tx.write('admin session', (db) => admin.addSession(db, { digest, now, expiresAt, max })),
      sessionAlive: (digest, now) =>
        tx.run('read an admin session', () => admin.sessionAlive(pool, digest, now)),
      removeSession: (digest) => tx.write('admin session', (db) => admin.removeSession(db, digest)),
    };
    this.parked = {
      park: (pbxId, events, now, max) =>
        tx.write('parked events', (db) => parked.parkEvents(db, pbxId, events, now, max)),
      oldest: (pbxId, limit) =>
        tx.run('read parked PBX events', () => parked.oldestParked(pool, pbxId, limit)),
      remove: (pbxId, throughId) =>
        tx.write('parked events', (db) => parked.removeParked(db, pbxId, throughId)),
      count: (pbxId) => tx.run('count parked PBX events', () => parked.countParked(pool, pbxId)),
    };
    // Notifications of queued commands ride the outbox channel under the key `pbx:<id>`.
    this.relay = {
      send: (pbxId, command, now) =>
        tx.write('relay command', async (db) => {
          await queueCommand(db, pbxId, command, now);
          await notifyOutbox(db, `pbx:${pbxId}`, this.id);
        }),
      take: (pbxId, limit) => tx.write('take commands', (db) => takeCommands(db, pbxId, limit)),
      watch: (pbxId, onQueued) =>
        tx.closed ? () => undefined : this.listener.watch(`pbx:${pbxId}`, onQueued),
    };
    this.tokens = {
      get: (memberId) => tx.run('read tokens', () => readTokens(pool, this.sealer, memberId)),
      save: (memberId, tokens) =>
        tx.write('tokens', (db) => saveTokens(db, this.sealer, memberId, tokens, this.now())),
    };
    const shared: SharedBudget = {
      take: (memberId, limit, headroom) =>
        tx.write('rate budget', async (db) => {
          if (!this.buckets.has(memberId)) await budget.ensureBucket(db, memberId);
          const { waitMs, found } = await budget.takeBudget(db, memberId, limit, headroom);
          if (found) this.buckets.add(memberId);
          return waitMs;
        }),
      fill: (memberId, limit) => tx.write('rate budget', (db) => budget.fillBudget(db, memberId, limit)),
    };
    this.coordination = {
      budget: shared,
      refreshLock: { withLock: (memberId, fn) => tx.withAdvisoryLock(`refresh:${memberId}`, fn) },
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
    // The pool hears an idle connection's error, but not one checked out and idle between two of
    // its queries (a transaction awaiting, a held advisory lock): that client emits 'error' itself,
    // and an 'error' nobody listens to ends the process. The client is then unusable, and the pool
    // drops it when it comes back; the query that used it gets its own error.
    pool.on('connect', (client) => client.on('error', () => undefined));
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
    return this.tx.write('portal', (db) => portals.savePortal(db, this.sealer, portal, now));
  }

  getPortal(memberId: string): Promise<PortalRecord | undefined> {
    return this.tx.run('read portal', () => portals.getPortal(this.pool, this.sealer, memberId));
  }

  listPortals(): Promise<PortalRecord[]> {
    return this.tx.run('list portals', () => portals.listPortals(this.pool, this.sealer));
  }

  deletePortal(memberId: string, now: number): Promise<void> {
    return this.tx.write('delete portal', (db) => portals.deletePortal(db, memberId, now));
  }

  loadEngine(portalId: string, sinceRevision = -1): Promise<StoredEngine | undefined> {
    return this.tx.run('load engine', () => engine.loadEngine(this.pool, portalId, sinceRevision));
  }

  commitStep(c: StepCommit): Promise<StepOutcome> {
    return this.tx.write(
      'step',
      (db) => engine.commitStep(db, c, (d) => notifyOutbox(d, c.portalId, this.id)),
      (outcome) => outcome.stored,
    );
  }

  openCalls(portalId: string): Promise<OutboxEntry[]> {
    return this.tx.run('read open calls', () => entries.openCalls(this.pool, portalId));
  }

  callEntries(portalId: string, callKey: string): Promise<OutboxEntry[]> {
    return this.tx.run('read call', () => entries.callEntries(this.pool, portalId, callKey));
  }

  updateEntries(updates: readonly EntryUpdate[], now: number): Promise<void> {
    if (updates.length === 0) return Promise.resolve();
    return this.tx.write('entries', (db) => entries.applyUpdates(db, updates, now));
  }

  requeueInFlight(portalId: string, now: number): Promise<number> {
    return this.tx.write('requeue', (db) => entries.requeueInFlight(db, portalId, now));
  }

  backlog(portalId: string): Promise<Backlog> {
    return this.tx.run('read backlog', () => entries.backlog(this.pool, portalId));
  }

  claimCalls(
    portalId: string,
    owner: string,
    leaseMs: number,
    limit: number,
    now: number,
  ): Promise<OutboxEntry[]> {
    return this.tx.write('claim', (db) => claims.claimCalls(db, { portalId, owner, leaseMs, limit, now }));
  }

  releaseCalls(portalId: string, owner: string, callKeys: readonly string[]): Promise<void> {
    if (callKeys.length === 0) return this.tx.run('release calls', () => undefined);
    return this.tx.write('release', async (db) => {
      await claims.releaseCalls(db, portalId, owner, callKeys);
      // Another instance may have added entries to these calls while we held them.
      await notifyOutbox(db, portalId, this.id);
    });
  }

  /** Calls `onChange` when another instance stored new entries of the portal or released calls. */
  watchOutbox(portalId: string, onChange: () => void): () => void {
    return this.tx.closed ? () => undefined : this.listener.watch(portalId, onChange);
  }

  async close(): Promise<void> {
    if (this.tx.closed) return;
    this.tx.closed = true;
    await this.listener.close();
    await this.pool.end();
  }
}

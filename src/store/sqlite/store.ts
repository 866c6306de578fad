import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3, { type Database, type Statement } from 'better-sqlite3';
import type { PortalTokens, TokenStore } from '../../bitrix/index.ts';
import { StoreError } from '../errors.ts';
import type {
  Backlog,
  AdminState,
  CallerIndex,
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
import { toEntry as entryOf, toPortal, type EntryRow as Row, type PortalRow } from '../rows.ts';
import { loadMigrations, migrate } from './migrate.ts';
import { sqliteCallers } from './callers.ts';
import { sqliteAdminState } from './admin.ts';
import { sqliteParkedEvents } from './parked.ts';

type EntryRow = Row<string>;
const parse = (s: string | null): unknown => (s === null ? null : JSON.parse(s));
const toEntry = (r: EntryRow) => entryOf(r, parse);

interface SqliteStoreOptions {
  /**
   * The database file; its folder is created (owner-only). `:memory:` for throwaway stores. The
   * default path is the configuration's (`store.path`), the only place that names one.
   */
  path: string;
  /**
   * `full` (default): a commit is on disk before `commitStep` resolves, so an event the PBX got a
   * 202 for survives a power cut, not only a crash of the bridge. In WAL mode that costs one fsync
   * of the WAL per commit, which a PBX's event rate (tens per second) affords. `normal` survives a
   * crash of the process but may lose the last commits on a power cut: for tests and benchmarks.
   */
  synchronous?: 'full' | 'normal';
  /** Seals tokens, application tokens and webhook URLs at rest (`sealerFromEnv`). Default: stored as they are. */
  sealer?: Sealer | undefined;
  /** How long a write waits for another connection's lock before STORE_BUSY. Default 5 s. */
  busyTimeoutMs?: number;
  now?: () => number;
  /**
   * Called inside every write transaction, before it commits, with what is being written. A test
   * that throws here makes the transaction roll back, as a crash before the commit would.
   */
  failpoint?: ((site: string) => void) | undefined;
}

const json = (v: unknown): string => JSON.stringify(v ?? null);

/**
 * The embedded store on better-sqlite3. The driver is synchronous: each method does its work at
 * once, inside one transaction where it writes, and returns a settled promise. That keeps the
 * `Store` contract a PostgreSQL store can meet, at no cost here.
 */
export class SqliteStore implements Store {
  readonly tokens: TokenStore;
  readonly callers: CallerIndex;
  readonly admin: AdminState;
  readonly parked: ParkedEvents;
  /** One process owns the file (the replay command refuses to run beside the bridge). */
  readonly shared = false;
  private readonly s: ReturnType<typeof prepare>;
  private readonly now: () => number;
  private readonly sealer: Sealer;
  private closed = false;

  private constructor(
    private readonly db: Database,
    private readonly options: SqliteStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.sealer = options.sealer ?? plainSealer;
    this.s = prepare(db);
    this.callers = sqliteCallers(
      db,
      (doing, fn) => this.run(doing, fn),
      (site, fn) => this.write(site, fn),
    );
    this.admin = sqliteAdminState(
      db,
      (doing, fn) => this.run(doing, fn),
      (site, fn) => this.write(site, fn),
    );
    this.parked = sqliteParkedEvents(
      db,
      (doing, fn) => this.run(doing, fn),
      (site, fn) => this.write(site, fn),
    );
    this.tokens = {
      get: (memberId) =>
        this.run('read tokens', () => {
          const row = this.s.getTokens.get(memberId);
          return row ? (JSON.parse(this.sealer.open(row.tokens)) as PortalTokens) : undefined;
        }),
      save: (memberId, tokens) =>
        this.run('save tokens', () => {
          this.write('tokens', () =>
            this.s.saveTokens.run(memberId, this.sealer.seal(JSON.stringify(tokens)), this.now()),
          );
        }),
    };
  }

  /** Opens (creating if need be) the database file and brings its schema up to date. */
  static open(options: SqliteStoreOptions): Promise<SqliteStore> {
    const path = options.path;
    try {
      if (path !== ':memory:') ensureOwnerOnlyFile(path);
      const db = new BetterSqlite3(path, { timeout: options.busyTimeoutMs ?? 5000 });
      try {
        // WAL: readers (the status CLI, the admin UI) never block the writer, and a commit is one
        // append to the log instead of a rewrite of pages.
        db.pragma('journal_mode = WAL');
        db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
        db.pragma('foreign_keys = ON');
        migrate(db, loadMigrations(), (options.now ?? Date.now)());
      } catch (e) {
        db.close();
        throw e;
      }
      return Promise.resolve(new SqliteStore(db, options));
    } catch (e) {
      return Promise.reject(toStoreError(e, `open ${path}`));
    }
  }

  /** The driver's handle, for diagnostics and tests (e.g. to simulate a full disk). */
  get database(): Database {
    return this.db;
  }

  savePortal(portal: PortalRecord, now: number): Promise<void> {
    return this.run('save portal', () => {
      this.write('portal', () =>
        this.s.savePortal.run({
          member_id: portal.memberId,
          domain: portal.domain,
          client_endpoint: portal.clientEndpoint,
          auth_kind: portal.authKind,
          webhook_url: portal.webhookUrl === null ? null : this.sealer.seal(portal.webhookUrl),
          application_token:
            portal.applicationToken === null ? null : this.sealer.seal(portal.applicationToken),
          now,
        }),
      );
    });
  }

  getPortal(memberId: string): Promise<PortalRecord | undefined> {
    return this.run('read portal', () => {
      const row = this.s.getPortal.get(memberId);
      return row ? toPortal(row, this.sealer) : undefined;
    });
  }

  listPortals(): Promise<PortalRecord[]> {
    return this.run('list portals', () => this.s.listPortals.all().map((r) => toPortal(r, this.sealer)));
  }

  deletePortal(memberId: string, now: number): Promise<void> {
    return this.run('delete portal', () => {
      this.write('delete portal', () => {
        this.s.deletePortal.run(memberId);
        this.s.deleteTokens.run(memberId);
        this.s.deleteMeta.run(memberId);
        this.s.deleteShards.run(memberId);
        this.s.deleteCallers.run(memberId);
        this.s.dropOpen.run(now, memberId);
      });
    });
  }

  loadEngine(portalId: string, sinceRevision = -1): Promise<StoredEngine | undefined> {
    return this.run('load engine', () => {
      const meta = this.s.getMeta.get(portalId);
      if (!meta) return undefined;
      const shards: StoredEngine['shards'] = {};
      for (const row of this.s.getShards.all(portalId, sinceRevision)) {
        shards[row.shard] = JSON.parse(row.calls) as Record<string, unknown>;
      }
      return { version: meta.version, seq: meta.seq, revision: meta.revision, shards };
    });
  }

  commitStep(c: StepCommit): Promise<StepOutcome> {
    return this.run('store step', () => this.write('step', () => this.storeStep(c)));
  }

  commitSteps(commits: readonly StepCommit[]): Promise<StepOutcome[]> {
    return this.run('store steps', () =>
      this.write('step', () => {
        const outcomes: StepOutcome[] = [];
        for (const c of commits) {
          const outcome = this.storeStep(c);
          outcomes.push(outcome);
          if (!outcome.stored) break;
        }
        return outcomes;
      }),
    );
  }

  /** One step inside the caller's transaction. */
  private storeStep(c: StepCommit): StepOutcome {
    const { input } = c;
    if (input !== null) {
      if (input.dedupeKey !== null && this.s.findInput.get(c.portalId, input.dedupeKey)) {
        return { stored: false, reason: 'duplicate' };
      }
    }
    const current = this.s.getMeta.get(c.portalId)?.revision ?? 0;
    if (c.expectedRevision !== undefined && c.expectedRevision !== current) {
      return { stored: false, reason: 'stale', revision: current };
    }
    if (input !== null) {
      this.s.addInput.run(c.portalId, input.dedupeKey, input.type, json(input.payload), c.now);
    }
    const revision = current + 1;
    this.s.saveMeta.run(c.portalId, c.engine.version, c.engine.seq, revision, c.now);
    for (const [shard, calls] of Object.entries(c.engine.shards)) {
      this.s.saveShard.run(c.portalId, shard, JSON.stringify(calls), revision, c.now);
    }
    let handedOff: Map<string, number> | undefined;
    for (const e of c.newEntries) {
      const added = this.s.addEntry.run({
        portal_id: c.portalId,
        call_key: e.callKey,
        op_id: e.opId,
        seq: e.seq,
        lane: e.lane,
        kind: e.kind,
        payload: json(e.payload),
        next_attempt_at: e.nextAttemptAt,
        status: e.inFlight === true ? 'in_flight' : 'pending',
        attempts: e.inFlight === true ? 1 : 0,
        now: c.now,
      });
      if (e.inFlight === true && added.changes === 1)
        (handedOff ??= new Map()).set(e.opId, Number(added.lastInsertRowid));
    }
    this.applyUpdates(c.entryUpdates, c.now);
    return handedOff ? { stored: true, revision, handedOff } : { stored: true, revision };
  }

  openCalls(portalId: string): Promise<OutboxEntry[]> {
    return this.run('read open calls', () => this.s.openCalls.all(portalId, portalId).map(toEntry));
  }

  callEntries(portalId: string, callKey: string): Promise<OutboxEntry[]> {
    return this.run('read call', () => this.s.callEntries.all(portalId, callKey).map(toEntry));
  }

  updateEntries(updates: readonly EntryUpdate[], now: number): Promise<void> {
    if (updates.length === 0) return Promise.resolve();
    return this.run('update entries', () => {
      this.write('entries', () => this.applyUpdates(updates, now));
    });
  }

  /** One process holds every call: claiming is reading them (the limit and lease do not apply). */
  claimCalls(
    portalId: string,
    _owner: string,
    _leaseMs: number,
    _limit: number,
    _now: number,
  ): Promise<OutboxEntry[]> {
    return this.openCalls(portalId);
  }

  releaseCalls(): Promise<void> {
    return this.closed
      ? Promise.reject(new StoreError('STORE_CLOSED', 'release calls: the store is closed'))
      : Promise.resolve();
  }

  requeueInFlight(portalId: string, now: number): Promise<number> {
    return this.run('requeue', () => this.write('requeue', () => this.s.requeue.run(now, portalId).changes));
  }

  backlog(portalId: string): Promise<Backlog> {
    return this.run('read backlog', () => {
      const counts = Object.fromEntries(
        this.s.countByStatus.all(portalId).map((r) => [r.status, r.n]),
      ) as Partial<Record<OutboxEntry['status'], number>>;
      return {
        pending: counts.pending ?? 0,
        inFlight: counts.in_flight ?? 0,
        failed: counts.failed ?? 0,
        dropped: counts.dropped ?? 0,
        oldestOpenAt: this.s.oldestOpen.get(portalId)?.at ?? null,
      };
    });
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.db.close();
    }
    return Promise.resolve();
  }

  private applyUpdates(updates: readonly EntryUpdate[], now: number): void {
    for (const u of updates) {
      const has = (k: keyof EntryUpdate): number => (k in u ? 1 : 0);
      this.s.updateEntry.run({
        id: u.id,
        now,
        set_status: has('status'),
        status: u.status ?? null,
        add_attempt: u.addAttempt ? 1 : 0,
        set_next: has('nextAttemptAt'),
        next_attempt_at: u.nextAttemptAt ?? null,
        set_error: has('lastError'),
        last_error: u.lastError ?? null,
        set_note: has('note'),
        note: u.note ?? null,
        set_result: has('result'),
        result: json(u.result),
        set_payload: has('payload'),
        payload: json(u.payload),
        set_lane: has('lane'),
        lane: u.lane ?? null,
      });
    }
  }

  /** A write transaction (IMMEDIATE: take the write lock first, never upgrade a read lock). */
  private write<T>(site: string, fn: () => T): T {
    return this.db
      .transaction(() => {
        const out = fn();
        this.options.failpoint?.(site);
        return out;
      })
      .immediate();
  }

  private run<T>(doing: string, fn: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new StoreError('STORE_CLOSED', `${doing}: the store is closed`));
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(toStoreError(e, doing));
    }
  }
}

/** The file holds OAuth tokens and customers' numbers: owner-only, like an SSH key. */
function ensureOwnerOnlyFile(path: string): void {
  const dir = dirname(resolve(path));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', 0o600));
  chmodSync(path, 0o600);
}

function prepare(db: Database) {
  const st = <P extends unknown[] | object, R = unknown>(sql: string): Statement<P, R> =>
    db.prepare<P, R>(sql);
  return {
    getTokens: st<[string], { tokens: string }>('SELECT tokens FROM portal_tokens WHERE member_id = ?'),
    saveTokens: st<[string, string, number]>(
      `INSERT INTO portal_tokens (member_id, tokens, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (member_id) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at`,
    ),
    savePortal: st<object>(
      `INSERT INTO portals (member_id, domain, client_endpoint, auth_kind, webhook_url, application_token,
         created_at, updated_at)
       VALUES (@member_id, @domain, @client_endpoint, @auth_kind, @webhook_url, @application_token, @now, @now)
       ON CONFLICT (member_id) DO UPDATE SET domain = excluded.domain,
         client_endpoint = excluded.client_endpoint, auth_kind = excluded.auth_kind,
         webhook_url = excluded.webhook_url, application_token = excluded.application_token,
         updated_at = excluded.updated_at`,
    ),
    deletePortal: st<[string]>('DELETE FROM portals WHERE member_id = ?'),
    deleteTokens: st<[string]>('DELETE FROM portal_tokens WHERE member_id = ?'),
    deleteMeta: st<[string]>('DELETE FROM engine_meta WHERE portal_id = ?'),
    deleteShards: st<[string]>('DELETE FROM engine_shards WHERE portal_id = ?'),
    deleteCallers: st<[string]>('DELETE FROM crm_phone_index WHERE portal_id = ?'),
    dropOpen: st<[number, string]>(
      `UPDATE outbox_entries SET status = 'dropped', note = 'the app was uninstalled', updated_at = ?
       WHERE portal_id = ? AND status IN ('pending', 'in_flight')`,
    ),
    getPortal: st<[string], PortalRow>('SELECT * FROM portals WHERE member_id = ?'),
    listPortals: st<[], PortalRow>('SELECT * FROM portals ORDER BY member_id'),
    getMeta: st<[string], { version: number; seq: number; revision: number }>(
      'SELECT version, seq, revision FROM engine_meta WHERE portal_id = ?',
    ),
    getShards: st<[string, number], { shard: string; calls: string }>(
      'SELECT shard, calls FROM engine_shards WHERE portal_id = ? AND revision > ?',
    ),
    saveMeta: st<[string, number, number, number, number]>(
      `INSERT INTO engine_meta (portal_id, version, seq, revision, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (portal_id) DO UPDATE SET version = excluded.version, seq = excluded.seq,
         revision = excluded.revision, updated_at = excluded.updated_at`,
    ),
    saveShard: st<[string, string, string, number, number]>(
      `INSERT INTO engine_shards (portal_id, shard, calls, revision, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (portal_id, shard) DO UPDATE SET calls = excluded.calls, revision = excluded.revision,
         updated_at = excluded.updated_at`,
    ),
    findInput: st<[string, string], { id: number }>(
      'SELECT id FROM inputs WHERE portal_id = ? AND dedupe_key = ?',
    ),
    addInput: st<[string, string | null, string, string, number]>(
      'INSERT INTO inputs (portal_id, dedupe_key, type, payload, received_at) VALUES (?, ?, ?, ?, ?)',
    ),
    // A replayed step re-emits the same op ids: the unique key makes it add nothing.
    addEntry: st<object>(
      `INSERT INTO outbox_entries (portal_id, call_key, op_id, seq, lane, kind, payload, status,
         attempts, next_attempt_at, created_at, updated_at)
       VALUES (@portal_id, @call_key, @op_id, @seq, @lane, @kind, @payload, @status,
         @attempts, @next_attempt_at, @now, @now)
       ON CONFLICT (portal_id, op_id) DO NOTHING`,
    ),
    updateEntry: st<object>(
      `UPDATE outbox_entries SET
         status = CASE WHEN @set_status THEN @status ELSE status END,
         attempts = attempts + @add_attempt,
         next_attempt_at = CASE WHEN @set_next THEN @next_attempt_at ELSE next_attempt_at END,
         last_error = CASE WHEN @set_error THEN @last_error ELSE last_error END,
         note = CASE WHEN @set_note THEN @note ELSE note END,
         result = CASE WHEN @set_result THEN @result ELSE result END,
         payload = CASE WHEN @set_payload THEN @payload ELSE payload END,
         lane = CASE WHEN @set_lane THEN @lane ELSE lane END,
         updated_at = @now
       WHERE id = @id`,
    ),
    openCalls: st<[string, string], EntryRow>(
      `SELECT * FROM outbox_entries
       WHERE portal_id = ? AND call_key IN (
         SELECT call_key FROM outbox_entries WHERE portal_id = ? AND status IN ('pending', 'in_flight'))
       ORDER BY call_key, seq`,
    ),
    callEntries: st<[string, string], EntryRow>(
      'SELECT * FROM outbox_entries WHERE portal_id = ? AND call_key = ? ORDER BY seq',
    ),
    requeue: st<[number, string]>(
      `UPDATE outbox_entries SET status = 'pending', updated_at = ?
       WHERE portal_id = ? AND status = 'in_flight'`,
    ),
    countByStatus: st<[string], { status: OutboxEntry['status']; n: number }>(
      'SELECT status, count(*) AS n FROM outbox_entries WHERE portal_id = ? GROUP BY status',
    ),
    oldestOpen: st<[string], { at: number | null }>(
      `SELECT min(created_at) AS at FROM outbox_entries
       WHERE portal_id = ? AND status IN ('pending', 'in_flight')`,
    ),
  };
}

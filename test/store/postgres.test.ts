import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/index.ts';
import {
  appliedMigrations,
  LeaderLock,
  loadMigrations,
  PostgresStore,
  toPostgresStoreError,
} from '../../src/store/postgres/index.ts';
import { databaseUrl, dropSchemas, freshSchemaName, skipMessage, sql } from './pg.ts';
import { entry, step, storeSuite, type StoreOptions } from './suite.ts';
import { journalSuite } from './journal-suite.ts';

if (databaseUrl === undefined) console.warn(skipMessage);

const url = databaseUrl ?? '';
const schemas: string[] = [];
const schemaOf = new WeakMap<Store, string>();

async function open(schema: string, options: StoreOptions = {}): Promise<PostgresStore> {
  const store = await PostgresStore.open({ url, schema, poolSize: 4, ...options });
  schemaOf.set(store, schema);
  return store;
}

function freshSchema(): string {
  const schema = freshSchemaName();
  schemas.push(schema);
  return schema;
}

describe.skipIf(databaseUrl === undefined)('PostgreSQL', () => {
  afterAll(() => dropSchemas(schemas));

  storeSuite('PostgreSQL', {
    fresh: (options) => open(freshSchema(), options),
    reopen: (store, options) => open(schemaOf.get(store) ?? '', options),
    journalRows: async (store) => {
      const rows = await sql<{ n: string }>('SELECT count(*) AS n FROM inputs', [], schemaOf.get(store));
      return Number(rows[0]?.n);
    },
    rawSecrets: async (store) => {
      const rows = await sql<{ v: string | null }>(
        `SELECT tokens::text AS v FROM portal_tokens UNION ALL SELECT webhook_url FROM portals
         UNION ALL SELECT application_token FROM portals`,
        [],
        schemaOf.get(store),
      );
      return rows.map((r) => r.v ?? '').join('\n');
    },
    cleanup: () => dropSchemas(schemas),
  });

  journalSuite('PostgreSQL', {
    fresh: () => open(freshSchema()),
    cleanup: () => Promise.resolve(),
  });

  describe('PostgreSQL migrations and errors', () => {
    afterEach(() => dropSchemas(schemas));

    it('records each migration once, also when two instances start together', async () => {
      const schema = freshSchema();
      const [a, b] = await Promise.all([open(schema, { now: () => 42 }), open(schema, { now: () => 43 })]);
      const known = loadMigrations();
      expect(known.map((m) => m.id)).toEqual(known.map((_, i) => i + 1));
      const client = await a.database.connect();
      try {
        const applied = await appliedMigrations(client);
        expect(applied.map((m) => [m.id, m.name])).toEqual(known.map((m) => [m.id, m.name]));
        expect([42, 43]).toContain(applied[0]?.appliedAt);
      } finally {
        client.release();
      }
      expect(a.shared).toBe(true);
      await Promise.all([a.close(), b.close()]);
    });

    it('refuses a database migrated by a newer bridge', async () => {
      const schema = freshSchema();
      await (await open(schema)).close();
      await sql("INSERT INTO schema_migrations (id, name, applied_at) VALUES (999, 'future', 0)", [], schema);
      await expect(open(schema)).rejects.toMatchObject({ code: 'STORE_TOO_NEW' });
    });

    it('maps the server’s errors to stable codes', async () => {
      await expect(
        PostgresStore.open({ url: 'postgres://postgres@127.0.0.1:1/test', connectTimeoutMs: 2000 }),
      ).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
      const unknownDb = new URL(url);
      unknownDb.pathname = '/b24_no_such_database';
      await expect(PostgresStore.open({ url: unknownDb.toString() })).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
      });

      // A read-only server (a standby, or default_transaction_read_only): real error, our code.
      const schema = freshSchema();
      await (await open(schema)).close();
      const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
      await client.connect();
      try {
        await client.query('BEGIN READ ONLY');
        const refused = await client.query("INSERT INTO portal_tokens VALUES ('m', '{}', 0)").then(
          () => null,
          (e: unknown) => e,
        );
        expect(toPostgresStoreError(refused, 'save tokens')).toMatchObject({ code: 'STORE_READONLY' });
        await client.query('ROLLBACK');
      } finally {
        await client.end();
      }
      // Those the test cannot provoke, by their SQLSTATE.
      const mapped = (code: string): string =>
        toPostgresStoreError(Object.assign(new Error('x'), { code }), 'x').code;
      expect(mapped('53100')).toBe('STORE_FULL');
      expect(mapped('40P01')).toBe('STORE_BUSY');
      expect(mapped('57P01')).toBe('STORE_UNAVAILABLE');
      expect(mapped('XX001')).toBe('STORE_CORRUPT');
      expect(mapped('42P01')).toBe('STORE_FAILED');

      const store = await open(schema);
      await store.close();
      await expect(store.listPortals()).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    });

    it('lives through the server ending a connection it holds between queries (a database restart)', async () => {
      // A restart ends every connection; one checked out of the pool, and idle between two of its
      // queries, gets the news as an 'error' event, which took the whole bridge down unheard.
      const store = await open(freshSchema());
      const out = await store.coordination.refreshLock.withLock('m1', async () => {
        const held = await sql<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_advisory_lock%' AND pid <> pg_backend_pid()",
        );
        expect(held).toHaveLength(1);
        await sql('SELECT pg_terminate_backend($1)', [held[0]?.pid]);
        // Until the server has let go of it: its end has reached this process by the next round trip.
        while ((await sql('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [held[0]?.pid])).length > 0);
        await sql('SELECT 1');
        return 'done';
      });
      expect(out).toBe('done');
      // The broken connection was dropped: the store goes on with fresh ones.
      expect(await store.listPortals()).toEqual([]);
      await store.coordination.refreshLock.withLock('m1', () => Promise.resolve());
      await store.close();
    });
  });

  describe('several instances on one database', () => {
    afterEach(() => dropSchemas(schemas));

    /** Two stores on one schema: two bridge instances. */
    async function twoInstances(): Promise<[PostgresStore, PostgresStore]> {
      const schema = freshSchema();
      const a = await open(schema);
      return [a, await open(schema)];
    }

    const call = (n: number) =>
      step({
        input: { type: 'call.started', dedupeKey: `e${n}`, payload: {} },
        newEntries: [entry(`c${n}@1`, 0), entry(`c${n}@1`, 1, 'finish')],
      });

    it('claims whole calls: each call to one instance, taken over when its lease expires', async () => {
      const [a, b] = await twoInstances();
      for (const n of [1, 2, 3]) await a.commitStep(call(n));
      const keys = (entries: { callKey: string }[]) => [...new Set(entries.map((e) => e.callKey))];

      const mineA = await a.claimCalls('p1', 'A', 5_000, 1, 10_000);
      expect(keys(mineA)).toEqual(['c1@1']);
      expect(mineA).toHaveLength(2);
      const [reg] = mineA;
      await a.updateEntries([{ id: reg!.id, status: 'in_flight', addAttempt: true }], 10_000);
      // B skips A's call; it gets the others.
      expect(keys(await b.claimCalls('p1', 'B', 5_000, 10, 10_100))).toEqual(['c2@1', 'c3@1']);
      // A renews its lease (and claims nothing more: the rest is B's).
      expect(keys(await a.claimCalls('p1', 'A', 5_000, 10, 12_000))).toEqual(['c1@1']);
      // B, renewing at 16 s, is past A's lease (17 s)? Not yet: c1 stays A's.
      expect(keys(await b.claimCalls('p1', 'B', 5_000, 10, 16_000))).toEqual(['c2@1', 'c3@1']);
      // A stops renewing (it died): at 17.1 s B takes c1 over, and what A had in flight is pending again.
      const taken = await b.claimCalls('p1', 'B', 5_000, 10, 17_100);
      expect(keys(taken)).toEqual(['c1@1', 'c2@1', 'c3@1']);
      expect(taken.find((e) => e.id === reg!.id)).toMatchObject({ status: 'pending', attempts: 1 });
      expect(await a.claimCalls('p1', 'A', 5_000, 10, 17_200)).toEqual([]);
      // A restarting instance requeues nothing a live lease holds.
      await b.updateEntries([{ id: reg!.id, status: 'in_flight', addAttempt: true }], 17_300);
      expect(await a.requeueInFlight('p1', 17_400)).toBe(0);
      expect(await a.requeueInFlight('p1', 30_000)).toBe(1);

      // B, alive, renews; it releases a call it has settled, and new entries in it are anyone's.
      expect(keys(await b.claimCalls('p1', 'B', 5_000, 10, 30_050))).toEqual(['c1@1', 'c2@1', 'c3@1']);
      await b.releaseCalls('p1', 'B', ['c2@1']);
      await a.commitStep(
        step({
          input: { type: 'late', dedupeKey: 'e9', payload: {} },
          newEntries: [entry('c2@1', 2, 'attachRecord')],
        }),
      );
      expect(keys(await a.claimCalls('p1', 'A', 5_000, 10, 30_100))).toEqual(['c2@1']);
      await Promise.all([a.close(), b.close()]);
    });

    it('tells an instance at once when another stores new entries or releases calls', async () => {
      const [a, b] = await twoInstances();
      const heard: string[] = [];
      let notify = (): void => undefined;
      const next = (): Promise<void> => new Promise((resolve) => (notify = resolve));
      const stop = b.watchOutbox('p1', () => {
        heard.push('p1');
        notify();
      });
      b.watchOutbox('p2', () => heard.push('p2'));
      // The listener connects in the background: repeat the first change until it is heard.
      let first = next();
      for (let n = 0; heard.length === 0; n += 1) {
        await a.commitStep(call(n));
        await Promise.race([first, new Promise((r) => setTimeout(r, 50))]);
      }
      expect(heard.every((p) => p === 'p1')).toBe(true);
      heard.length = 0;
      first = next();
      await a.releaseCalls('p1', 'A', ['c0@1']);
      await first;
      expect(heard).toEqual(['p1']);
      stop();
      await Promise.all([a.close(), b.close()]);
    });

    it('tells the other instances of an edited admin setting (LISTEN/NOTIFY), not its own', async () => {
      const [a, b] = await twoInstances();
      const heardB: number[] = [];
      const heardA: number[] = [];
      b.admin.watchSetting?.('lines', () => heardB.push(1));
      b.admin.watchSetting?.('other', () => heardB.push(2));
      a.admin.watchSetting?.('lines', () => heardA.push(1));
      // The listener connects in the background: repeat the edit until it is heard.
      for (let n = 0; heardB.length === 0 && n < 100; n += 1) {
        await a.admin.putSetting('lines', { n }, n);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(heardB.length).toBeGreaterThan(0);
      expect(heardB.every((k) => k === 1)).toBe(true);
      expect(heardA).toEqual([]);
      await Promise.all([a.close(), b.close()]);
    });

    it('two instances claiming at once take disjoint calls (SKIP LOCKED)', async () => {
      const [a, b] = await twoInstances();
      for (let n = 0; n < 20; n += 1) await a.commitStep(call(n));
      const [x, y] = await Promise.all([
        a.claimCalls('p1', 'A', 10_000, 12, 1_000),
        b.claimCalls('p1', 'B', 10_000, 12, 1_000),
      ]);
      const kx = new Set(x.map((e) => e.callKey));
      const ky = new Set(y.map((e) => e.callKey));
      expect([...kx].filter((k) => ky.has(k))).toEqual([]);
      expect(kx.size + ky.size).toBe(20);
      await Promise.all([a.close(), b.close()]);
    });

    it('orders the steps of all instances: concurrent steps from one revision, one stored', async () => {
      const [a, b] = await twoInstances();
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, (_, n) =>
          (n % 2 === 0 ? a : b).commitStep({ ...call(n), expectedRevision: 0 }),
        ),
      );
      expect(outcomes.filter((o) => o.stored)).toHaveLength(1);
      expect(outcomes.filter((o) => !o.stored && o.reason === 'stale')).toHaveLength(7);
      expect((await b.loadEngine('p1'))?.revision).toBe(1);
      await Promise.all([a.close(), b.close()]);
    });

    it('shares one rate budget per portal between instances', async () => {
      const [a, b] = await twoInstances();
      const limit = { rate: 2, burst: 6 };
      const taken: string[] = [];
      let refusedFor = 0;
      // Alternately, as fast as they can: together they get burst - headroom places, no more.
      for (let i = 0; i < 10 && refusedFor === 0; i += 1) {
        const [who, store] = i % 2 === 0 ? ['A', a] : ['B', b];
        const wait = await store.coordination.budget.take('m1', limit, 1);
        if (wait === 0) taken.push(who);
        else refusedFor = wait;
      }
      expect(taken).toEqual(['A', 'B', 'A', 'B', 'A']);
      // One place drains in half a second at 2 per second.
      expect(refusedFor).toBeGreaterThan(300);
      expect(refusedFor).toBeLessThanOrEqual(500);
      // Another portal has a bucket of its own.
      expect(await b.coordination.budget.take('m2', limit, 1)).toBe(0);
      // The portal refused us: full for everyone, drained at its rate (burst 6 - capacity 5 + 1 = 2 places).
      await a.coordination.budget.fill('m2', limit);
      const wait = await b.coordination.budget.take('m2', limit, 1);
      expect(wait).toBeGreaterThan(800);
      expect(wait).toBeLessThanOrEqual(1000);
      await Promise.all([a.close(), b.close()]);
    });

    it('lets one instance at a time refresh a portal’s tokens', async () => {
      const [a, b] = await twoInstances();
      const order: string[] = [];
      let release = (): void => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let entered!: () => void;
      const aInside = new Promise<void>((resolve) => (entered = resolve));
      const first = a.coordination.refreshLock.withLock('m1', async () => {
        order.push('A in');
        entered();
        await gate;
        order.push('A out');
      });
      await aInside;
      const second = b.coordination.refreshLock.withLock('m1', () => {
        order.push('B in');
        return Promise.resolve();
      });
      // B waits on the server for A's advisory lock.
      const waiting = async (): Promise<boolean> =>
        (
          await sql<{ n: string }>(
            "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
          )
        )[0]?.n !== '0';
      for (let i = 0; i < 200 && !(await waiting()); i += 1) await new Promise((r) => setImmediate(r));
      expect(await waiting()).toBe(true);
      // Another portal's refresh does not wait.
      await b.coordination.refreshLock.withLock('m2', () => Promise.resolve(order.push('B m2')));
      expect(order).toEqual(['A in', 'B m2']);
      release();
      await Promise.all([first, second]);
      expect(order).toEqual(['A in', 'B m2', 'A out', 'B in']);
      await Promise.all([a.close(), b.close()]);
    });
  });

  describe('LeaderLock', () => {
    const locks: LeaderLock[] = [];
    afterEach(async () => {
      for (const l of locks.splice(0)) await l.close();
    });

    const lock = (schema: string): LeaderLock => {
      const l = new LeaderLock({ url, name: 'ami:pbx1', schema, intervalMs: 100 });
      locks.push(l);
      return l;
    };
    const next = (l: LeaderLock, event: 'gained' | 'lost'): Promise<void> =>
      new Promise((resolve) => l.once(event, () => resolve()));

    it('elects one leader; another takes over when it goes, or when its connection dies', async () => {
      const schema = freshSchemaName();
      const a = lock(schema);
      const b = lock(schema);
      await a.start();
      await b.start();
      expect([a.isLeader, b.isLeader]).toEqual([true, false]);
      // Another name (another PBX), or another bridge's schema, is another election.
      const other = new LeaderLock({ url, name: 'ami:pbx1', schema: freshSchemaName(), intervalMs: 100 });
      locks.push(other);
      await other.start();
      expect(other.isLeader).toBe(true);
      await other.close();

      const bGains = next(b, 'gained');
      const aLoses = next(a, 'lost');
      await a.close();
      await Promise.all([aLoses, bGains]);
      expect(b.isLeader).toBe(true);

      // The leader's session is killed on the server (as when its machine is cut off).
      const c = lock(schema);
      await c.start();
      expect(c.isLeader).toBe(false);
      const bLost = next(b, 'lost');
      // Whoever tries first after the lock is free leads: c, or b again on a new connection.
      const someoneGains = Promise.race([next(b, 'gained'), next(c, 'gained')]);
      await sql(
        `SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'b24-bridge:leader:ami:pbx1'`,
      );
      await Promise.all([bLost, someoneGains]);
      expect([b.isLeader, c.isLeader].filter(Boolean)).toEqual([true]);
    });
  });
});

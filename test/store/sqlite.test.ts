import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore, StoreError, type Store } from '../../src/store/index.ts';
import { appliedMigrations, loadMigrations } from '../../src/store/sqlite/index.ts';
import { storeSuite, type StoreOptions } from './suite.ts';
import { journalSuite, summary } from './journal-suite.ts';
import { journalOf } from '../../src/journal/index.ts';

const dirs: string[] = [];
const tempPath = (name = 'bridge.db'): string => {
  const dir = mkdtempSync(join(tmpdir(), 'b24-store-'));
  dirs.push(dir);
  return join(dir, 'nested', name);
};
const cleanup = (): void => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
};

const paths = new WeakMap<Store, string>();
const opened = new WeakMap<Store, SqliteStore>();
const open = async (path: string, options: StoreOptions = {}): Promise<Store> => {
  const store = await SqliteStore.open({ path, synchronous: 'normal', ...options });
  paths.set(store, path);
  opened.set(store, store);
  return store;
};

storeSuite('SQLite', {
  fresh: (options) => open(tempPath(), options),
  reopen: (store, options) => open(paths.get(store) ?? '', options),
  journalRows: (store) => {
    const db = opened.get(store)?.database;
    return Promise.resolve(db?.prepare<[], { n: number }>('SELECT count(*) AS n FROM inputs').get()?.n ?? -1);
  },
  rawSecrets: (store) => {
    const db = opened.get(store)?.database;
    const rows = db
      ?.prepare<[], { v: string | null }>(
        `SELECT tokens AS v FROM portal_tokens UNION ALL SELECT webhook_url FROM portals
         UNION ALL SELECT application_token FROM portals`,
      )
      .all();
    return Promise.resolve((rows ?? []).map((r) => r.v ?? '').join('\n'));
  },
  cleanup: () => Promise.resolve(cleanup()),
});

journalSuite('SQLite', {
  fresh: () => open(tempPath()),
  cleanup: () => Promise.resolve(cleanup()),
});

describe('the call journal on SQLite', () => {
  afterEach(cleanup);

  it('leaves the store at synchronous=FULL after its own commits', async () => {
    const store = await SqliteStore.open({ path: tempPath() });
    const journal = journalOf(store);
    await journal?.write([], [summary('c@1')]);
    expect(store.database.pragma('synchronous', { simple: true })).toBe(2);
    expect((await journal?.call('c@1'))?.summary.callKey).toBe('c@1');
    await store.close();
  });
});

describe('SQLite migrations and file', () => {
  afterEach(cleanup);

  it('creates the file owner-only in a new folder and records each migration once', async () => {
    const path = tempPath();
    const store = await SqliteStore.open({ path, now: () => 42 });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const known = loadMigrations();
    expect(known.map((m) => m.id)).toEqual(known.map((_, i) => i + 1));
    expect(appliedMigrations(store.database)).toEqual(
      known.map((m) => ({ id: m.id, name: m.name, appliedAt: 42 })),
    );
    expect(store.database.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.database.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(store.shared).toBe(false);
    await store.close();

    const again = await SqliteStore.open({ path, now: () => 99 });
    expect(appliedMigrations(again.database).map((m) => m.appliedAt)).toEqual(known.map(() => 42));
    await again.close();
  });

  it('refuses a database migrated by a newer bridge', async () => {
    const path = tempPath();
    await (await SqliteStore.open({ path })).close();
    const db = new BetterSqlite3(path);
    db.prepare("INSERT INTO schema_migrations (id, name, applied_at) VALUES (999, 'future', 0)").run();
    db.close();
    await expect(SqliteStore.open({ path })).rejects.toMatchObject({ code: 'STORE_TOO_NEW' });
  });

  it('reports an unopenable path as STORE_UNAVAILABLE', async () => {
    const path = tempPath();
    await (await SqliteStore.open({ path })).close();
    const refused = SqliteStore.open({ path: join(path, 'inside-a-file.db') });
    await expect(refused).rejects.toBeInstanceOf(StoreError);
    await expect(refused).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
  });
});

import { statSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { StoreError, type NewOutboxEntry, type StepCommit } from '../index.ts';
import { appliedMigrations, loadMigrations } from './migrate.ts';
import { SqliteStore } from './store.ts';

const dirs: string[] = [];
const tempPath = (name = 'bridge.db'): string => {
  const dir = mkdtempSync(join(tmpdir(), 'b24-store-'));
  dirs.push(dir);
  return join(dir, 'nested', name);
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const entry = (callKey: string, n: number, kind: NewOutboxEntry['kind'] = 'register'): NewOutboxEntry => ({
  callKey,
  opId: `${callKey}:${n}`,
  seq: n,
  lane: 'card',
  kind,
  payload: { type: `bitrix.${kind}`, n },
  nextAttemptAt: 0,
});

const step = (over: Partial<StepCommit> = {}): StepCommit => ({
  portalId: 'p1',
  now: 1000,
  input: { type: 'call.started', dedupeKey: 'e1', payload: { callId: 'c1' } },
  engine: { version: 1, seq: 0, shards: { s1: { c1: { key: 'c1@1' } } } },
  newEntries: [entry('c1@1', 0), entry('c1@1', 1, 'finish')],
  entryUpdates: [],
  ...over,
});

describe('migrations', () => {
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
    await expect(SqliteStore.open({ path: join(path, 'inside-a-file.db') })).rejects.toBeInstanceOf(
      StoreError,
    );
  });
});

describe('SqliteStore', () => {
  it('stores a step all or nothing', async () => {
    let fail = true;
    const store = await SqliteStore.open({
      path: tempPath(),
      failpoint: (site) => {
        if (fail && site === 'step') throw new Error('power cut');
      },
    });
    await expect(store.commitStep(step())).rejects.toMatchObject({ code: 'STORE_FAILED' });
    expect(await store.loadEngine('p1')).toBeUndefined();
    expect(await store.openCalls('p1')).toEqual([]);
    fail = false;
    expect(await store.commitStep(step())).toEqual({ stored: true });
    expect(await store.loadEngine('p1')).toEqual({
      version: 1,
      seq: 0,
      shards: { s1: { c1: { key: 'c1@1' } } },
    });
    const open = await store.openCalls('p1');
    expect(open.map((e) => [e.opId, e.kind, e.status, e.seq])).toEqual([
      ['c1@1:0', 'register', 'pending', 0],
      ['c1@1:1', 'finish', 'pending', 1],
    ]);
    await store.close();
  });

  it('takes a repeated input once and a replayed op id once', async () => {
    const store = await SqliteStore.open({ path: tempPath() });
    await store.commitStep(step());
    expect(await store.commitStep(step())).toEqual({ stored: false, reason: 'duplicate' });
    // Another input whose step re-emits an op id already stored (a replay): the entry is not doubled.
    await store.commitStep(step({ input: { type: 'x', dedupeKey: null, payload: {} } }));
    expect(await store.openCalls('p1')).toHaveLength(2);
    expect(store.database.prepare('SELECT count(*) AS n FROM inputs').get()).toEqual({ n: 2 });
    await store.close();
  });

  it('updates entries, requeues in-flight ones after a restart and counts the backlog', async () => {
    const path = tempPath();
    const store = await SqliteStore.open({ path });
    await store.commitStep(step());
    const [reg, fin] = await store.openCalls('p1');
    await store.updateEntries(
      [
        { id: reg!.id, status: 'done', result: { callId: 'X1' }, addAttempt: true },
        { id: fin!.id, status: 'in_flight', addAttempt: true },
      ],
      2000,
    );
    expect(await store.backlog('p1')).toEqual({
      pending: 0,
      inFlight: 1,
      failed: 0,
      dropped: 0,
      oldestOpenAt: 1000,
    });
    await store.close();

    const reopened = await SqliteStore.open({ path });
    expect(await reopened.requeueInFlight('p1', 3000)).toBe(1);
    const entries = await reopened.callEntries('p1', 'c1@1');
    expect(entries.map((e) => [e.status, e.attempts, e.result])).toEqual([
      ['done', 1, { callId: 'X1' }],
      ['pending', 1, null],
    ]);
    expect(await reopened.openCalls('p1')).toHaveLength(2);
    await reopened.close();
    await expect(reopened.backlog('p1')).rejects.toMatchObject({ code: 'STORE_CLOSED' });
  });

  it('keeps portals and their tokens (the client’s TokenStore)', async () => {
    const path = tempPath();
    const store = await SqliteStore.open({ path });
    const m1 = {
      memberId: 'm1',
      domain: 'a.bitrix24.ru',
      clientEndpoint: null,
      authKind: 'oauth',
      webhookUrl: null,
      applicationToken: 'app-token-1',
    } as const;
    await store.savePortal(m1, 1);
    await store.tokens.save('m1', { accessToken: 'a', refreshToken: 'r', expiresAt: 5 });
    await store.tokens.save('m1', { accessToken: 'a2', refreshToken: 'r2', expiresAt: 6 });
    await store.close();
    const again = await SqliteStore.open({ path });
    expect(await again.tokens.get('m1')).toEqual({ accessToken: 'a2', refreshToken: 'r2', expiresAt: 6 });
    expect(await again.tokens.get('m2')).toBeUndefined();
    expect(await again.listPortals()).toEqual([m1]);
    await again.deletePortal('m1', 7);
    expect(await again.listPortals()).toEqual([]);
    expect(await again.tokens.get('m1')).toBeUndefined();
    await again.close();
  });
});

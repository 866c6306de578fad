import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/core/index.ts';
import { Outbox } from '../../src/outbox/index.ts';
import { SqliteStore, StoreError } from '../../src/store/index.ts';
import { config, inboundCall, tempDir, timeOf } from './helpers.ts';
import { silentPortal } from '../support/fakes.ts';

const silent = silentPortal;

function counts(store: SqliteStore): { inputs: number; entries: number; shards: string } {
  const db = store.database;
  const n = (sql: string): number => (db.prepare(sql).get() as { n: number }).n;
  return {
    inputs: n('SELECT count(*) AS n FROM inputs'),
    entries: n('SELECT count(*) AS n FROM outbox_entries'),
    shards: JSON.stringify(db.prepare('SELECT shard, calls FROM engine_shards ORDER BY shard').all()),
  };
}

describe('a store that cannot be written refuses the input', () => {
  const tmp = tempDir();
  afterEach(() => tmp.cleanup());

  async function setup(name: string) {
    const store = await SqliteStore.open({ path: join(tmp.dir, name) });
    const outbox = await Outbox.open({ portalId: 'p1', store, engine: createEngine(config), api: silent });
    const calls = Array.from({ length: 400 }, (_, n) => inboundCall(n, 1_773_000_000_000 + n * 70_000));
    return { store, outbox, inputs: calls.flatMap((c) => c.inputs) };
  }

  it('full disk: STORE_FULL, the state and the store unchanged, the repeat accepted later', async () => {
    const { store, outbox, inputs } = await setup('full.db');
    const first = inputs[0]!;
    await outbox.accept(first.input, { dedupeKey: first.dedupeKey, now: timeOf(first.input) });
    // Freeze the file at its current size: the next write that needs a page fails as on a full disk.
    const pages = store.database.pragma('page_count', { simple: true }) as number;
    store.database.pragma(`max_page_count = ${pages}`);
    let refused: unknown = null;
    let at = 1;
    for (; at < inputs.length && refused === null; at++) {
      const item = inputs[at]!;
      const before = { state: outbox.engineState, rows: counts(store) };
      try {
        await outbox.accept(item.input, { dedupeKey: item.dedupeKey, now: timeOf(item.input) });
      } catch (e) {
        refused = e;
        expect(outbox.engineState).toBe(before.state);
        expect(counts(store)).toEqual(before.rows);
      }
    }
    expect(refused).toBeInstanceOf(StoreError);
    expect((refused as StoreError).code).toBe('STORE_FULL');
    // Space again: the PBX sends the refused event again, and it is taken once.
    store.database.pragma('max_page_count = 1073741823');
    const again = inputs[at - 1]!;
    const r = await outbox.accept(again.input, { dedupeKey: again.dedupeKey, now: timeOf(again.input) });
    expect(r.duplicate).toBe(false);
    const r2 = await outbox.accept(again.input, { dedupeKey: again.dedupeKey, now: timeOf(again.input) });
    expect(r2.duplicate).toBe(true);
    outbox.close();
    await store.close();
  });

  it('read-only database: STORE_READONLY, nothing half-applied', async () => {
    const { store, outbox, inputs } = await setup('ro.db');
    const first = inputs[0]!;
    await outbox.accept(first.input, { dedupeKey: first.dedupeKey, now: timeOf(first.input) });
    // chmod cannot stop root (these tests may run as root): query_only makes SQLite refuse every
    // write with SQLITE_READONLY, the code a read-only file or mount gives.
    store.database.pragma('query_only = ON');
    const before = { state: outbox.engineState, rows: counts(store) };
    const second = inputs[1]!;
    const error = await outbox
      .accept(second.input, { dedupeKey: second.dedupeKey, now: timeOf(second.input) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe('STORE_READONLY');
    expect(outbox.engineState).toBe(before.state);
    expect(counts(store)).toEqual(before.rows);
    outbox.close();
    await store.close();
  });
});

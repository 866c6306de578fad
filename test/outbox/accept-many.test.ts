import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/core/index.ts';
import { Outbox } from '../../src/outbox/index.ts';
import { SqliteStore, StoreError } from '../../src/store/index.ts';
import { config, inboundCall, tempDir } from './helpers.ts';
import { silentPortal } from '../support/fakes.ts';

const silent = silentPortal;

function counts(store: SqliteStore): { inputs: number; entries: number } {
  const n = (sql: string): number => (store.database.prepare(sql).get() as { n: number }).n;
  return {
    inputs: n('SELECT count(*) AS n FROM inputs'),
    entries: n('SELECT count(*) AS n FROM outbox_entries'),
  };
}

describe('Outbox.acceptMany: a PBX batch is stored all or nothing', () => {
  const tmp = tempDir();
  afterEach(() => tmp.cleanup());

  async function setup(name: string) {
    const store = await SqliteStore.open({ path: join(tmp.dir, name) });
    const outbox = await Outbox.open({ portalId: 'p1', store, engine: createEngine(config), api: silent });
    return { store, outbox };
  }

  it('stores a whole call in one commit, and recognises the repeat of the same batch', async () => {
    const { store, outbox } = await setup('batch.db');
    const call = inboundCall(1, 1_773_000_000_000);
    const first = await outbox.acceptMany(call.inputs, { now: 1_773_000_100_000 });
    expect(first.duplicate).toBe(false);
    const after = { state: outbox.engineState, rows: counts(store) };
    expect(after.rows.inputs).toBe(1);
    expect(after.rows.entries).toBeGreaterThan(0);
    const again = await outbox.acceptMany(call.inputs, { now: 1_773_000_200_000 });
    expect(again.duplicate).toBe(true);
    expect(outbox.engineState).toBe(after.state);
    expect(counts(store)).toEqual(after.rows);
    outbox.close();
    await store.close();
  });

  it('a batch that cannot be stored leaves neither rows nor state behind', async () => {
    const { store, outbox } = await setup('full.db');
    // Freeze the file at its current size: the batch's write fails as on a full disk.
    const pages = store.database.pragma('page_count', { simple: true }) as number;
    store.database.pragma(`max_page_count = ${pages}`);
    const calls = Array.from({ length: 40 }, (_, n) => inboundCall(n, 1_773_000_000_000 + n * 1000));
    const before = { state: outbox.engineState, rows: counts(store) };
    await expect(outbox.acceptMany(calls.flatMap((c) => c.inputs))).rejects.toBeInstanceOf(StoreError);
    expect(outbox.engineState).toBe(before.state);
    expect(counts(store)).toEqual(before.rows);
    outbox.close();
    await store.close();
  });

  it('tells the PBX of plans through the pbx event, as the accept answer does', async () => {
    const { store, outbox } = await setup('pbx.db');
    const seen: string[] = [];
    outbox.on('pbx', ({ effects }) => seen.push(...effects.map((e) => e.type)));
    const result = await outbox.accept(
      { type: 'route.requested', callId: 'r1', from: '+79990000001', to: '101' },
      { dedupeKey: 'r1/route' },
    );
    expect(result.pbx.map((e) => e.type)).toEqual(['pbx.plan']);
    expect(seen).toEqual(['pbx.plan']);
    outbox.close();
    await store.close();
  });
});

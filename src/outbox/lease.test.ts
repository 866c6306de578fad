import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../bitrix/index.ts';
import { SqliteStore, type Store } from '../store/index.ts';
import { leaseKeeper } from './lease.ts';

/** The store with every call it receives written down (the calls still go to the real store). */
function recorded(store: Store): { store: Store; calls: string[] } {
  const calls: string[] = [];
  const proxy = new Proxy(store, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(name));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls };
}

describe('the lease keeper on a store of one process (SQLite)', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('claims nothing, renews nothing, gives nothing back: every open call belongs to this process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'b24-lease-'));
    dirs.push(dir);
    const sqlite = await SqliteStore.open({ path: join(dir, 'bridge.db') });
    expect(sqlite.shared).toBe(false);
    const { store, calls } = recorded(sqlite);
    const keeper = leaseKeeper(store, 'p1', systemClock, { pollMs: 1 });
    expect(keeper.shared).toBe(false);
    expect(await keeper.claim(Date.now())).toEqual([]);
    let polled = 0;
    keeper.start(
      () => {
        polled += 1;
        return Promise.resolve();
      },
      () => undefined,
    );
    await keeper.settleRound([], [], []);
    keeper.stop();
    await keeper.release();
    expect(calls).toEqual(['openCalls']);
    expect(polled).toBe(0);
    await sqlite.close();
  });
});

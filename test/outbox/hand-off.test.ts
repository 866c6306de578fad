import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/core/index.ts';
import { Outbox, type OutboxApi } from '../../src/outbox/index.ts';
import { SqliteStore } from '../../src/store/index.ts';
import { config, inboundCall, tempDir, until } from './helpers.ts';

/** A portal that never answers, and tells which methods the outbox handed to it. */
function recordingPortal(called: string[]): OutboxApi {
  return new Proxy(
    {},
    {
      get: (_t, group: string) =>
        new Proxy(
          {},
          {
            get: (_u, method: string) => () => {
              called.push(`${group}.${method}`);
              return new Promise(() => undefined);
            },
          },
        ),
    },
  ) as OutboxApi;
}

describe("a call's register", () => {
  const tmp = tempDir();
  afterEach(() => tmp.cleanup());

  it('goes to the client with the commit of its step, stored in flight there, without a delivery round', async () => {
    const store = await SqliteStore.open({ path: join(tmp.dir, 'bridge.db') });
    const called: string[] = [];
    const outbox = await Outbox.open({
      portalId: 'p1',
      store,
      engine: createEngine(config),
      api: recordingPortal(called),
    });
    // The first round after a start reconciles what an earlier process left: it comes first.
    await until(outbox, 'idle', () => true);
    let reads = 0;
    const openCalls = store.openCalls.bind(store);
    store.openCalls = (portalId) => {
      reads += 1;
      return openCalls(portalId);
    };
    const call = inboundCall(1, Date.now());
    await outbox.acceptMany(call.inputs.slice(0, 2));
    // Handed over in the step's own turn: no round has read the open calls yet.
    expect(called).toEqual(['externalCall.register']);
    expect(reads).toBe(0);
    const row = store.database
      .prepare("SELECT status, attempts FROM outbox_entries WHERE kind = 'register'")
      .get();
    expect(row).toEqual({ status: 'in_flight', attempts: 1 });
    // The round the commit scheduled sees it in flight here and sends nothing again.
    const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < 100 && reads === 0; i++) await turn();
    await turn();
    expect(reads).toBeGreaterThan(0);
    expect(called).toEqual(['externalCall.register']);
    outbox.close();
    await store.close();
  });
});

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

  /** An outbox on a fresh SQLite file, past its first round (which reconciles what an earlier process left). */
  async function opened(name: string) {
    const store = await SqliteStore.open({ path: join(tmp.dir, name) });
    const called: string[] = [];
    const outbox = await Outbox.open({
      portalId: 'p1',
      store,
      engine: createEngine(config),
      api: recordingPortal(called),
    });
    await until(outbox, 'idle', () => true);
    return { store, called, outbox };
  }

  it('goes to the client with the commit of its step, stored in flight there, without a delivery round', async () => {
    const { store, called, outbox } = await opened('bridge.db');
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

  it('takes along the show of the other members a queue rings at once: one batch for the client', async () => {
    const { store, called, outbox } = await opened('queue.db');
    const at = Date.now();
    await outbox.acceptMany([
      {
        input: {
          type: 'call.started',
          callId: 'q1',
          at,
          direction: 'inbound',
          from: '+79161110000',
          to: '100',
        },
        dedupeKey: 'q1/started',
      },
      {
        input: { type: 'call.ringing', callId: 'q1', at: at + 1, extensions: ['101', '102', '103'] },
        dedupeKey: 'q1/ringing',
      },
    ]);
    // Both handed over by the step's commit, one after the other: the client sends them together.
    expect(called).toEqual(['externalCall.register', 'externalCall.show']);
    const rows = store.database.prepare('SELECT kind, status FROM outbox_entries ORDER BY id').all();
    expect(rows).toEqual([
      { kind: 'register', status: 'in_flight' },
      { kind: 'show', status: 'in_flight' },
    ]);
    outbox.close();
    await store.close();
  });
});

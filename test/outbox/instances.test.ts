import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BitrixClient } from '../../src/bitrix/index.ts';
import { allCalls, createEngine } from '../../src/core/index.ts';
import { Outbox } from '../../src/outbox/index.ts';
import { PostgresStore } from '../../src/store/postgres/index.ts';
import { startHarness, type Harness } from '../bitrix/helpers.ts';
import { waitFor } from '../e2e/processes.ts';
import { databaseUrl, dropSchemas, freshSchemaName, skipMessage, sql } from '../store/pg.ts';
import { config, inboundCall, timeOf, type EmulatorCall } from './helpers.ts';

if (databaseUrl === undefined) console.warn(skipMessage);

const limit = { rate: 100, burst: 1000 };

interface Instance {
  name: string;
  store: PostgresStore;
  client: BitrixClient;
  outbox: Outbox;
  counted: { stale: number; stored: number };
}

/**
 * Several instances in one process: two outboxes, each with its own store connection and client, on one
 * PostgreSQL schema, as two bridge instances. Each call starts on one and ends on the other; one
 * "dies" (its outbox and client stop, its leases stay until they expire) while calls are open.
 */
describe.skipIf(databaseUrl === undefined)('two outboxes on one PostgreSQL', () => {
  let h: Harness;
  const schemas: string[] = [];
  const instances: Instance[] = [];

  afterEach(async () => {
    for (const i of instances.splice(0)) {
      i.outbox.close();
      i.client.close();
      await i.store.close();
    }
    await h.close();
  });
  afterAll(() => dropSchemas(schemas));

  async function instance(name: string, schema: string, first: boolean, leaseMs = 1_000): Promise<Instance> {
    const store = await PostgresStore.open({ url: databaseUrl ?? '', schema, poolSize: 4 });
    const client = new BitrixClient({
      app: {
        clientId: h.app.clientId,
        clientSecret: h.app.clientSecret,
        oauthUrl: `${h.emulator.url}/oauth/token/`,
      },
      tokenStore: store.tokens,
      random: () => 0.5,
      retry: { minDelayMs: 1, maxDelayMs: 5, maxAttempts: 3 },
      shared: store.coordination,
    });
    const api = await client.addPortal({
      memberId: h.memberId,
      clientEndpoint: h.app.clientEndpoint,
      auth: {
        kind: 'oauth',
        ...(first
          ? {
              tokens: {
                accessToken: h.app.accessToken,
                refreshToken: h.app.refreshToken,
                expiresAt: Date.now() + h.app.expiresIn * 1000,
              },
            }
          : {}),
      },
      rateLimit: limit,
    });
    // Count the steps the store refused as stale (computed before another instance's step).
    const counted = { stale: 0, stored: 0 };
    const commit = store.commitStep.bind(store);
    store.commitStep = async (c) => {
      const outcome = await commit(c);
      if (outcome.stored) counted.stored += 1;
      else if (outcome.reason === 'stale') counted.stale += 1;
      return outcome;
    };
    const outbox = await Outbox.open({
      portalId: h.memberId,
      store,
      engine: createEngine(config),
      api,
      lease: { owner: name, leaseMs, pollMs: 100 },
    });
    const i: Instance = { name, store, client, outbox, counted };
    instances.push(i);
    return i;
  }

  it('continues each call on either instance and takes over the calls of one that died', async () => {
    h = await startHarness({ portalLimit: limit });
    const schema = freshSchemaName();
    schemas.push(schema);
    const a = await instance('A', schema, true);
    const b = await instance('B', schema, false);
    const base = Math.floor((Date.now() - 3600_000) / 1000) * 1000;
    const calls = Array.from({ length: 40 }, (_, n) => inboundCall(n, base + n * 70_000));

    // Calls 0–19 start on A and end on B, 20–39 the other way round; A dies after call 29 started.
    for (const [n, call] of calls.entries()) {
      const [starts, ends] = n < 20 ? [a, b] : [b, a];
      const [begin, end] = [call.inputs.slice(0, 2), call.inputs.slice(2)];
      for (const i of begin)
        await starts.outbox.accept(i.input, { dedupeKey: i.dedupeKey, now: timeOf(i.input) });
      if (n === 29) {
        a.outbox.close();
        a.client.close();
      }
      const target = n >= 29 || ends === b ? b : a;
      for (const i of end)
        await target.outbox.accept(i.input, { dedupeKey: i.dedupeKey, now: timeOf(i.input) });
    }

    const seen = await waitFor(
      'all 40 calls finished in the portal',
      async () => {
        const list = await h.inspect<EmulatorCall[]>('calls');
        return list.length >= 40 && list.every((c) => c.finished) ? list : undefined;
      },
      15_000,
    );
    expect(seen).toHaveLength(40);
    expect(new Set(seen.map((c) => c.externalCallId)).size).toBe(40);
    const byExternal = new Map(seen.map((c) => [c.externalCallId, c]));
    for (const call of calls) {
      expect(byExternal.get(`${call.callId}@${call.startedAt}`), call.callId).toMatchObject({
        finished: true,
        userId: call.userId,
        duration: call.durationSec,
      });
    }
    // B's view of the engine followed A's steps: every call is known to it, and over.
    await waitFor('B to know every call as finished', () => {
      const finished = allCalls(b.outbox.engineState).filter((c) => c.finished);
      return Promise.resolve(finished.length === 40 ? finished : undefined);
    });
    // Whatever A left in flight, B settles once A's lease has run out.
    const backlog = await waitFor('nothing open in the store', async () => {
      const now = await b.store.backlog(h.memberId);
      return now.pending + now.inFlight === 0 ? now : undefined;
    });
    expect(backlog).toMatchObject({ failed: 0, dropped: 0 });
    // Calls started on one instance and ended on the other: the second saw a stale state at least
    // once and stepped again over the fresh shards.
    expect(a.counted.stale + b.counted.stale).toBeGreaterThan(0);
    console.log(
      `two outboxes: steps stored A ${a.counted.stored}, B ${b.counted.stored}; refused as stale ` +
        `A ${a.counted.stale}, B ${b.counted.stale}`,
    );
  });

  it('hands its calls over at a clean stop, long before their leases would run out', async () => {
    h = await startHarness({ portalLimit: limit });
    const schema = freshSchemaName();
    schemas.push(schema);
    const a = await instance('A', schema, true, 60_000);
    const b = await instance('B', schema, false, 60_000);
    await h.faults({ outage: 'refuse' });
    const base = Math.floor((Date.now() - 3600_000) / 1000) * 1000;
    const calls = Array.from({ length: 3 }, (_, n) => inboundCall(n, base + n * 70_000));
    for (const call of calls) {
      for (const i of call.inputs)
        await a.outbox.accept(i.input, { dedupeKey: i.dedupeKey, now: timeOf(i.input) });
    }
    // B takes a share as well (A's commits notify it): A must hold at least one of them.
    await waitFor('the calls claimed, some by A', async () => {
      const rows = await sql<{ claimed_by: string | null }>(
        'SELECT claimed_by FROM outbox_calls',
        [],
        schema,
      );
      const byA = rows.filter((r) => r.claimed_by === 'A').length;
      return rows.length === 3 && rows.every((r) => r.claimed_by !== null) && byA > 0 ? byA : undefined;
    });
    // A stops cleanly (a rolling restart); the portal is back.
    a.outbox.close();
    a.client.close();
    await a.outbox.release();
    await h.clearFaults();
    const seen = await waitFor(
      'B to deliver the three calls',
      async () => {
        const list = await h.inspect<EmulatorCall[]>('calls');
        return list.length >= 3 && list.every((c) => c.finished) ? list : undefined;
      },
      // B meets the portal again at its next probe after the outage: a few seconds, more on a busy CI.
      30_000,
    );
    expect(new Set(seen.map((c) => c.externalCallId)).size).toBe(3);
    await waitFor('nothing open', async () => {
      const now = await b.store.backlog(h.memberId);
      return now.pending + now.inFlight === 0 ? now : undefined;
    });
  }, 60_000);
});

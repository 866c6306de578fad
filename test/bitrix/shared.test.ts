import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  BitrixClient,
  MemoryTokenStore,
  type PortalApi,
  type RateLimit,
  type RefreshLock,
  type SharedBudget,
  type TokenStore,
} from '../../src/bitrix/index.ts';
import { PostgresStore } from '../../src/store/postgres/index.ts';
import { databaseUrl, dropSchemas, freshSchemaName, skipMessage } from '../store/pg.ts';
import { queryLimitHits, startHarness, type Harness } from './helpers.ts';

/**
 * Several instances: two clients (two bridge instances) on one portal share its request budget and its
 * token refresh through the optional hooks (`shared` in the client's options). Run with an
 * in-memory coordination, and with PostgreSQL's when DATABASE_URL is set.
 */

interface Coordination {
  budget: SharedBudget;
  refreshLock: RefreshLock;
  tokens: TokenStore;
  close(): Promise<void>;
}

/** One process's stand-in for the database: one bucket per portal, one mutex per portal. */
function memoryCoordination(): Coordination {
  const buckets = new Map<string, { level: number; at: number }>();
  const locks = new Map<string, Promise<unknown>>();
  const drained = (memberId: string, limit: RateLimit, now: number) => {
    const b = buckets.get(memberId) ?? { level: 0, at: now };
    return { level: Math.max(0, b.level - ((now - b.at) / 1000) * limit.rate), at: now };
  };
  return {
    budget: {
      take: (memberId, limit, headroom) => {
        const now = Date.now();
        const b = drained(memberId, limit, now);
        const over = b.level + 1 - Math.max(1, limit.burst - headroom);
        if (over > 1e-9) return Promise.resolve(Math.max(1, Math.ceil((over / limit.rate) * 1000)));
        buckets.set(memberId, { level: b.level + 1, at: now });
        return Promise.resolve(0);
      },
      fill: (memberId, limit) => {
        const now = Date.now();
        buckets.set(memberId, { level: Math.max(drained(memberId, limit, now).level, limit.burst), at: now });
        return Promise.resolve();
      },
    },
    refreshLock: {
      withLock: <T>(memberId: string, fn: () => Promise<T>): Promise<T> => {
        const run = (locks.get(memberId) ?? Promise.resolve()).then(fn, fn);
        locks.set(
          memberId,
          run.catch(() => undefined),
        );
        return run;
      },
    },
    tokens: new MemoryTokenStore(),
    close: () => Promise.resolve(),
  };
}

const schemas: string[] = [];
async function postgresCoordination(): Promise<Coordination> {
  const schema = freshSchemaName();
  schemas.push(schema);
  const store = await PostgresStore.open({ url: databaseUrl ?? '', schema, poolSize: 4 });
  return { ...store.coordination, tokens: store.tokens, close: () => store.close() };
}

if (databaseUrl === undefined) console.warn(`${skipMessage} (the memory coordination still runs)`);

const kinds: [string, () => Promise<Coordination>][] = [
  ['in memory', () => Promise.resolve(memoryCoordination())],
  ...(databaseUrl === undefined
    ? []
    : [['on PostgreSQL', postgresCoordination] as [string, () => Promise<Coordination>]]),
];

/** A second client on the harness's portal, as another instance would have. */
async function secondInstance(
  h: Harness,
  limit: RateLimit,
  shared: Coordination | undefined,
  tokens: TokenStore,
): Promise<{ client: BitrixClient; api: PortalApi }> {
  const client = new BitrixClient({
    app: {
      clientId: h.app.clientId,
      clientSecret: h.app.clientSecret,
      oauthUrl: `${h.emulator.url}/oauth/token/`,
    },
    random: () => 0.5,
    tokenStore: tokens,
    ...(shared ? { shared: { budget: shared.budget, refreshLock: shared.refreshLock } } : {}),
  });
  const api = await client.addPortal({
    memberId: h.memberId,
    clientEndpoint: h.app.clientEndpoint,
    auth: { kind: 'oauth' },
    rateLimit: limit,
  });
  return { client, api };
}

describe('two instances of the client on one portal', () => {
  let h: Harness | undefined;
  const extra: BitrixClient[] = [];
  const open: Coordination[] = [];
  afterEach(async () => {
    for (const c of extra.splice(0)) c.close();
    await h?.close();
    h = undefined;
    for (const c of open.splice(0)) await c.close();
  });
  afterAll(() => dropSchemas(schemas));

  /** Both instances send `each` requests, one after another each, all at once together. */
  async function burst(shared: Coordination | undefined, each: number): Promise<Harness> {
    // Fast drain, small bucket: a second of traffic shows whether two buckets add up.
    const limit = { rate: 20, burst: 10 };
    const coordination = shared ?? memoryCoordination();
    const harness = await startHarness({
      portalLimit: limit,
      client: {
        tokenStore: coordination.tokens,
        ...(shared ? { shared: { budget: shared.budget, refreshLock: shared.refreshLock } } : {}),
      },
    });
    h = harness;
    const second = await secondInstance(harness, limit, shared, coordination.tokens);
    extra.push(second.client);
    harness.mark();
    const run = (api: PortalApi) => async () => {
      for (let i = 0; i < each; i += 1) await api.app.info();
    };
    await Promise.all([run(harness.api)(), run(second.api)()]);
    return harness;
  }

  it('without a shared budget, each fills the bucket on its own: the portal refuses some', async () => {
    const harness = await burst(undefined, 20);
    expect(queryLimitHits(harness.requests)).toBeGreaterThan(0);
  });

  it('without the refresh lock, the second instance refreshes with a spent token and is told to re-install', async () => {
    const tokens = new MemoryTokenStore();
    const limit = { rate: 1000, burst: 1000 };
    const harness = await startHarness({ portalLimit: limit, client: { tokenStore: tokens } });
    h = harness;
    const second = await secondInstance(harness, limit, undefined, tokens);
    extra.push(second.client);
    const refreshes: string[] = [];
    harness.client.on('refresh', (r) => refreshes.push(r.ok ? 'ok' : (r.code ?? 'failed')));
    second.client.on('refresh', (r) => refreshes.push(r.ok ? 'ok' : (r.code ?? 'failed')));
    await harness.faults({ expireTokens: true });
    const outcomes = await Promise.allSettled([harness.api.app.info(), second.api.app.info()]);
    expect(refreshes.sort()).toEqual(['NEEDS_REINSTALL', 'ok']);
    expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(1);
  });

  for (const [kind, make] of kinds) {
    it(`with the shared budget (${kind}), together they stay within the portal's limit`, async () => {
      const shared = await make();
      open.push(shared);
      const harness = await burst(shared, 20);
      expect(queryLimitHits(harness.requests)).toBe(0);
      expect(harness.requests.filter((r) => r.method === 'app.info' && r.status === 200)).toHaveLength(40);
    });

    it(`with the refresh lock (${kind}), an expired token is refreshed once for both`, async () => {
      const shared = await make();
      open.push(shared);
      const limit = { rate: 1000, burst: 1000 };
      const harness = await startHarness({
        portalLimit: limit,
        client: {
          tokenStore: shared.tokens,
          shared: { budget: shared.budget, refreshLock: shared.refreshLock },
        },
      });
      h = harness;
      const second = await secondInstance(harness, limit, shared, shared.tokens);
      extra.push(second.client);
      const refreshes: string[] = [];
      harness.client.on('refresh', (r) => refreshes.push(`A ${r.ok ? 'ok' : (r.code ?? 'failed')}`));
      second.client.on('refresh', (r) => refreshes.push(`B ${r.ok ? 'ok' : (r.code ?? 'failed')}`));
      await harness.faults({ expireTokens: true });
      // Both are refused as expired; both want a new token at once. A second refresh would use a
      // refresh token the first already spent (invalid_grant: "re-install the app").
      const [a, b] = await Promise.all([harness.api.app.info(), second.api.app.info()]);
      expect(a.code).toBe(b.code);
      expect(refreshes).toHaveLength(1);
      expect(refreshes[0]).toMatch(/ok$/);
      expect((await shared.tokens.get(harness.memberId))?.needsReinstall).toBeUndefined();
    });
  }
});

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BitrixClient, type RetryOverrides } from '../../src/bitrix/index.ts';
import { createEngine } from '../../src/core/index.ts';
import { Outbox } from '../../src/outbox/index.ts';
import { SqliteStore } from '../../src/store/index.ts';
import { startHarness, type Harness } from '../bitrix/helpers.ts';
import { config, inboundCall, tempDir, timeOf, type EmulatorCall } from './helpers.ts';
import { prng } from '../support/fakes.ts';

const fast: RetryOverrides = { minDelayMs: 1, maxDelayMs: 5, maxAttempts: 3 };
const limit = { rate: 100, burst: 1000 };

/**
 * The bridge dies at random moments while 200 calls are fed and delivered: inside a store
 * transaction (it rolls back, as after a crash before the commit), or right after a request left
 * (its answer is lost). Each time a new client and a new outbox are opened over the same file;
 * the PBX re-sends what was not acknowledged (and a few events that were). In the end the portal
 * holds exactly 200 finished calls, none twice.
 */
describe('crash and restart', () => {
  let h: Harness;
  const tmp = tempDir();
  beforeAll(async () => {
    h = await startHarness({ portalLimit: limit, client: { retry: fast } });
  });
  afterAll(async () => {
    await h.close();
    tmp.cleanup();
  });

  it('delivers 200 calls exactly once across random crashes', async () => {
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
    const random = prng(seed);
    const path = join(tmp.dir, 'bridge.db');
    const base = Math.floor((Date.now() - 6 * 3600_000) / 1000) * 1000;
    const calls = Array.from({ length: 200 }, (_, n) => inboundCall(n, base + n * 70_000));
    const inputs = calls.flatMap((c) => c.inputs);
    let fed = 0;
    let lives = 0;
    let crashes = 0;
    let duplicates = 0;
    let tokensSaved = false;
    const maxCrashes = 14;

    while (true) {
      lives += 1;
      const last = crashes >= maxCrashes;
      const life = { crashed: false };
      let signal!: () => void;
      const crash = new Promise<void>((resolve) => (signal = resolve));
      const die = (): void => {
        if (life.crashed) return;
        life.crashed = true;
        signal();
      };
      let writes = 0;
      const byWrite = random() < 0.6;
      const crashAt = 1 + Math.floor(random() * 60);
      const store = await SqliteStore.open({
        path,
        failpoint: () => {
          writes += 1;
          if (!last && byWrite && writes >= crashAt) die();
          // Once dead, nothing more reaches the disk: the transaction in progress rolls back.
          if (life.crashed) throw new Error('crashed');
        },
      });
      const client = new BitrixClient({
        app: {
          clientId: h.app.clientId,
          clientSecret: h.app.clientSecret,
          oauthUrl: `${h.emulator.url}/oauth/token/`,
        },
        tokenStore: store.tokens,
        random: () => 0.5,
        retry: fast,
      });
      let outbox: Outbox;
      try {
        const api = await client.addPortal({
          memberId: h.memberId,
          clientEndpoint: h.app.clientEndpoint,
          auth: {
            kind: 'oauth',
            // The first start has the installation's tokens; later ones find them in the store.
            tokens: tokensSaved
              ? undefined
              : {
                  accessToken: h.app.accessToken,
                  refreshToken: h.app.refreshToken,
                  expiresAt: Date.now() + h.app.expiresIn * 1000,
                },
          },
          rateLimit: limit,
        });
        tokensSaved = true;
        if (!last && !byWrite) {
          // Die right as the k-th request leaves: its answer, if any, is never seen.
          let requests = 0;
          client.on('request', () => {
            requests += 1;
            if (requests >= crashAt % 12) {
              die();
              client.close();
            }
          });
        }
        outbox = await Outbox.open({ portalId: h.memberId, store, engine: createEngine(config), api });
      } catch (e) {
        // Died while starting up.
        expect(life.crashed, String(e)).toBe(true);
        client.close();
        await store.close();
        crashes += 1;
        continue;
      }

      // The PBX sends what was not acknowledged, and a few events again that were.
      const chunk = last ? inputs.length : 20 + Math.floor(random() * 100);
      const end = Math.min(inputs.length, fed + chunk);
      for (let i = Math.max(0, fed - 3); i < end && !life.crashed; i++) {
        const item = inputs[i];
        if (!item) break;
        try {
          const r = await outbox.accept(item.input, { dedupeKey: item.dedupeKey, now: timeOf(item.input) });
          if (r.duplicate) duplicates += 1;
          if (i >= fed) fed = i + 1;
        } catch {
          break;
        }
      }
      await Promise.race([crash, outbox.whenIdle()]);
      // The process is gone: its client stops, its timers die; nothing is cleaned up in the store.
      client.close();
      outbox.close();
      await store.close();
      if (life.crashed) crashes += 1;
      // Everything fed and delivered without a crash: nothing is left to interrupt.
      if (fed === inputs.length && !life.crashed) break;
      if (lives > 60) throw new Error(`seed ${seed}: no progress after ${lives} lives`);
    }

    const seen = await h.inspect<EmulatorCall[]>('calls');
    const external = seen.map((c) => c.externalCallId);
    expect(new Set(external).size, `seed ${seed}`).toBe(seen.length);
    expect(seen, `seed ${seed}`).toHaveLength(200);
    expect(seen.every((c) => c.finished)).toBe(true);
    const finishes = h.requests.flatMap((r) => r.commands).filter((c) => /finish/i.test(c)).length;
    const check = await SqliteStore.open({ path });
    const backlog = await check.backlog(h.memberId);
    await check.close();
    expect(backlog).toMatchObject({ pending: 0, inFlight: 0, failed: 0 });
    console.log(
      `crash test (seed ${seed}): ${lives} lives, ${crashes} crashes, ${duplicates} repeated events ignored, ` +
        `${h.requests.length} requests, ${finishes} finish commands for 200 calls`,
    );
  });
});

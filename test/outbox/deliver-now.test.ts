import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/core/index.ts';
import { Outbox } from '../../src/outbox/index.ts';
import { SqliteStore } from '../../src/store/index.ts';
import { startHarness, type Harness } from '../bitrix/helpers.ts';
import { config, inboundCall, ManualClock, tempDir, timeOf, until, type EmulatorCall } from './helpers.ts';

/**
 * The admin's "replay now": after an outage the outbox waits for its next probe (here: never, the
 * clock does not move); `deliverNow()` probes at once and the backlog drains.
 */
describe('deliverNow', () => {
  let h: Harness;
  const tmp = tempDir();
  beforeAll(async () => {
    h = await startHarness({ client: { retry: { minDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 } } });
  });
  afterAll(async () => {
    await h.close();
    tmp.cleanup();
  });

  it('sends what waits without waiting for the next probe', async () => {
    await h.faults({ outage: 'refuse' });
    const store = await SqliteStore.open({ path: join(tmp.dir, 'bridge.db') });
    const clock = new ManualClock(Date.now());
    const outbox = await Outbox.open({
      portalId: h.memberId,
      store,
      engine: createEngine(config),
      api: h.api,
      clock,
      policy: { probeMinDelayMs: 3_600_000, probeMaxDelayMs: 3_600_000 },
    });
    const down = until(outbox, 'link', (e) => e.state === 'down');
    const call = inboundCall(1, Date.now() - 60_000);
    for (const { input, dedupeKey } of call.inputs)
      await outbox.accept(input, { dedupeKey, now: timeOf(input) });
    await down;
    if (outbox.inFlightCount > 0) await until(outbox, 'entry', () => outbox.inFlightCount === 0);
    await h.clearFaults();
    expect((await store.backlog(h.memberId)).pending).toBeGreaterThan(0);

    const up = until(outbox, 'link', (e) => e.state === 'up');
    outbox.deliverNow();
    await up;
    await outbox.whenIdle();
    expect(await store.backlog(h.memberId)).toMatchObject({ pending: 0, inFlight: 0, failed: 0 });
    const calls = await h.inspect<EmulatorCall[]>('calls');
    expect(calls.map((c) => [c.externalCallId, c.finished])).toEqual([
      [`${call.callId}@${String(call.startedAt)}`, true],
    ]);
    outbox.close();
    await store.close();
  });
});

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/core/index.ts';
import { bridgeMetrics, Registry } from '../../src/metrics/index.ts';
import { watchOutbox } from '../../src/metrics/index.ts';
import { FAULT_CODE, Outbox, type OutboxApi, type OutboxEvents } from '../../src/outbox/index.ts';
import { SqliteStore } from '../../src/store/index.ts';
import { startHarness, type Harness } from '../bitrix/helpers.ts';
import { config, inboundCall, ManualClock, tempDir, timeOf, until, type EmulatorCall } from './helpers.ts';

/** The portal's API with a bug in `finish`, for as long as `broken` holds. */
function buggyFinish(api: OutboxApi, state: { broken: boolean }): OutboxApi {
  const externalCall: OutboxApi['externalCall'] = {
    register: (p, o) => api.externalCall.register(p, o),
    show: (p, o) => api.externalCall.show(p, o),
    hide: (p, o) => api.externalCall.hide(p, o),
    attachRecordUrl: (p, o) => api.externalCall.attachRecordUrl(p, o),
    uploadRecord: (p, o) => api.externalCall.uploadRecord(p, o),
    searchCrmEntities: (n, o) => api.externalCall.searchCrmEntities(n, o),
    finish: (p, o) => {
      // A bug as it happens: a property of undefined (a TypeError, not a BitrixError).
      const params = (state.broken ? undefined : p) as typeof p;
      return api.externalCall.finish({ ...params, duration: params.duration }, o);
    },
  };
  return { externalCall, crm: api.crm };
}

describe('an error the error table does not know', () => {
  let h: Harness;
  const tmp = tempDir();
  beforeAll(async () => {
    h = await startHarness({ client: { retry: { minDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 } } });
  });
  afterAll(async () => {
    await h.close();
    tmp.cleanup();
  });

  it('delays the operation, never drops it: delivered once the fault is gone, exactly once', async () => {
    const store = await SqliteStore.open({ path: join(tmp.dir, 'bridge.db') });
    const clock = new ManualClock(Date.now());
    const state = { broken: true };
    const outbox = await Outbox.open({
      portalId: h.memberId,
      store,
      engine: createEngine(config),
      api: buggyFinish(h.api, state),
      clock,
      policy: { entryMinDelayMs: 1_000, entryMaxDelayMs: 1_000 },
    });
    const registry = new Registry();
    watchOutbox(bridgeMetrics(registry), outbox, () => 'direct');
    const faults: OutboxEvents['fault'][0][] = [];
    outbox.on('fault', (f) => faults.push(f));
    const faulted = until(outbox, 'entry', (e) => e.kind === 'finish' && e.code === FAULT_CODE);

    const call = inboundCall(1, Date.now() - 60_000);
    for (const { input, dedupeKey } of call.inputs)
      await outbox.accept(input, { dedupeKey, now: timeOf(input) });
    await faulted;

    // Held back, not failed: the entry waits for its backoff, the link is still up.
    expect(outbox.link).toBe('up');
    expect(await store.backlog(h.memberId)).toMatchObject({ pending: 1, failed: 0 });
    const fault = faults.find((f) => f.where === 'delivery');
    expect(fault?.error).toBeInstanceOf(TypeError);
    expect(fault?.entry?.kind).toBe('finish');
    expect(fault?.entry?.callKey).toContain(call.callId);
    expect(fault?.entry?.retryInMs).toBe(1_000);
    expect(await registry.expose()).toMatch(/^b24_bridge_outbox_faults_total\{where="delivery"\} 1$/m);
    let calls = await h.inspect<EmulatorCall[]>('calls');
    expect(calls.map((c) => c.finished)).toEqual([false]);

    // Still broken at the next try: still pending, tried again later.
    const again = until(outbox, 'entry', (e) => e.kind === 'finish' && e.code === FAULT_CODE);
    clock.advance(1_000);
    await again;
    expect(await store.backlog(h.memberId)).toMatchObject({ pending: 1, failed: 0 });

    // The bug is fixed (a new engine, a restart: here a flag): the next try delivers it.
    state.broken = false;
    const done = until(outbox, 'entry', (e) => e.kind === 'finish' && e.status === 'done');
    clock.advance(1_000);
    await done;
    await outbox.whenIdle();
    expect(await store.backlog(h.memberId)).toMatchObject({ pending: 0, inFlight: 0, failed: 0 });
    calls = await h.inspect<EmulatorCall[]>('calls');
    expect(calls.map((c) => [c.externalCallId, c.finished])).toEqual([
      [`${call.callId}@${String(call.startedAt)}`, true],
    ]);
    const finishes = h.requests.flatMap((r) => r.commands).filter((c) => /finish/i.test(c));
    expect(finishes).toHaveLength(1);
    outbox.close();
    await store.close();
  });
});

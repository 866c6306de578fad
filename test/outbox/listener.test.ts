import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/core/index.ts';
import { Outbox, type OutboxEvents } from '../../src/outbox/index.ts';
import { SqliteStore } from '../../src/store/index.ts';
import { startHarness, type Harness } from '../bitrix/helpers.ts';
import { config, inboundCall, ManualClock, tempDir, timeOf, type EmulatorCall } from './helpers.ts';

/**
 * Listeners are someone else's code: one that throws must neither re-run the result handler
 * (which would commit `bitrix.registered` again) nor stop delivery.
 */
describe('a listener that throws', () => {
  let h: Harness;
  const tmp = tempDir();
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
    tmp.cleanup();
  });

  it('cannot re-commit steps or break delivery: the call is delivered once, its faults reported', async () => {
    const store = await SqliteStore.open({ path: join(tmp.dir, 'bridge.db') });
    const clock = new ManualClock(Date.now());
    const outbox = await Outbox.open({
      portalId: h.memberId,
      store,
      engine: createEngine(config),
      api: h.api,
      clock,
    });
    const boom = (): never => {
      throw new Error('listener bug');
    };
    for (const event of ['accepted', 'entry', 'submitted', 'pbx', 'link'] as const) outbox.on(event, boom);
    const faults: OutboxEvents['fault'][0][] = [];
    outbox.on('fault', (f) => faults.push(f));

    const call = inboundCall(1, Date.now() - 60_000);
    for (const { input, dedupeKey } of call.inputs) {
      const r = await outbox.accept(input, { dedupeKey, now: timeOf(input) });
      expect(r.duplicate).toBe(false);
    }
    await outbox.whenIdle();
    // A result handler that failed would run again after the entry delay: let that time pass, then
    // queue a step behind whatever it would have queued (the repeat of an input, recognised).
    clock.advance(60_000);
    const first = call.inputs[0]!;
    expect((await outbox.accept(first.input, { dedupeKey: first.dedupeKey })).duplicate).toBe(true);

    expect(await store.backlog(h.memberId)).toMatchObject({ pending: 0, inFlight: 0, failed: 0 });
    const calls = await h.inspect<EmulatorCall[]>('calls');
    expect(calls.map((c) => [c.externalCallId, c.finished])).toEqual([
      [`${call.callId}@${String(call.startedAt)}`, true],
    ]);
    const journal = store.database.prepare('SELECT type FROM inputs ORDER BY id').all() as { type: string }[];
    const types = journal.map((j) => j.type);
    expect(types.filter((t) => t === 'bitrix.registered')).toHaveLength(1);
    expect(types.filter((t) => t.startsWith('call.'))).toEqual([
      'call.started',
      'call.ringing',
      'call.answered',
      'call.ended',
    ]);
    const registers = h.requests.flatMap((r) => r.commands).filter((c) => /register/i.test(c));
    expect(registers).toHaveLength(1);
    expect(faults.length).toBeGreaterThan(0);
    expect(new Set(faults.map((f) => f.where))).toEqual(
      new Set(['listener:accepted', 'listener:entry', 'listener:submitted']),
    );
    outbox.close();
    await store.close();
  });
});

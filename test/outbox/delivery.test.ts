import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/bitrix/index.ts';
import { createEngine } from '../../src/core/index.ts';
import { Delivery } from '../../src/outbox/delivery.ts';
import { EngineHost } from '../../src/outbox/engine-host.ts';
import { safeEmitter, defaultDeliveryPolicy, type OutboxEvents } from '../../src/outbox/index.ts';
import { leaseKeeper } from '../../src/outbox/lease.ts';
import { Serial } from '../../src/outbox/serial.ts';
import { SqliteStore } from '../../src/store/index.ts';
import { startHarness, type Harness } from '../bitrix/helpers.ts';
import { EventEmitter } from 'node:events';
import { config, inboundCall, tempDir, timeOf } from './helpers.ts';

/** Delivery on its own, over a real store and the emulator: claim, hand-off, results fed back. */
describe('delivery', () => {
  let h: Harness;
  const tmp = tempDir();
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
    tmp.cleanup();
  });

  it('marks an entry in flight before the portal sees it, and feeds the answer back into the engine', async () => {
    const store = await SqliteStore.open({ path: join(tmp.dir, 'bridge.db') });
    // Every in-flight mark written apart from a step (the register's goes into its step).
    const markWrites: number[] = [];
    const updateEntries = store.updateEntries.bind(store);
    store.updateEntries = (updates, now) => {
      markWrites.push(...updates.filter((u) => u.status === 'in_flight').map((u) => u.id));
      return updateEntries(updates, now);
    };
    const serial = new Serial();
    const events = new EventEmitter<OutboxEvents>();
    const emit = safeEmitter(events);
    let delivery: Delivery | null = null;
    const host = await EngineHost.load({
      portalId: h.memberId,
      store,
      engine: createEngine(config),
      clock: systemClock,
      serial,
      timerRetryMs: 1_000,
      committed: (c) => {
        if (c.touchedEntries) delivery?.schedule();
      },
      handOff: (entry) => delivery?.handOff(entry) ?? false,
      fault: () => undefined,
    });
    delivery = new Delivery({
      portalId: h.memberId,
      store,
      api: h.api,
      clock: systemClock,
      policy: defaultDeliveryPolicy,
      serial,
      host,
      lease: leaseKeeper(store, h.memberId, systemClock),
      emit,
    });
    // What the store said of each entry at the moment the portal received its request.
    const atPortal: string[] = [];
    h.emulator.portal.on('request', () => {
      const rows = store.database
        .prepare("SELECT kind, status, attempts FROM outbox_entries WHERE status != 'pending' ORDER BY id")
        .all() as { kind: string; status: string; attempts: number }[];
      atPortal.push(...rows.filter((r) => r.status === 'in_flight').map((r) => `${r.kind}:${r.attempts}`));
    });
    const done: string[] = [];
    events.on('entry', (e) => {
      if (e.status === 'done') done.push(e.kind);
    });
    const idle = new Promise<void>((resolve) => events.on('idle', resolve));
    const call = inboundCall(7, Date.now() - 60_000);
    for (const { input, dedupeKey } of call.inputs)
      await serial.run(() => host.step(input, timeOf(input), dedupeKey));
    await idle;
    expect(atPortal).toContain('register:1');
    const register = store.database
      .prepare("SELECT id FROM outbox_entries WHERE kind = 'register'")
      .get() as {
      id: number;
    };
    expect(markWrites).not.toContain(register.id);
    expect(markWrites.length).toBeGreaterThan(0);
    expect(done).toContain('register');
    expect(done).toContain('finish');
    // The register's answer went into the engine: the call knows its Bitrix24 CALL_ID.
    const journal = store.database.prepare('SELECT type FROM inputs ORDER BY id').all() as { type: string }[];
    expect(journal.map((j) => j.type)).toContain('bitrix.registered');
    const entries = store.database.prepare('SELECT status FROM outbox_entries').all() as { status: string }[];
    expect(entries.every((e) => e.status === 'done')).toBe(true);
    expect(delivery.link).toBe('up');
    expect(delivery.isIdle).toBe(true);
    delivery.close();
    host.close();
    await store.close();
  });
});

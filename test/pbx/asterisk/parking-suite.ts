/**
 * AMI events that arrive while no portal is installed are parked in the store (bounded, with a
 * metric) and fed to the portal's outbox, in order, once one is there; the same on SQLite and
 * PostgreSQL (`parking.test.ts`, `parking-postgres.test.ts`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startPbxAdapters } from '../../../src/bridge/adapters.ts';
import { Parking } from '../../../src/bridge/parking.ts';
import { CommandBoard, CommandRouter, timedEventKey } from '../../../src/intake/index.ts';
import { bridgeMetrics, Registry } from '../../../src/metrics/index.ts';
import { AsteriskAdapter } from '../../../src/pbx/asterisk/index.ts';
import type { PbxEvent } from '../../../src/pbx/index.ts';
import type { Store } from '../../../src/store/index.ts';
import { conformanceConfig, JournalIntake, PBX_TOKEN } from '../conformance.ts';
import { captureMessages, FakeAmi } from './fake-ami.ts';
import { fakeAmiSettings, mapCapture } from './helpers.ts';

/** What a poll for a condition waits at most. */
const WAIT_MS = 10_000;

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const by = Date.now() + WAIT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > by) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The value of one series in the Prometheus text, or undefined. */
async function series(registry: Registry, name: string, labels: string): Promise<number | undefined> {
  const text = await registry.expose();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

export function parkingSuite(name: string, fresh: () => Promise<Store>): void {
  describe(`AMI events before a portal is installed (${name})`, () => {
    const closers: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const close of closers.splice(0).reverse()) await close();
    });

    async function setUp(maxParkedEvents: number) {
      const store = await fresh();
      const ami = await FakeAmi.start();
      const config = conformanceConfig({
        kind: 'asterisk',
        ami: { ...fakeAmiSettings(ami), maxParkedEvents },
      });
      const board = new CommandBoard();
      const router = new CommandRouter({ pbxes: [{ id: 'office', token: PBX_TOKEN }], board });
      const registry = new Registry();
      const metrics = bridgeMetrics(registry);
      const intake = new JournalIntake();
      const portal: { outbox: JournalIntake | undefined } = { outbox: undefined };
      const logs: { level: string; message: string }[] = [];
      const adapters = await startPbxAdapters({
        config,
        outboxFor: () => portal.outbox,
        router,
        parked: store.parked,
        eventsParked: metrics.eventsParked,
        eventsDropped: metrics.eventsDropped,
        log: (level, message) => logs.push({ level, message }),
        asterisk: {
          retry: { minDelayMs: 5, maxDelayMs: 20 },
          deliveryRetry: { minDelayMs: 5, maxDelayMs: 20 },
          pingIntervalMs: 0,
        },
      });
      closers.push(async () => {
        await adapters.stop();
        router.close();
        board.close();
        await ami.close();
        await store.close();
      });
      await until('the AMI login', () => (ami.logins > 0 ? true : undefined));
      const adapter = adapters.adapters.get('office');
      if (!(adapter instanceof AsteriskAdapter)) throw new Error('no Asterisk adapter');
      return { store, ami, intake, portal, registry, logs, adapter };
    }

    /** The call events a capture maps to, as the sink is given them (recordings aside). */
    const expected = (capture: string): PbxEvent[] =>
      mapCapture(capture).events.filter((e): e is PbxEvent => e.type !== 'asterisk.recording');

    it('keeps them in the store, not in memory, and feeds them in order once a portal is installed', async () => {
      const t = await setUp(10_000);
      const delivered: PbxEvent[] = [];
      t.adapter.on('delivered', (batch) => delivered.push(...batch));
      t.ami.send(captureMessages('01-inbound-direct'));
      const want = expected('01-inbound-direct').map((e) => e.type);
      // The sink took them (the adapter's memory is empty): they are in the store.
      await until('the call parked', () => (delivered.length === want.length ? true : undefined));
      expect(await t.store.parked.count('office')).toBe(want.length);
      expect(await series(t.registry, 'b24_bridge_pbx_events_parked', 'pbx="office"')).toBe(want.length);
      expect(t.intake.stepped).toHaveLength(0);

      // A portal is installed: the parked events go to its outbox without waiting for a new one.
      t.portal.outbox = t.intake;
      await until('the parked events fed', () =>
        t.intake.stepped.length === want.length ? true : undefined,
      );
      expect(t.intake.events().map((e) => e.type)).toEqual(want);
      expect(await t.store.parked.count('office')).toBe(0);
      expect(await series(t.registry, 'b24_bridge_pbx_events_parked', 'pbx="office"')).toBe(0);

      // Later events come after them, straight to the outbox.
      const fresh = captureMessages('10-inbound-missed-caller-hangup').map((m) =>
        m.replace(/\b1795(\d{6}\.\d+)\b/g, '2111$1'),
      );
      t.ami.send(fresh);
      const more = expected('10-inbound-missed-caller-hangup').length;
      await until('the next call', () => (t.intake.stepped.length === want.length + more ? true : undefined));
      expect(await t.store.parked.count('office')).toBe(0);
    });

    it('keeps at most maxParkedEvents, dropping the oldest, counted and logged once', async () => {
      const t = await setUp(2);
      t.ami.send(captureMessages('01-inbound-direct'));
      const all = expected('01-inbound-direct');
      await until('the bound reached', async () =>
        (await series(t.registry, 'b24_bridge_pbx_events_dropped_total', 'pbx="office",where="parked"')) ===
        all.length - 2
          ? true
          : undefined,
      );
      expect(await t.store.parked.count('office')).toBe(2);
      const kept = (await t.store.parked.oldest('office', 10)).map((p) => (p.event as PbxEvent).type);
      expect(kept).toEqual(all.slice(-2).map((e) => e.type));
      expect(t.logs.filter((l) => l.level === 'warn' && l.message.includes('maxParkedEvents'))).toHaveLength(
        1,
      );
    });

    it('feeds a batch again after a crash between the outbox taking it and its removal: no duplicate', async () => {
      const store = await fresh();
      closers.push(() => store.close());
      const events = expected('01-inbound-direct');
      const first = new Parking({ pbxId: 'office', store: store.parked, max: 100 });
      await first.deliver(events.slice(0, 3), undefined);
      const intake = new JournalIntake();
      const feed = async (batch: readonly PbxEvent[]): Promise<void> => {
        await intake.acceptMany(batch.map((e) => ({ input: e, dedupeKey: timedEventKey('office', e) })));
      };
      // The process dies after the outbox stored the batch, before the store removed it.
      const dying = new Parking({
        pbxId: 'office',
        store: { ...store.parked, remove: () => Promise.reject(new Error('killed')) },
        max: 100,
      });
      await expect(dying.drain(feed)).rejects.toThrow('killed');
      expect(intake.stepped).toHaveLength(3);
      expect(await store.parked.count('office')).toBe(3);
      // The next process feeds them again; the dedupe keys absorb the repeat, and the rest follow.
      const next = new Parking({ pbxId: 'office', store: store.parked, max: 100 });
      await next.deliver(events.slice(3), feed);
      expect(intake.events().map((e) => e.type)).toEqual(events.map((e) => e.type));
      expect(await store.parked.count('office')).toBe(0);
    });
  });
}

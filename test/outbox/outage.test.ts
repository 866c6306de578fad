import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/core/index.ts';
import { Outbox, type OutboxApi } from '../../src/outbox/index.ts';
import { SqliteStore } from '../../src/store/index.ts';
import { startHarness, type Harness } from '../bitrix/helpers.ts';
import { config, inboundCall, ManualClock, tempDir, timeOf, until, type EmulatorCall } from './helpers.ts';

/**
 * Scenario 6: 500 calls happen on the PBX while the portal refuses every connection. When the
 * link returns, each is logged as register SHOW=0 with its real start date + finish: no card, in
 * at most 20 requests (10 batches of 50 registers, then 10 of 50 finishes).
 */
describe('outage replay', () => {
  let h: Harness;
  const tmp = tempDir();
  beforeAll(async () => {
    h = await startHarness({
      // The client gives up on a request quickly; the outbox owns the long wait.
      client: { retry: { minDelayMs: 1, maxDelayMs: 5, maxAttempts: 2 } },
    });
  });
  afterAll(async () => {
    await h.close();
    tmp.cleanup();
  });

  it('logs 500 calls made during a full outage without a card, in at most 20 requests', async () => {
    const started = performance.now();
    await h.faults({ outage: 'refuse' });
    const store = await SqliteStore.open({ path: join(tmp.dir, 'bridge.db') });
    const clock = new ManualClock(Date.now());
    const outbox = await Outbox.open({
      portalId: h.memberId,
      store,
      engine: createEngine(config),
      api: h.api,
      clock,
      policy: { probeMinDelayMs: 1000, probeMaxDelayMs: 1000 },
    });
    const down = until(outbox, 'link', (e) => e.state === 'down');

    // Calls 70 s apart, from twelve hours ago: each with its own start, talk time and agent.
    const base = Math.floor((Date.now() - 12 * 3600_000) / 1000) * 1000;
    const calls = Array.from({ length: 500 }, (_, n) => inboundCall(n, base + n * 70_000));
    for (const call of calls) {
      for (const { input, dedupeKey } of call.inputs) {
        const r = await outbox.accept(input, { dedupeKey, now: timeOf(input) });
        expect(r.duplicate).toBe(false);
      }
    }
    await down;
    if (outbox.inFlightCount > 0) await until(outbox, 'entry', () => outbox.inFlightCount === 0);
    expect(await h.inspect<EmulatorCall[]>('calls')).toHaveLength(0);
    const fedAt = performance.now();

    // The link comes back; the next probe finds it.
    await h.clearFaults();
    h.mark();
    const idle = outbox.whenIdle();
    clock.advance(1000);
    await idle;
    const recoveryRequests = h.requests.length;
    const recoveredAt = performance.now();

    const seen = await h.inspect<EmulatorCall[]>('calls');
    expect(seen).toHaveLength(500);
    expect(new Set(seen.map((c) => c.externalCallId)).size).toBe(500);
    const byExternal = new Map(seen.map((c) => [c.externalCallId, c]));
    for (const call of calls) {
      const got = byExternal.get(`${call.callId}@${call.startedAt}`);
      expect(got, call.callId).toBeDefined();
      expect(got?.finished).toBe(true);
      expect(got?.shown).toBe(false);
      expect(Date.parse(got?.startDate ?? '')).toBe(call.startedAt);
      expect(got?.duration).toBe(call.durationSec);
      expect(got?.userId).toBe(call.userId);
      expect(got?.finishedBy).toBe(call.userId);
      expect(got?.statusCode).toBe('200');
    }
    expect(recoveryRequests).toBeLessThanOrEqual(20);
    const backlog = await store.backlog(h.memberId);
    expect(backlog).toMatchObject({ pending: 0, inFlight: 0, failed: 0 });
    console.log(
      `outage replay: ${recoveryRequests} requests after recovery (${h.requests
        .map((r) => r.commands.length)
        .join(',')} commands), ${backlog.dropped} card ops dropped; feeding 2000 inputs ${Math.round(
        fedAt - started,
      )} ms, recovery ${Math.round(recoveredAt - fedAt)} ms`,
    );
    outbox.close();
    await store.close();
  });

  it('gives a call still live when the link returns its card, and none to the ended ones', async () => {
    await h.faults({ outage: 'refuse' });
    const store = await SqliteStore.open({ path: join(tmp.dir, 'live.db') });
    const clock = new ManualClock(Date.now());
    const outbox = await Outbox.open({
      portalId: h.memberId,
      store,
      engine: createEngine(config),
      api: h.api,
      clock,
      policy: { probeMinDelayMs: 1000, probeMaxDelayMs: 1000 },
    });
    const down = until(outbox, 'link', (e) => e.state === 'down');
    const base = Math.floor((Date.now() - 600_000) / 1000) * 1000;
    const calls = Array.from({ length: 4 }, (_, n) => inboundCall(1000 + n, base + n * 70_000));
    const live = calls[3]!;
    for (const call of calls) {
      // The last call has rung but is still going on when the link returns.
      const inputs = call === live ? call.inputs.slice(0, 2) : call.inputs;
      for (const { input, dedupeKey } of inputs)
        await outbox.accept(input, { dedupeKey, now: timeOf(input) });
    }
    await down;
    if (outbox.inFlightCount > 0) await until(outbox, 'entry', () => outbox.inFlightCount === 0);
    await h.clearFaults();
    const idle = outbox.whenIdle();
    clock.advance(1000);
    await idle;
    const find = async (c: typeof live) =>
      (
        await h.inspect<EmulatorCall[]>(
          `calls?externalCallId=${encodeURIComponent(`${c.callId}@${c.startedAt}`)}`,
        )
      )[0];
    const liveNow = await find(live);
    expect(liveNow).toMatchObject({ shown: true, finished: false });
    for (const c of calls.slice(0, 3)) expect(await find(c)).toMatchObject({ shown: false, finished: true });

    // It ends normally afterwards.
    for (const { input, dedupeKey } of live.inputs.slice(2))
      await outbox.accept(input, { dedupeKey, now: timeOf(input) });
    await outbox.whenIdle();
    expect(await find(live)).toMatchObject({ shown: true, finished: true, duration: live.durationSec });
    outbox.close();
    await store.close();
  });
  it('a probe that would show a card is tried once: a call that ended meanwhile is registered without one', async () => {
    await h.faults({ outage: 'refuse' });
    const store = await SqliteStore.open({ path: join(tmp.dir, 'probe.db') });
    const clock = new ManualClock(Date.now());
    const sent: { show: boolean; maxAttempts: number | undefined }[] = [];
    const api: OutboxApi = {
      externalCall: {
        register: (p, o) => {
          sent.push({ show: p.show === true, maxAttempts: o?.maxAttempts });
          return h.api.externalCall.register(p, o);
        },
        show: (p, o) => h.api.externalCall.show(p, o),
        hide: (p, o) => h.api.externalCall.hide(p, o),
        finish: (p, o) => h.api.externalCall.finish(p, o),
        attachRecordUrl: (p, o) => h.api.externalCall.attachRecordUrl(p, o),
        uploadRecord: (p, o) => h.api.externalCall.uploadRecord(p, o),
        searchCrmEntities: (n, o) => h.api.externalCall.searchCrmEntities(n, o),
      },
      crm: h.api.crm,
    };
    const outbox = await Outbox.open({
      portalId: h.memberId,
      store,
      engine: createEngine(config),
      api,
      clock,
      policy: { probeMinDelayMs: 1000, probeMaxDelayMs: 1000 },
    });
    const down = until(outbox, 'link', (e) => e.state === 'down');
    const call = inboundCall(2000, Math.floor((Date.now() - 60_000) / 1000) * 1000);
    // It rings: its register (with the card) meets the outage.
    for (const { input, dedupeKey } of call.inputs.slice(0, 2))
      await outbox.accept(input, { dedupeKey, now: timeOf(input) });
    await down;
    if (outbox.inFlightCount > 0) await until(outbox, 'entry', () => outbox.inFlightCount === 0);
    // A probe while it still rings carries the card: once, no retry inside the client.
    const probed = until(outbox, 'entry', () => outbox.inFlightCount === 0);
    clock.advance(1000);
    await probed;
    // It ends; the link returns; the next probe registers it without a card.
    for (const { input, dedupeKey } of call.inputs.slice(2))
      await outbox.accept(input, { dedupeKey, now: timeOf(input) });
    await h.clearFaults();
    const idle = outbox.whenIdle();
    clock.advance(1000);
    await idle;
    expect(sent[0]).toEqual({ show: true, maxAttempts: undefined });
    expect(sent.slice(1, -1)).toEqual(sent.slice(1, -1).map(() => ({ show: true, maxAttempts: 1 })));
    expect(sent.length).toBeGreaterThan(2);
    expect(sent.at(-1)?.show).toBe(false);
    const [seen] = await h.inspect<EmulatorCall[]>(
      `calls?externalCallId=${encodeURIComponent(`${call.callId}@${call.startedAt}`)}`,
    );
    expect(seen).toMatchObject({ shown: false, finished: true });
    outbox.close();
    await store.close();
  });
});

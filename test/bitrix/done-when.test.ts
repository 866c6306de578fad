import { afterEach, describe, expect, it } from 'vitest';
import type { FinishOutcome, Pending, RegisteredCall, RequestEvent } from '../../src/bitrix/index.ts';
import {
  OffsetClock,
  queryLimitHits,
  quiet,
  startHarness,
  waitFor,
  type CallView,
  type Harness,
} from './helpers.ts';

/**
 * What the Bitrix24 client promises, each with its figure, against the emulated portal over loopback
 * HTTP with the real plan limits (2 requests/s, burst 50) unless a test says otherwise.
 */
describe('the Bitrix24 client: what it promises, with figures', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  const phone = (i: number): string => `+7999${String(1_000_000 + i).slice(1)}`;

  it('500 operations submitted at once: 0 QUERY_LIMIT_EXCEEDED, at most ceil(500/50)+2 requests', async () => {
    h = await startHarness();
    const { api } = h;
    // 250 calls, each a register that pops a card plus its finish: 500 operations in one tick.
    const finishes: Pending<FinishOutcome>[] = [];
    for (let i = 0; i < 250; i++) {
      const call = api.externalCall.register(
        { userId: 2, phoneNumber: phone(i), type: 'incoming', externalCallId: `burst-${i}` },
        { orderKey: `burst-${i}` },
      );
      finishes.push(
        api.externalCall.finish({ callId: call, userId: 2, duration: 5 }, { orderKey: `burst-${i}` }),
      );
    }
    const outcomes = await Promise.all(finishes);

    expect(outcomes.every((o) => o.status === 'finished')).toBe(true);
    expect(queryLimitHits(h.requests)).toBe(0);
    expect(h.requests.length).toBeLessThanOrEqual(Math.ceil(500 / 50) + 2);
    // Registers go five full batches first (card lane), their finishes five more once CALL_IDs exist.
    expect(h.requests.length).toBe(10);
    expect(h.requests.every((r) => r.batch && r.commands.length === 50)).toBe(true);
    const calls = await h.inspect<CallView[]>('calls');
    expect(calls).toHaveLength(250);
    expect(calls.every((c) => c.finished)).toBe(true);
  });

  it('500 operations spread over a minute: 0 QUERY_LIMIT_EXCEEDED', async () => {
    // One virtual minute on a shared clock: the client's limiter and the portal's bucket both read
    // real time plus an offset the test advances 120 ms per operation, waiting each time until
    // nothing is in flight, so the portal sees every request at the virtual moment it was sent.
    // The plan's real figures apply (2/s, burst 50); the minute passes in well under a second.
    const clock = new OffsetClock();
    h = await startHarness({ clock });
    const { api, client, memberId } = h;
    const advance = (ms: number): void => {
      h?.emulator.portal.clock.advance(ms);
      clock.advance(ms);
    };
    // 100 calls × 5 operations (register with card, show to a colleague, hide it, finish,
    // attach the recording by URL): one operation every 120 ms, 60 s in all.
    const ops: PromiseLike<unknown>[] = [];
    const calls = new Map<number, Pending<RegisteredCall>>();
    for (let step = 0; step < 500; step++) {
      const i = Math.floor(step / 5);
      const key = { orderKey: `spread-${i}` };
      switch (step % 5) {
        case 0: {
          const reg = api.externalCall.register(
            { userId: 2, phoneNumber: phone(i), type: 'incoming', externalCallId: `spread-${i}` },
            key,
          );
          calls.set(i, reg);
          ops.push(reg);
          break;
        }
        case 1:
          ops.push(api.externalCall.show({ callId: calls.get(i)!, userIds: 3 }, key));
          break;
        case 2:
          ops.push(api.externalCall.hide({ callId: calls.get(i)!, userIds: 3 }, key));
          break;
        case 3:
          ops.push(api.externalCall.finish({ callId: calls.get(i)!, userId: 2, duration: 30 }, key));
          break;
        default:
          ops.push(api.user.get({ filter: { UF_PHONE_INNER: '101' } }, 0, key));
      }
      await quiet(client, memberId);
      advance(120);
    }
    // The tail: whatever the limiter still holds drains at 2/s of virtual time.
    while (client.state(memberId).depth > 0) {
      advance(500);
      await quiet(client, memberId);
    }
    await Promise.all(ops);

    expect(queryLimitHits(h.requests)).toBe(0);
    expect(h.requests.every((r) => r.status === 200)).toBe(true);
    const calls2 = await h.inspect<CallView[]>('calls');
    expect(calls2.filter((c) => c.finished)).toHaveLength(100);
    // For the report: about 50 single requests of the burst, then one batch per 500 ms slot.
    console.log(`500 ops over a virtual minute: ${h.requests.length} requests, 0 QUERY_LIMIT_EXCEEDED`);
    expect(h.requests.length).toBeLessThan(500);
  });

  it('with 1,000 finishes queued, a new show is sent in the very next request', async () => {
    h = await startHarness();
    const { api, client, memberId } = h;
    const call = await api.externalCall.register({
      userId: 2,
      phoneNumber: phone(1),
      type: 'incoming',
      externalCallId: 'queued-1',
      show: false,
    });
    // Use up the bucket with reads, one request each, so the finishes have to queue.
    for (let i = 0; i < 45; i++) await api.app.info();
    // The finishes' content does not matter here (unknown CALL_IDs fail at the portal); only their
    // place in the queue does.
    const finishes = Array.from({ length: 1000 }, (_, i) =>
      api.externalCall.finish({ callId: `externalCall.${'0'.repeat(32)}.${i}`, userId: 2 }),
    );
    await quiet(client, memberId);
    expect(client.state(memberId).byLane.log).toBeGreaterThan(500);

    const next = waitFor(client, 'request', (r) => r.memberId === memberId);
    const show = api.externalCall.show({ callId: call.callId, userIds: [2, 3] });
    const [request]: [RequestEvent] = await next;
    expect(request.commands[0]?.method).toBe('telephony.externalCall.show');
    expect(request.commands[0]?.opId).toBe(show.id);
    expect(await show).toBe(true);
    console.log(
      `1,000 finishes queued (${client.state(memberId).byLane.log} left): the show left in the next request, ` +
        `first of ${request.commands.length} commands`,
    );
    client.close();
    await Promise.allSettled(finishes);
  });

  it('50 concurrent calls with an expired token cause exactly one refresh, and all 50 succeed', async () => {
    // Each call its own request (no batching), all in flight together, all refused as expired.
    h = await startHarness({
      portalLimit: { rate: 1000, burst: 1000 },
      client: { maxBatch: 1, maxInFlight: 50 },
    });
    const { api, client } = h;
    await h.faults({ expireTokens: true });
    const refreshes: boolean[] = [];
    client.on('refresh', (r) => refreshes.push(r.ok));
    // The client still believes its token good for an hour: the portal's 401 is the first news.
    const registers = Array.from({ length: 50 }, (_, i) =>
      api.externalCall.register({
        userId: 3,
        phoneNumber: phone(i),
        type: 'incoming',
        externalCallId: `expired-${i}`,
      }),
    );
    const results = await Promise.all(registers);

    expect(results.map((r) => r.callId)).toHaveLength(50);
    expect(refreshes).toEqual([true]);
    const expired = h.requests.filter((r) => r.error === 'expired_token').length;
    expect(expired).toBe(50);
    expect(h.requests.filter((r) => r.status === 200)).toHaveLength(50);
    console.log(`50 concurrent requests with an expired token: ${expired} × 401, 1 refresh, 50 retried`);
  });

  it('the connection is cut while a finish is in flight: the call ends up finished exactly once', async () => {
    h = await startHarness({ client: { retry: { minDelayMs: 20 } } });
    const { api, emulator } = h;
    const call = await api.externalCall.register({
      userId: 2,
      phoneNumber: phone(7),
      type: 'incoming',
      externalCallId: 'cut-1',
    });
    let finished = 0;
    emulator.portal.on('call', (e) => {
      if (e.kind === 'finished' && e.call.callId === call.callId) finished += 1;
    });
    // The portal processes the finish and then drops the connection: only that one reply is lost.
    emulator.portal.on('request', (r) => {
      if (r.error === 'reply lost') emulator.portal.faults.lostReplyRate = 0;
    });
    h.mark();
    await h.faults({ lostReplyRate: 1 });

    const outcome = await api.externalCall.finish({ callId: call.callId, userId: 2, duration: 42 });

    expect(outcome).toEqual({ status: 'already-finished' });
    expect(finished).toBe(1);
    const finishRequests = h.requests.filter((r) => r.method === 'telephony.externalcall.finish');
    expect(finishRequests.map((r) => r.error)).toEqual(['reply lost', 'ERROR_CORE']);
    const calls = await h.inspect<CallView[]>('calls?externalCallId=cut-1');
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ finished: true, duration: 42, finishedBy: 2 });
  });

  it('a card leaves once the code that submitted it is done, not a turn of the event loop later', async () => {
    h = await startHarness();
    const { api, client } = h;
    const sent: RequestEvent[] = [];
    client.on('request', (r) => sent.push(r));
    const a = api.externalCall.register({
      userId: 2,
      phoneNumber: phone(7),
      type: 'incoming',
      externalCallId: 'now-1',
    });
    const b = api.externalCall.register({
      userId: 3,
      phoneNumber: phone(8),
      type: 'incoming',
      externalCallId: 'now-2',
    });
    let turned = false;
    setImmediate(() => (turned = true));
    await new Promise<void>((resolve) => queueMicrotask(resolve));
    // Both cards in one request: what the same code submitted still travels together.
    expect(turned).toBe(false);
    expect(sent.map((r) => r.commands.map((c) => c.lane))).toEqual([['card', 'card']]);
    await Promise.all([a, b]);
  });

  it('a register and its show travel in one batch request when the bucket is empty', async () => {
    h = await startHarness();
    const { api, client } = h;
    const sent: RequestEvent[] = [];
    client.on('request', (r) => sent.push(r));
    const reg = api.externalCall.register({
      userId: 2,
      phoneNumber: phone(9),
      type: 'incoming',
      externalCallId: 'pair-1',
      show: false,
    });
    const show = api.externalCall.show({ callId: reg, userIds: [2, 3, 4] });

    expect(await show).toBe(true);
    expect(h.requests).toHaveLength(1);
    expect(h.requests[0]).toMatchObject({
      batch: true,
      commands: ['telephony.externalcall.register', 'telephony.externalcall.show'],
      commandErrors: [],
    });
    expect(sent[0]?.halt).toBe(true);
    const cards = await h.inspect<{ userId: number; callId: string }[]>('cards');
    const { callId } = await reg;
    expect(cards.filter((c) => c.callId === callId).map((c) => c.userId)).toEqual([2, 3, 4]);
  });
});

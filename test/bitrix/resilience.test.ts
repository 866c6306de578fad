import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BitrixError,
  command,
  type ClientEvents,
  type OperationEvent,
  type RequestEvent,
  type ResponseEvent,
} from '../../src/bitrix/index.ts';
import {
  OffsetClock,
  queryLimitHits,
  startHarness,
  waitFor,
  type CallView,
  type Harness,
} from './helpers.ts';

/** Limits, tokens, outages and lost answers: the client's behaviour when the portal pushes back. */
describe('resilience', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  const failure = (p: PromiseLike<unknown>): Promise<BitrixError> =>
    Promise.resolve(p).then(
      () => {
        throw new Error('expected a failure');
      },
      (e: unknown) => e as BitrixError,
    );

  it('QUERY_LIMIT_EXCEEDED caused by another app: fills its bucket, backs off, then succeeds', async () => {
    const clock = new OffsetClock();
    // Refused requests count too here, so the other app's overflow keeps the bucket full for a while
    // of real time (it drains continuously).
    h = await startHarness({ clock, emulatorSettings: { countRejected: true } });
    const { api, client, emulator } = h;
    // Another integration on the same portal overruns the shared bucket.
    for (let i = 0; i < 60; i++) await fetch(`${emulator.url}/rest/1/emulator/profile`);
    h.mark();
    const limited = waitFor(client, 'rateLimited');
    const info = api.app.info();
    const [event] = await limited;
    expect(event).toMatchObject({ code: 'RATE_LIMITED', method: undefined });
    expect(client.state(h.memberId).bucketLevel).toBeGreaterThanOrEqual(49);
    // Nothing more goes out until the bucket has drained below our mark, and the portal's too.
    emulator.portal.clock.advance(6000);
    clock.advance(6000);
    expect((await info).code).toBe('local.bridge.1');
    expect(queryLimitHits(h.requests)).toBe(1);
    expect(h.requests.map((r) => r.status)).toEqual([503, 200]);
  });

  it('OPERATION_TIME_LIMIT blocks that method until operating_reset_at while others carry on', async () => {
    const clock = new OffsetClock();
    h = await startHarness({ clock, emulatorSettings: { operatingLimitSec: 1 } });
    const { api, client, emulator } = h;
    await h.faults({ processingSec: 2 });
    await api.user.get(); // spends user.get's budget (the call that goes over still completes)
    const blocked = waitFor(client, 'rateLimited', (e) => e.code === 'OPERATION_TIME_LIMIT');
    const users = api.user.get();
    const [event] = await blocked;
    expect(event.method).toBe('user.get');
    // operating_reset_at is ten minutes after the budget's first minute.
    expect(event.waitMs).toBeGreaterThan(8 * 60_000);
    expect(event.waitMs).toBeLessThanOrEqual(10 * 60_000);
    // Other methods have budgets of their own.
    expect((await api.app.info()).installed).toBe(true);
    expect(users.state).toBe('queued');
    emulator.portal.clock.advance(event.waitMs + 1000);
    clock.advance(event.waitMs + 1000);
    expect((await users).users.length).toBeGreaterThan(0);
    expect(h.requests.filter((r) => r.error === 'OPERATION_TIME_LIMIT')).toHaveLength(1);
  });

  it('a refused refresh token marks the portal needsReinstall: visible, typed, and no request loop', async () => {
    h = await startHarness();
    const { api, client, memberId, app } = h;
    const reinstalls: string[] = [];
    const refreshes: boolean[] = [];
    client.on('needsReinstall', (e) => reinstalls.push(e.reason));
    client.on('refresh', (e) => refreshes.push(e.ok));
    // Tokens that look expired with a refresh token the OAuth server does not know.
    await client.setTokens(memberId, {
      accessToken: 'stale',
      refreshToken: 'unknown',
      expiresAt: Date.now() - 1,
    });
    const queued = Array.from({ length: 20 }, () => api.app.info());
    const errors = await Promise.all(queued.map(failure));
    expect(errors.every((e) => e instanceof BitrixError && e.code === 'NEEDS_REINSTALL')).toBe(true);
    expect(reinstalls).toEqual(['invalid_grant']);
    expect(refreshes).toEqual([false]);
    expect(client.state(memberId).needsReinstall?.reason).toBe('invalid_grant');
    // Later work fails at once: no request reaches the portal or the OAuth server.
    h.mark();
    expect((await failure(api.user.get())).code).toBe('NEEDS_REINSTALL');
    expect(h.requests).toHaveLength(0);
    expect(refreshes).toEqual([false]);
    // A re-installation brings tokens: the portal works again.
    await client.setTokens(memberId, {
      accessToken: app.accessToken,
      refreshToken: app.refreshToken,
      expiresAt: Date.now() + 3_600_000,
    });
    expect(client.state(memberId).needsReinstall).toBeUndefined();
    expect((await api.app.info()).installed).toBe(true);
  });

  it('a batch of 50 with an expired token: one 401, one refresh, one retry', async () => {
    h = await startHarness();
    const { api, client } = h;
    await h.faults({ expireTokens: true });
    let refreshes = 0;
    client.on('refresh', () => (refreshes += 1));
    const regs = Array.from({ length: 50 }, (_, i) =>
      api.externalCall.register({
        userId: 4,
        phoneNumber: `+7998000${i}`,
        type: 'incoming',
        externalCallId: `b-${i}`,
      }),
    );
    expect(await Promise.all(regs)).toHaveLength(50);
    expect(refreshes).toBe(1);
    expect(h.requests.map((r) => [r.batch, r.status, r.error])).toEqual([
      [true, 401, 'expired_token'],
      [true, 200, null],
    ]);
  });

  it('the access token is refreshed shortly before it expires, before the portal refuses it', async () => {
    const clock = new OffsetClock();
    h = await startHarness({ clock });
    const { api, client, emulator } = h;
    let refreshes = 0;
    client.on('refresh', () => (refreshes += 1));
    await api.app.info();
    emulator.portal.clock.advance(3_600_000 - 30_000);
    clock.advance(3_600_000 - 30_000);
    h.mark();
    await api.app.info();
    expect(refreshes).toBe(1);
    expect(h.requests.map((r) => r.status)).toEqual([200]);
  });

  it('a portal that drops connections: reads are retried with backoff until it is back', async () => {
    h = await startHarness({ client: { retry: { minDelayMs: 10, maxAttempts: 6 } } });
    const { api, client } = h;
    await h.faults({ outage: 'refuse' });
    const retries: string[] = [];
    client.on('retry', (e) => retries.push(e.code));
    const twoRetries = waitFor(client, 'retry', () => retries.length >= 2);
    const users = api.user.get({ filter: { UF_PHONE_INNER: '103' } });
    await twoRetries;
    await h.clearFaults();
    expect((await users).users[0]?.id).toBe(4);
    expect(retries.slice(0, 2)).toEqual(['NETWORK', 'NETWORK']);
  });

  it('an operation submitted with maxAttempts 1 is given up at its first failure (its caller retries)', async () => {
    h = await startHarness({ client: { retry: { minDelayMs: 10, maxAttempts: 6 } } });
    await h.faults({ outage: 'refuse' });
    const retries: string[] = [];
    h.client.on('retry', (e) => retries.push(e.code));
    const err = await failure(h.api.user.get({ filter: { UF_PHONE_INNER: '103' } }, 0, { maxAttempts: 1 }));
    expect(err).toMatchObject({ code: 'NETWORK' });
    expect(retries).toEqual([]);
  });

  it('a method that is not repeat-safe is not repeated when its request may have arrived', async () => {
    h = await startHarness({ client: { retry: { minDelayMs: 10 } } });
    const { api } = h;
    await h.faults({ outage: 'refuse' });
    const err = await failure(api.externalLine.add({ number: 'l-1' }));
    expect(err).toMatchObject({ code: 'NETWORK', maybeDelivered: true });
    // A 503 page means the portal turned the request away: safe to repeat, and repeated.
    await h.faults({ outage: '503' });
    const retried = waitFor(h.client, 'retry', (e) => e.code === 'SERVER_ERROR');
    const line = api.externalLine.add({ number: 'l-2' });
    await retried;
    await h.clearFaults();
    expect((await line).id).toBeGreaterThan(0);
  });

  it('a register without EXTERNAL_CALL_ID is not repeated after a lost answer (it could merge calls)', async () => {
    h = await startHarness({ client: { retry: { minDelayMs: 10 } } });
    const { api, emulator } = h;
    emulator.portal.on('request', (r) => {
      if (r.error === 'reply lost') emulator.portal.faults.lostReplyRate = 0;
    });
    await h.faults({ lostReplyRate: 1 });
    const raw = api.send(
      command('telephony.externalCall.register', { USER_ID: 2, PHONE_NUMBER: '+79990007788', TYPE: 2 }),
    );
    expect(await failure(raw)).toMatchObject({ code: 'NETWORK', maybeDelivered: true });
    expect(h.requests).toHaveLength(1);
    expect((await h.inspect<CallView[]>('calls')).filter((c) => c.userId === 2)).toHaveLength(1);
  });

  it('a lone operation on an idle portal leaves at once, as a plain call', async () => {
    h = await startHarness();
    const sent: RequestEvent[] = [];
    h.client.on('request', (r) => sent.push(r));
    const info = h.api.app.info();
    await nextTurn();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ kind: 'call', commands: [{ method: 'app.info', lane: 'read' }] });
    await info;
  });

  it('a lost answer to a register is repeated safely: the same CALL_ID, one call, then its finish', async () => {
    h = await startHarness({ client: { retry: { minDelayMs: 10 } } });
    const { api, emulator } = h;
    emulator.portal.on('request', (r) => {
      if (r.error === 'reply lost') emulator.portal.faults.lostReplyRate = 0;
    });
    await h.faults({ lostReplyRate: 1 });
    const reg = api.externalCall.register(
      { userId: 2, phoneNumber: '+79990001122', type: 'incoming', externalCallId: 'lost-reg' },
      { orderKey: 'lost-reg' },
    );
    const fin = api.externalCall.finish({ callId: reg, userId: 2, duration: 7 }, { orderKey: 'lost-reg' });
    expect(await fin).toMatchObject({ status: 'finished', record: { duration: 7 } });
    const calls = await h.inspect<CallView[]>('calls?externalCallId=lost-reg');
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ finished: true, callId: (await reg).callId });
    // register (answer lost), register again, then the finish on its own: never register+finish together.
    expect(h.requests.map((r) => [r.method, r.error])).toEqual([
      ['telephony.externalcall.register', 'reply lost'],
      ['telephony.externalcall.register', null],
      ['telephony.externalcall.finish', null],
    ]);
  });

  it('a register that fails takes the show riding on it down with it; the rest of the batch carries on', async () => {
    h = await startHarness();
    const { api, client } = h;
    const sent: RequestEvent[] = [];
    client.on('request', (r) => sent.push(r));
    const reg = api.externalCall.register({
      userId: 5, // Dmitri is not active
      phoneNumber: '+79990003344',
      type: 'incoming',
      externalCallId: 'bad-user',
      show: false,
    });
    const show = api.externalCall.show({ callId: reg, userIds: [2] });
    const other = api.externalCall.register({
      userId: 2,
      phoneNumber: '+79990003345',
      type: 'incoming',
      externalCallId: 'good-user',
    });
    const regError = await failure(reg);
    expect(regError).toMatchObject({
      code: 'PORTAL_ERROR',
      portalDescription: 'User is not found or is not active',
    });
    const showError = await failure(show);
    expect(showError.code).toBe('DEPENDENCY_FAILED');
    expect(showError.cause).toBe(regError);
    expect((await other).callId).toMatch(/^externalCall\./);
    expect(sent[0]).toMatchObject({ kind: 'batch', halt: true });
    // The batch halted at the failed register; the unrelated register went in the next request.
    expect(sent.map((r) => r.commands.length)).toEqual([3, 1]);
    expect(h.requests.map((r) => [r.batch, r.commandErrors.length])).toEqual([
      [true, 1],
      [false, 0],
    ]);
  });

  it('operations of one call never overtake each other across requests in flight', async () => {
    h = await startHarness({ portalLimit: { rate: 1000, burst: 1000 } });
    const { api, client } = h;
    await h.faults({ latencyMs: 50 });
    const reg = await api.externalCall.register({
      userId: 2,
      phoneNumber: '+79990005566',
      type: 'incoming',
      externalCallId: 'order-1',
    });
    const log: string[] = [];
    client.on('request', (r) =>
      log.push(`send ${r.commands.map((c) => c.method.split('.').pop()).join('+')}`),
    );
    client.on('response', (r: ResponseEvent) => log.push(`answer ${r.requestId}`));
    const show = api.externalCall.show({ callId: reg.callId, userIds: [3] }, { orderKey: 'order-1' });
    await nextTurn(); // the show is in flight
    const hide = api.externalCall.hide({ callId: reg.callId, userIds: [3] }, { orderKey: 'order-1' });
    const unrelated = api.app.info();
    await Promise.all([show, hide, unrelated]);
    // The unrelated read goes at once, beside the show; the hide waits for the show's answer.
    expect(log[0]).toBe('send show');
    expect(log[1]).toBe('send info');
    expect(log.indexOf('send hide')).toBeGreaterThan(log.findIndex((l) => l.startsWith('answer')));
    const cards = await h.inspect<{ userId: number; callId: string }[]>('cards');
    expect(cards.filter((c) => c.callId === reg.callId).map((c) => c.userId)).toEqual([2]);
  });

  it('close() fails what is queued as CLOSED', async () => {
    h = await startHarness();
    const { api, client } = h;
    for (let i = 0; i < 45; i++) await api.app.info();
    const ops = Array.from({ length: 300 }, () => api.app.info());
    await nextTurn();
    client.close();
    const outcomes = await Promise.allSettled(ops);
    const closed = outcomes.filter(
      (o) => o.status === 'rejected' && (o.reason as BitrixError).code === 'CLOSED',
    );
    expect(closed.length).toBeGreaterThan(0);
    expect((await failure(api.app.info())).code).toBe('CLOSED');
  });

  it('no token, refresh token, client secret or webhook secret ever appears in an event or an error', async () => {
    h = await startHarness({ client: { retry: { minDelayMs: 5, maxAttempts: 2 } } });
    const { api, client, memberId, app } = h;
    const seen: unknown[] = [];
    const names: (keyof ClientEvents)[] = [
      'request',
      'response',
      'operation',
      'retry',
      'rateLimited',
      'refresh',
      'needsReinstall',
      'queue',
    ];
    for (const name of names) client.on(name, (e: unknown) => seen.push(e));
    const errors: BitrixError[] = [];
    const collect = async (p: PromiseLike<unknown>): Promise<void> => {
      await Promise.resolve(p).catch((e: unknown) => errors.push(e as BitrixError));
    };
    await h.faults({ expireTokens: true });
    await collect(api.app.info());
    await h.faults({ outage: 'refuse' });
    await collect(api.user.get());
    await h.clearFaults();
    await collect(api.externalCall.finish({ callId: 'externalCall.nope.1', userId: 2 }));
    await client.setTokens(memberId, { accessToken: 'x', refreshToken: app.refreshToken, expiresAt: 0 });
    await collect(api.app.info()); // the refresh token was used by the first refresh: invalid_grant
    expect(errors.map((e) => e.code)).toEqual(['NETWORK', 'PORTAL_ERROR', 'NEEDS_REINSTALL']);
    const text =
      JSON.stringify(seen) +
      errors.map((e) => `${e.message} ${String(e.stack)} ${JSON.stringify(e)}`).join(' ');
    for (const secret of [app.accessToken, app.refreshToken, app.clientSecret, 'bridge-secret-value']) {
      expect(text).not.toContain(secret);
    }
    expect(seen.some((e) => (e as OperationEvent).ok)).toBe(true);
  });
});

import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RequestLogEntry } from 'b24-emulator';
import { startTestPortal, type TestPortal } from './helpers.ts';

interface CallView {
  callId: string;
  externalCallId: string | null;
  finished: boolean;
}

describe('faults injected through /_emulator/faults', () => {
  let portal: TestPortal;
  beforeAll(async () => {
    portal = await startTestPortal();
  });
  afterEach(async () => {
    await portal.inspect('faults', { method: 'DELETE' });
  });
  afterAll(() => portal.close());

  const register = (externalCallId: string) =>
    fetch(`${portal.url}/rest/telephony.externalcall.register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: portal.token,
        USER_ID: 2,
        PHONE_NUMBER: '+79990000001',
        TYPE: 2,
        EXTERNAL_CALL_ID: externalCallId,
        SHOW: 0,
      }),
    });

  const callsWith = async (externalCallId: string): Promise<CallView[]> =>
    (await portal.inspect<CallView[]>(`calls?externalCallId=${externalCallId}`)).body;

  it('outage "refuse" drops REST connections while the inspection API stays up; clearing it restores service', async () => {
    await portal.inspect('faults', { body: { outage: 'refuse' } });
    await expect(register('refused-1')).rejects.toThrow();
    await expect(fetch(`${portal.url}/oauth/token/?grant_type=refresh_token`)).rejects.toThrow();
    expect(await callsWith('refused-1')).toEqual([]);
    await portal.inspect('faults', { method: 'DELETE' });
    expect((await register('refused-1')).status).toBe(200);
  });

  it('outage "503" answers with an HTML error page, not JSON', async () => {
    await portal.inspect('faults', { body: { outage: '503' } });
    const res = await register('outage-503');
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await callsWith('outage-503')).toEqual([]);
  });

  it('errorRate 1 answers 500 before anything happens', async () => {
    await portal.inspect('faults', { body: { errorRate: 1 } });
    const res = await register('error-500');
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({
      error: 'INTERNAL_SERVER_ERROR',
      error_description: 'Internal server error',
    });
    expect(await callsWith('error-500')).toEqual([]);
  });

  it('lostReplyRate 1 processes the request and then cuts the answer: the call exists though the client saw an error', async () => {
    await portal.inspect('faults', { body: { lostReplyRate: 1 } });
    await expect(register('lost-reply')).rejects.toThrow();
    const calls = await callsWith('lost-reply');
    expect(calls).toHaveLength(1);
    await portal.inspect('faults', { method: 'DELETE' });
    // Re-registering with the same EXTERNAL_CALL_ID within 30 minutes is the safe repeat: same CALL_ID.
    const again = (await (await register('lost-reply')).json()) as { result: { CALL_ID: string } };
    expect(again.result.CALL_ID).toBe(calls[0]?.callId);
    expect(await callsWith('lost-reply')).toHaveLength(1);
  });

  it('targeted faults hit exactly the next requests of one method, then stop', async () => {
    await portal.inspect('faults', {
      body: {
        next: [
          { kind: 'lostReply', method: 'telephony.externalCall.finish', count: 1 },
          { kind: 'error', method: 'telephony.externalcall.register', count: 2 },
        ],
      },
    });
    expect((await register('targeted')).status).toBe(500);
    expect((await register('targeted')).status).toBe(500);
    const reg = (await (await register('targeted')).json()) as { result: { CALL_ID: string } };
    // Inside a batch the finish command is matched too: processed, and the answer is cut.
    await expect(
      portal.call('batch', {
        cmd: { f: `telephony.externalcall.finish?CALL_ID=${reg.result.CALL_ID}&USER_ID=2&DURATION=5` },
      }),
    ).rejects.toThrow();
    expect((await callsWith('targeted'))[0]?.finished).toBe(true);
    expect((await portal.inspect<{ next: unknown[] }>('faults')).body.next).toEqual([]);
    const bad = await portal.inspect<{ error_description: string }>('faults', {
      body: { next: [{ kind: 'x' }] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error_description).toBe('next[0].kind must be "error" or "lostReply"');
  });

  it('latencyMs delays every REST answer', async () => {
    await portal.inspect('faults', { body: { latencyMs: 300 } });
    const started = performance.now();
    expect((await register('slow')).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('expireTokens as a number caps every token life; true expires all tokens at once', async () => {
    await portal.inspect('faults', { body: { expireTokens: 60 } });
    expect((await portal.call('profile')).status).toBe(200);
    portal.emulator.portal.clock.advance(61_000);
    const expired = await portal.call('profile');
    expect(expired.status).toBe(401);
    expect(expired.body.error).toBe('expired_token');

    await portal.inspect('faults', { method: 'DELETE' });
    const fresh = await portal.install({ clientId: 'local.expire.2' });
    expect((await portal.call('profile', {}, fresh.accessToken)).status).toBe(200);
    await portal.inspect('faults', { body: { expireTokens: true } });
    expect((await portal.call('profile', {}, fresh.accessToken)).body.error).toBe('expired_token');
    // New tokens after the one-shot expiry live normally.
    const later = await portal.install({ clientId: 'local.expire.3' });
    expect((await portal.call('profile', {}, later.accessToken)).status).toBe(200);
  });

  it('the operating-time limit: once a method has used its budget it answers 429 OPERATION_TIME_LIMIT', async () => {
    await portal.inspect('settings', { body: { operatingLimitSec: 1 } });
    await portal.inspect('faults', { body: { processingSec: 0.6 } });
    const app = await portal.install({ clientId: 'local.operating.1' });
    const first = await portal.call('user.get', {}, app.accessToken);
    expect(first.status).toBe(200);
    const time = first.body.time as { operating: number; operating_reset_at: number; processing: number };
    expect(time.processing).toBeGreaterThanOrEqual(0.6);
    expect(time.operating).toBeGreaterThanOrEqual(0.6);
    expect(time.operating_reset_at).toBeGreaterThan(Date.now() / 1000);
    // The call that pushes the sum over the limit still completes.
    expect((await portal.call('user.get', {}, app.accessToken)).status).toBe(200);
    const blocked = await portal.call('user.get', {}, app.accessToken);
    expect(blocked.status).toBe(429);
    expect(blocked.body.error).toBe('OPERATION_TIME_LIMIT');
    // Other methods of the same app keep working.
    expect((await portal.call('profile', {}, app.accessToken)).status).toBe(200);
    // Ten minutes later the buckets have aged out.
    portal.emulator.portal.clock.advance(11 * 60_000);
    expect((await portal.call('user.get', {}, app.accessToken)).status).toBe(200);
    await portal.inspect('settings', { body: { operatingLimitSec: 480 } });
  });

  it('every REST request is logged and announced as a typed event', async () => {
    const logged = once(portal.emulator.portal, 'request') as Promise<[RequestLogEntry]>;
    await portal.webhook('user.get', { FILTER: { UF_PHONE_INNER: '103' } });
    const [entry] = await logged;
    expect(entry).toMatchObject({
      method: 'user.get',
      auth: 'webhook',
      batch: false,
      status: 200,
      error: null,
    });
  });

  it('reset goes back to the seed: no calls, no apps, no faults', async () => {
    const scratch = await startTestPortal();
    try {
      await scratch.call('telephony.externalcall.register', { USER_ID: 2, PHONE_NUMBER: '+7999', TYPE: 2 });
      await scratch.inspect('faults', { body: { latencyMs: 5 } });
      expect((await scratch.inspect<unknown[]>('calls')).body).toHaveLength(1);
      expect((await scratch.inspect('reset', { body: {} })).status).toBe(200);
      expect((await scratch.inspect<unknown[]>('calls')).body).toEqual([]);
      expect((await scratch.inspect<unknown[]>('apps')).body).toEqual([]);
      expect((await scratch.inspect<{ latencyMs: number }>('faults')).body.latencyMs).toBe(0);
      expect((await scratch.call('profile')).body.error).toBe('NO_AUTH_FOUND');
    } finally {
      await scratch.close();
    }
  });
});

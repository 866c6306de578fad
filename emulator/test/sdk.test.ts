import {
  ApiVersion,
  B24Hook,
  B24OAuth,
  ParamsFactory,
  type AuthData,
  type B24OAuthParams,
} from '@bitrix24/b24jssdk';
import type { RequestLogEntry } from 'b24-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPortal, type InstalledApp, type TestPortal } from './helpers.ts';

/** The SDK's limiter and adaptive pauses would only slow loopback tests; one attempt per call. */
const restrictionParams = {
  ...ParamsFactory.getDefault(),
  rateLimit: { burstLimit: 10_000, drainRate: 10_000, adaptiveEnabled: false },
  adaptiveConfig: { enabled: false, thresholdPercent: 100, coefficient: 0, maxDelay: 0 },
  maxRetries: 1,
};

const nowSec = (): number => Math.floor(Date.now() / 1000);

interface Client {
  b24: B24OAuth;
  /** Every `authData` the SDK reported through setCallbackRefreshAuth. */
  refreshed: AuthData[];
}

/** The official SDK's OAuth client, built from the tokens an install handed to the app. */
function sdkClient(portal: TestPortal, app: InstalledApp, expires = nowSec() + 3600): Client {
  const params: B24OAuthParams = {
    accessToken: app.accessToken,
    refreshToken: app.refreshToken,
    expires,
    expiresIn: 3600,
    domain: new URL(portal.url).host,
    clientEndpoint: `${portal.url}/rest/`,
    serverEndpoint: `${portal.url}/rest/`,
    memberId: portal.emulator.portal.settings.memberId,
    applicationToken: app.applicationToken,
    userId: 1,
    scope: 'crm,telephony,user',
    status: 'L',
  };
  const b24 = new B24OAuth(
    params,
    { clientId: app.clientId, clientSecret: app.clientSecret },
    { restrictionParams },
  );
  const refreshed: AuthData[] = [];
  b24.setCallbackRefreshAuth(({ authData }) => {
    refreshed.push(authData);
    return Promise.resolve();
  });
  return { b24, refreshed };
}

async function requestsSince(portal: TestPortal, since: number): Promise<RequestLogEntry[]> {
  return (await portal.inspect<RequestLogEntry[]>(`requests?since=${since}`)).body;
}

async function requestCount(portal: TestPortal): Promise<number> {
  return (await portal.inspect<RequestLogEntry[]>('requests')).body.length;
}

/** POST /oauth/token/ as a form, the way the SDK and Bitrix24's docs do it. */
async function refreshWith(
  portal: TestPortal,
  app: InstalledApp,
  refreshToken: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${portal.url}/oauth/token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: app.clientId,
      client_secret: app.clientSecret,
      refresh_token: refreshToken,
    }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

interface CallView {
  callId: string;
  finished: boolean;
  finishedBy: number | null;
  duration: number | null;
}

describe('official SDK @bitrix24/b24jssdk against the emulator', () => {
  let portal: TestPortal;
  beforeAll(async () => {
    portal = await startTestPortal();
  });
  afterAll(() => portal.close());

  it('makes OAuth calls: user.get, externalCall.register and finish', async () => {
    const { b24, refreshed } = sdkClient(portal, portal.app);
    const since = await requestCount(portal);

    const users = await b24.actions.v2.call.make<Record<string, unknown>[]>({
      method: 'user.get',
      params: { FILTER: { UF_PHONE_INNER: '101' } },
    });
    expect(users.isSuccess).toBe(true);
    expect(users.getData()?.result).toMatchObject([
      { ID: '2', NAME: 'Anna', LAST_NAME: 'Ivanova', UF_PHONE_INNER: '101' },
    ]);

    const reg = await b24.actions.v2.call.make<{ CALL_ID: string; CRM_ENTITY_TYPE: string }>({
      method: 'telephony.externalCall.register',
      params: { USER_ID: 2, PHONE_NUMBER: '+79161234567', TYPE: 2, SHOW: 0 },
    });
    expect(reg.isSuccess).toBe(true);
    const callId = reg.getData()!.result.CALL_ID;
    expect(callId).toMatch(/^externalCall\./);

    const fin = await b24.actions.v2.call.make<Record<string, unknown>>({
      method: 'telephony.externalCall.finish',
      params: { CALL_ID: callId, USER_ID: 2, DURATION: 15 },
    });
    expect(fin.isSuccess).toBe(true);
    expect(fin.getData()?.result).toMatchObject({ CALL_ID: callId, CALL_DURATION: 15 });

    const calls = await portal.inspect<CallView[]>('calls');
    expect(calls.body.find((c) => c.callId === callId)).toMatchObject({
      finished: true,
      finishedBy: 2,
      duration: 15,
    });
    const log = await requestsSince(portal, since);
    expect(log.map((r) => [r.method, r.auth, r.status, r.batch])).toEqual([
      ['user.get', 'oauth', 200, false],
      ['telephony.externalcall.register', 'oauth', 200, false],
      ['telephony.externalcall.finish', 'oauth', 200, false],
    ]);
    expect(refreshed).toEqual([]);
  });

  it('sends a batch whose second command refers to the first through $result[...]', async () => {
    const { b24 } = sdkClient(portal, portal.app);
    const since = await requestCount(portal);

    const res = await b24.actions.v2.batch.make({
      calls: {
        reg: {
          method: 'telephony.externalcall.register',
          params: { USER_ID: 3, PHONE_NUMBER: '+79161234567', TYPE: 2, SHOW: 0 },
        },
        fin: {
          method: 'telephony.externalcall.finish',
          params: { CALL_ID: '$result[reg][CALL_ID]', USER_ID: 3, DURATION: 30 },
        },
      },
      options: { isHaltOnError: true },
    });
    expect(res.isSuccess).toBe(true);
    const data = res.getData() as {
      reg: { CALL_ID: string };
      fin: { CALL_ID: string; CALL_DURATION: number };
    };
    const callId = data.reg.CALL_ID;
    expect(callId).toMatch(/^externalCall\./);
    expect(data.fin).toMatchObject({ CALL_ID: callId, CALL_DURATION: 30 });

    // One HTTP request for both commands.
    expect(await requestsSince(portal, since)).toEqual([
      expect.objectContaining({
        method: 'batch',
        batch: true,
        auth: 'oauth',
        status: 200,
        commands: ['telephony.externalcall.register', 'telephony.externalcall.finish'],
        commandErrors: [],
      }),
    ]);
    const calls = await portal.inspect<CallView[]>('calls');
    expect(calls.body.find((c) => c.callId === callId)).toMatchObject({
      finished: true,
      finishedBy: 3,
      duration: 30,
    });
  });

  it('looks a caller up in CRM in one batch: findbycomm, then contact.get by $result', async () => {
    const { b24 } = sdkClient(portal, portal.app);
    const since = await requestCount(portal);

    const res = await b24.actions.v2.batch.make({
      calls: {
        find: {
          method: 'crm.duplicate.findbycomm',
          params: { type: 'PHONE', values: ['+79161234567'], entity_type: 'CONTACT' },
        },
        contact: { method: 'crm.contact.get', params: { id: '$result[find][CONTACT][0]' } },
      },
      options: { isHaltOnError: true },
    });
    expect(res.isSuccess).toBe(true);
    const data = res.getData() as {
      find: { CONTACT: number[] };
      contact: { ID: string; ASSIGNED_BY_ID: string };
    };
    expect(data.find).toEqual({ CONTACT: [1] });
    expect(data.contact).toMatchObject({ ID: '1' });
    expect((await requestsSince(portal, since)).map((r) => [r.method, r.commands])).toEqual([
      ['batch', ['crm.duplicate.findbycomm', 'crm.contact.get']],
    ]);
  });

  it('refreshes an expired token after the 401 expired_token answer and retries the call', async () => {
    const app = await portal.install({ clientId: 'local.sdk.reactive', clientSecret: 'sdk-secret' });
    // The SDK believes its token has an hour left, so only the portal's 401 can make it refresh.
    const { b24, refreshed } = sdkClient(portal, app);
    const expired = await portal.inspect('faults', { body: { expireTokens: true } });
    expect(expired.status).toBe(200);
    const since = await requestCount(portal);

    const res = await b24.actions.v2.call.make<Record<string, unknown>[]>({
      method: 'user.get',
      params: { FILTER: { UF_PHONE_INNER: '101' } },
    });
    expect(res.isSuccess).toBe(true);
    expect(res.getData()?.result).toMatchObject([{ ID: '2', NAME: 'Anna' }]);

    expect(refreshed).toHaveLength(1);
    const fresh = refreshed[0]!;
    expect(fresh.access_token).not.toBe(app.accessToken);
    expect(fresh.refresh_token).not.toBe(app.refreshToken);
    expect(fresh.expires).toBeGreaterThan(nowSec());
    expect(fresh.member_id).toBe(portal.emulator.portal.settings.memberId);
    expect(b24.auth.getAuthData()).toMatchObject({ access_token: fresh.access_token });

    const log = await requestsSince(portal, since);
    expect(log.map((r) => [r.method, r.auth, r.status, r.error])).toEqual([
      ['user.get', null, 401, 'expired_token'],
      ['user.get', 'oauth', 200, null],
    ]);

    // The refresh token the SDK spent is gone; the new one is what works now.
    const reuse = await refreshWith(portal, app, app.refreshToken);
    expect(reuse).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // And the SDK keeps using the new token without another refresh.
    const again = await b24.actions.v2.call.make({ method: 'user.current' });
    expect(again.isSuccess).toBe(true);
    expect(refreshed).toHaveLength(1);
  });

  it('refreshes before the call when the SDK already knows its token has expired', async () => {
    const app = await portal.install({ clientId: 'local.sdk.proactive', clientSecret: 'sdk-secret' });
    const { b24, refreshed } = sdkClient(portal, app, nowSec() - 10);
    const since = await requestCount(portal);

    const res = await b24.actions.v2.call.make<{ ID: string }>({ method: 'user.current' });
    expect(res.isSuccess).toBe(true);
    expect(res.getData()?.result.ID).toBe('1');

    expect(refreshed).toHaveLength(1);
    expect(refreshed[0]!.access_token).not.toBe(app.accessToken);
    expect(refreshed[0]!.refresh_token).not.toBe(app.refreshToken);
    // No 401 first: the only REST request is the one made with the new token.
    expect((await requestsSince(portal, since)).map((r) => [r.method, r.status])).toEqual([
      ['user.current', 200],
    ]);
    const reuse = await refreshWith(portal, app, app.refreshToken);
    expect(reuse).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('calls user.get through the seed incoming webhook with B24Hook', async () => {
    // B24Hook only speaks HTTPS (fromWebhookUrl rejects http:, the constructor hard-codes https://)
    // while the emulator listens on plain loopback HTTP. The only thing changed here is the scheme
    // of each outgoing URL; path, body, headers and answer parsing stay the SDK's own.
    const hookUrl = portal.emulator.webhookUrl!.replace(/^http:/, 'https:');
    const b24 = B24Hook.fromWebhookUrl(hookUrl, { restrictionParams });
    b24.getHttpClient(ApiVersion.v2).ajaxClient.interceptors.request.use((config) => {
      config.url = config.url?.replace(/^https:/, 'http:');
      return config;
    });
    const since = await requestCount(portal);

    const res = await b24.actions.v2.call.make<Record<string, unknown>[]>({
      method: 'user.get',
      params: { FILTER: { UF_PHONE_INNER: '101' } },
    });
    expect(res.isSuccess).toBe(true);
    expect(res.getData()?.result).toMatchObject([{ ID: '2', NAME: 'Anna', LAST_NAME: 'Ivanova' }]);
    expect((await requestsSince(portal, since)).map((r) => [r.method, r.auth, r.status])).toEqual([
      ['user.get', 'webhook', 200],
    ]);
  });
});

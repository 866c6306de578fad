import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type AppInstallation, type Emulator } from 'b24-emulator';
import { startReceiver, startTestPortal, type Receiver, type TestPortal } from './helpers.ts';

type Json = Record<string, unknown>;

async function post(url: string, body: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

const refresh = (oauthUrl: string, clientId: string, secret: string, token: string) =>
  fetch(`${oauthUrl}/oauth/token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: clientId,
      client_secret: secret,
      refresh_token: token,
    }).toString(),
  }).then(async (r) => ({ status: r.status, body: (await r.json()) as Json }));

describe('users who open the app, user.admin', () => {
  let portal: TestPortal;
  beforeAll(async () => {
    portal = await startTestPortal();
  });
  afterAll(async () => {
    await portal.close();
  });

  it('user.admin answers true for an administrator and false for an employee (basic scope)', async () => {
    const admin = await portal.call('user.admin', {});
    expect(admin.status).toBe(200);
    expect(admin.body.result).toBe(true);
    const opened = await portal.inspect<{ form: Record<string, string> }>(
      `apps/${portal.app.clientId}/open`,
      {
        body: { userId: 2 },
      },
    );
    const employee = await portal.call('user.admin', {}, opened.body.form.AUTH_ID);
    expect(employee.body.result).toBe(false);
    // Through the seed's webhook (user 1, an administrator), and inside a batch.
    expect((await portal.webhook('user.admin')).body.result).toBe(true);
    const batch = await portal.call(
      'batch',
      { cmd: { a: 'user.admin', i: 'app.info' } },
      opened.body.form.AUTH_ID,
    );
    expect((batch.body.result as { result: Json }).result.a).toBe(false);
  });

  it('an employee who opens the app gets a pair of their own: the OAuth server names them in user_id', async () => {
    const opened = await portal.inspect<{
      userId: number;
      admin: boolean;
      query: Record<string, string>;
      form: Record<string, string>;
    }>(`apps/${portal.app.clientId}/open`, { body: { userId: 3 } });
    expect(opened.status).toBe(200);
    expect(opened.body).toMatchObject({ userId: 3, admin: false });
    expect(opened.body.query).toMatchObject({ DOMAIN: new URL(portal.url).host, PROTOCOL: '0' });
    const form = opened.body.form;
    expect(form).toMatchObject({ member_id: 'emulator-member-1', PLACEMENT: 'DEFAULT' });
    expect(form.AUTH_ID).not.toBe(portal.app.accessToken);
    expect(form.REFRESH_ID).not.toBe(portal.app.refreshToken);
    const current = await portal.call('user.current', {}, form.AUTH_ID);
    expect((current.body.result as Json).ID).toBe('3');
    const renewed = await refresh(portal.url, portal.app.clientId, portal.app.clientSecret, form.REFRESH_ID!);
    expect(renewed.status).toBe(200);
    expect(renewed.body).toMatchObject({ user_id: 3, member_id: 'emulator-member-1' });
  });

  it('refuses to open an app for an unknown user, and for an employee before the installer finished', async () => {
    expect((await portal.inspect(`apps/${portal.app.clientId}/open`, { body: { userId: 99 } })).status).toBe(
      400,
    );
    const pending = await portal.install({ clientId: 'local.pending.1', installFinish: 'manual' });
    const refused = await portal.inspect<{ error_description: string }>(`apps/${pending.clientId}/open`, {
      body: { userId: 2 },
    });
    expect(refused.status).toBe(409);
    expect(refused.body.error_description).toMatch(/not fully installed/);
    expect((await portal.inspect(`apps/${pending.clientId}/open`, { body: { userId: 1 } })).status).toBe(200);
  });
});

describe('two portals behind one OAuth server', () => {
  let a: Emulator;
  let b: Emulator;
  let appA: AppInstallation;
  let appB: AppInstallation;
  const clientId = 'app.shared.1';
  const clientSecret = 'shared-secret-0123456789';

  beforeAll(async () => {
    a = await startEmulator({ port: 0, settings: { memberId: 'member-a' } });
    b = await startEmulator({ port: 0, settings: { memberId: 'member-b' }, oauth: a.oauth });
    const install = async (e: Emulator) =>
      (await post(`${e.url}/_emulator/apps`, { clientId, clientSecret })).body as unknown as AppInstallation;
    appA = await install(a);
    appB = await install(b);
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('one client_id on both; each refresh token names its own portal, whichever server is asked', async () => {
    expect(appA.memberId).toBe('member-a');
    expect(appB.memberId).toBe('member-b');
    expect(appA.domain).not.toBe(appB.domain);
    const forB = await refresh(a.url, clientId, clientSecret, appB.refreshToken);
    expect(forB.status).toBe(200);
    expect(forB.body).toMatchObject({
      member_id: 'member-b',
      client_endpoint: `${b.url}/rest/`,
      domain: 'oauth.bitrix.info',
      user_id: 1,
    });
    // The new token works at B, not at A.
    const token = forB.body.access_token as string;
    expect((await post(`${b.url}/rest/app.info`, { auth: token })).status).toBe(200);
    expect((await post(`${a.url}/rest/app.info`, { auth: token })).body.error).toBe('NO_AUTH_FOUND');
    const forA = await refresh(b.url, clientId, clientSecret, appA.refreshToken);
    expect(forA.body).toMatchObject({ member_id: 'member-a', client_endpoint: `${a.url}/rest/` });
  });

  it('a wrong secret is invalid_client and an unknown refresh token invalid_grant, on either server', async () => {
    expect((await refresh(a.url, clientId, 'wrong-secret', appB.refreshToken)).body.error).toBe(
      'invalid_client',
    );
    expect((await refresh(b.url, clientId, clientSecret, 'f'.repeat(32))).body.error).toBe('invalid_grant');
    expect((await refresh(b.url, 'app.unknown.1', clientSecret, 'f'.repeat(32))).body.error).toBe(
      'invalid_client',
    );
  });
});

describe('uninstall', () => {
  let portal: TestPortal;
  let receiver: Receiver;
  beforeAll(async () => {
    portal = await startTestPortal();
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver.close();
    await portal.close();
  });

  it("takes the app's API access away before ONAPPUNINSTALL reaches its handler", async () => {
    const app = await portal.install({ clientId: 'local.gone.2', clientSecret: 'gone-secret' });
    await portal.call(
      'event.bind',
      { event: 'ONAPPUNINSTALL', handler: `${receiver.url}/uninstall` },
      app.accessToken,
    );
    let during: { token: string | undefined; refresh: string | undefined } = {
      token: undefined,
      refresh: undefined,
    };
    receiver.onPost = async () => {
      const info = await portal.call('app.info', {}, app.accessToken);
      const renewed = await refresh(portal.url, app.clientId, app.clientSecret, app.refreshToken);
      during = { token: info.body.error as string, refresh: renewed.body.error as string };
    };
    await portal.inspect(`apps/${app.clientId}`, { method: 'DELETE' });
    await receiver.next((p) => p.path === '/uninstall');
    expect(during).toEqual({ token: 'NO_AUTH_FOUND', refresh: 'invalid_grant' });
  });
});

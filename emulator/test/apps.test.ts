import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, startTestPortal, type Receiver, type TestPortal } from './helpers.ts';

type Form = Record<string, unknown>;

describe('apps: install callback, events, callbacks, uninstall', () => {
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

  it('the UI install callback carries AUTH_ID, REFRESH_ID, APPLICATION_TOKEN and the portal in the query', async () => {
    const app = await portal.install({
      clientId: 'local.page.1',
      installUrl: `${receiver.url}/install`,
      scopes: ['telephony', 'crm'],
      installFinish: 'manual',
    });
    const post = await receiver.next((p) => p.path === '/install');
    expect(post.query).toMatchObject({ DOMAIN: new URL(portal.url).host, PROTOCOL: '0', LANG: 'en' });
    expect(post.form).toMatchObject({
      AUTH_ID: app.accessToken,
      AUTH_EXPIRES: '3600',
      REFRESH_ID: app.refreshToken,
      APPLICATION_TOKEN: app.applicationToken,
      APPLICATION_SCOPE: 'telephony,crm',
      member_id: 'emulator-member-1',
      PLACEMENT: 'DEFAULT',
    });
    // Until BX24.installFinish() the app reports INSTALLED:false.
    const info = await portal.call('app.info', {}, app.accessToken);
    expect((info.body.result as { INSTALLED: boolean }).INSTALLED).toBe(false);
    await portal.inspect(`apps/${app.clientId}/install-finish`, { body: {} });
    const after = await portal.call('app.info', {}, app.accessToken);
    expect((after.body.result as { INSTALLED: boolean }).INSTALLED).toBe(true);
  });

  it('a script-only app gets an ONAPPINSTALL-style POST at its install URL', async () => {
    const app = await portal.install({
      clientId: 'local.script.1',
      installUrl: `${receiver.url}/script`,
      callback: 'event',
    });
    const post = await receiver.next((p) => p.path === '/script');
    expect(post.form.event).toBe('ONAPPINSTALL');
    expect(post.form.data).toMatchObject({ INSTALLED: 'Y', ACTIVE: 'Y' });
    expect(post.form.auth).toMatchObject({
      access_token: app.accessToken,
      refresh_token: app.refreshToken,
      application_token: app.applicationToken,
      member_id: 'emulator-member-1',
    });
  });

  it('ONEXTERNALCALLBACKSTART goes to the app owning the line, form-encoded, with no CALL_ID', async () => {
    const app = await portal.install({ clientId: 'local.callback.1' });
    await portal.call(
      'telephony.externalLine.add',
      { NUMBER: 'cb-line', NAME: 'Callback line' },
      app.accessToken,
    );
    await portal.call(
      'event.bind',
      { event: 'OnExternalCallBackStart', handler: `${receiver.url}/callback` },
      app.accessToken,
    );
    const res = await portal.inspect<{ deliveries: { status: number }[] }>('callback', {
      body: { phoneNumber: '+79161234567', text: 'Call me', lineNumber: 'cb-line' },
    });
    expect(res.status).toBe(200);
    expect(res.body.deliveries).toEqual([expect.objectContaining({ status: 200, error: null })]);
    const post = await receiver.next((p) => p.path === '/callback');
    expect(post.form.event).toBe('ONEXTERNALCALLBACKSTART');
    const data = post.form.data as Form;
    expect(data).toMatchObject({
      PHONE_NUMBER: '+79161234567',
      TEXT: 'Call me',
      LINE_NUMBER: 'cb-line',
      CRM_ENTITY_TYPE: 'CONTACT',
      CRM_ENTITY_ID: '1',
    });
    expect(data).not.toHaveProperty('CALL_ID');
    expect((post.form.auth as Form).application_token).toBe(app.applicationToken);
  });

  it('uninstall sends ONAPPUNINSTALL without tokens, then the lines, handlers and tokens are gone', async () => {
    const app = await portal.install({ clientId: 'local.gone.1' });
    await portal.call('telephony.externalLine.add', { NUMBER: 'gone-line' }, app.accessToken);
    await portal.call(
      'event.bind',
      { event: 'ONAPPUNINSTALL', handler: `${receiver.url}/uninstall` },
      app.accessToken,
    );
    const res = await portal.inspect<{ deliveries: unknown[] }>(`apps/${app.clientId}?clean=1`, {
      method: 'DELETE',
    });
    expect(res.body.deliveries).toHaveLength(1);
    const post = await receiver.next((p) => p.path === '/uninstall');
    expect(post.form.data).toMatchObject({ CLEAN: '1' });
    const auth = post.form.auth as Form;
    expect(auth.application_token).toBe(app.applicationToken);
    expect(auth).not.toHaveProperty('access_token');
    expect(auth).not.toHaveProperty('refresh_token');
    expect((await portal.call('profile', {}, app.accessToken)).body.error).toBe('NO_AUTH_FOUND');
    const lines = await portal.inspect<{ number: string }[]>('lines');
    expect(lines.body.map((l) => l.number)).not.toContain('gone-line');
    const refresh = await fetch(
      `${portal.url}/oauth/token/?grant_type=refresh_token&client_id=${app.clientId}&client_secret=${app.clientSecret}&refresh_token=${app.refreshToken}`,
    );
    expect(((await refresh.json()) as { error: string }).error).toBe('invalid_client');
  });
});

describe('attachRecord inside batch', () => {
  let portal: TestPortal;
  let fileServer: ReturnType<typeof createServer>;
  let fileUrl: string;
  beforeAll(async () => {
    portal = await startTestPortal();
    fileServer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'audio/mpeg' });
      res.end(Buffer.from('ID3-fake-mp3-bytes'));
    });
    fileServer.listen(0, '127.0.0.1');
    await once(fileServer, 'listening');
    fileUrl = `http://127.0.0.1:${(fileServer.address() as AddressInfo).port}/rec/call-1.mp3`;
  });
  afterAll(async () => {
    fileServer.close();
    await portal.close();
  });

  it('by RECORD_URL travels in one batch with register and finish; a base64 file is refused there', async () => {
    const cmd = {
      reg: 'telephony.externalcall.register?USER_ID=2&PHONE_NUMBER=%2B79161234567&TYPE=2&SHOW=0&EXTERNAL_CALL_ID=b1',
      fin: 'telephony.externalcall.finish?CALL_ID=$result[reg][CALL_ID]&USER_ID=2&DURATION=20',
      rec: `telephony.externalcall.attachRecord?CALL_ID=$result[reg][CALL_ID]&RECORD_URL=${encodeURIComponent(fileUrl)}`,
      b64: 'telephony.externalcall.attachRecord?CALL_ID=$result[reg][CALL_ID]&FILENAME=x.mp3&FILE_CONTENT=SUQz',
    };
    const res = await portal.call('batch', { cmd });
    const body = res.body.result as {
      result: Record<string, { FILE_ID?: number; CALL_ID?: string }>;
      result_error: Record<string, { error: string }>;
    };
    expect(body.result.rec?.FILE_ID).toBeGreaterThan(0);
    expect(body.result_error.b64?.error).toBe('ERROR_BATCH_METHOD_NOT_ALLOWED');
    const calls =
      await portal.inspect<{ externalCallId: string; recordings: { filename: string; size: number }[] }[]>(
        'calls?externalCallId=b1',
      );
    expect(calls.body[0]?.recordings).toEqual([
      expect.objectContaining({ filename: 'call-1.mp3', size: 18 }),
    ]);
    // The setting lets base64 through for portals known to accept it.
    await portal.inspect('settings', { body: { attachRecordInBatch: true } });
    const again = await portal.call('batch', {
      cmd: { b64: cmd.b64.replace('$result[reg][CALL_ID]', body.result.reg?.CALL_ID ?? '') },
    });
    expect(
      (again.body.result as { result: Record<string, { FILE_ID: number }> }).result.b64?.FILE_ID,
    ).toBeGreaterThan(0);
  });
});

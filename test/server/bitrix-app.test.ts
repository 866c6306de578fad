import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directoryCachePath } from '../../src/portal/index.ts';
import { encodeForm } from 'b24-emulator';
import { startDemo, type Demo } from '../../src/cli/index.ts';
import { DEMO_PBX_TOKEN } from '../../src/config/index.ts';
import type { PbxCommand } from '../../src/pbx/index.ts';
import { formatStatus, readStatus } from '../../src/cli/status.ts';

/**
 * The bridge as a Bitrix24 application, in process: the demo (no simulator, so the test is the
 * PBX and takes the commands from the long poll) installed into the emulated portal.
 */
describe('the Bitrix24 application', () => {
  let demo: Demo;
  let memberId: string;
  let appToken: string;

  const emulator = async <T>(path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${demo.emulatorUrl}/_emulator/${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const postEvent = (form: Record<string, unknown>) =>
    fetch(`${demo.bridge.url}/bitrix/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: encodeForm(form),
    });
  const commands = async (): Promise<PbxCommand[]> => {
    const res = await fetch(`${demo.bridge.url}/pbx/v1/commands?wait=0`, {
      headers: { authorization: `Bearer ${DEMO_PBX_TOKEN}` },
    });
    return (await res.json()) as PbxCommand[];
  };
  const pbxEvents = (events: unknown) =>
    fetch(`${demo.bridge.url}/pbx/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${DEMO_PBX_TOKEN}` },
      body: JSON.stringify(events),
    });
  const call = async (callId: string) =>
    (
      await emulator<{ callId: string; finished: boolean; callListId: number | null; userId: number }[]>(
        'calls',
      )
    ).find((c) => c.callId === callId);
  const until = async <T>(what: string, probe: () => Promise<T | undefined | false>): Promise<T> => {
    for (let i = 0; i < 200; i++) {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  beforeAll(async () => {
    demo = await startDemo({ port: 0, emulatorPort: 0, simulator: false });
    const [portal] = await demo.bridge.store.listPortals();
    memberId = portal!.memberId;
    appToken = portal!.applicationToken!;
  });
  afterAll(async () => {
    await demo.close();
  });

  it('keeps the application token and binds its events at the public URL', async () => {
    expect(appToken).toMatch(/\w{8,}/);
    const apps = await emulator<{ handlers: { event: string; handler: string }[] }[]>('apps');
    const handlers = apps[0]!.handlers;
    expect(handlers.map((h) => h.event).sort()).toEqual([
      'ONAPPINSTALL',
      'ONAPPTEST',
      'ONAPPUNINSTALL',
      // The CRM changes that keep the CRM phone index fresh.
      'ONCRMCOMPANYADD',
      'ONCRMCOMPANYDELETE',
      'ONCRMCOMPANYUPDATE',
      'ONCRMCONTACTADD',
      'ONCRMCONTACTDELETE',
      'ONCRMCONTACTUPDATE',
      'ONCRMLEADADD',
      'ONCRMLEADDELETE',
      'ONCRMLEADUPDATE',
      'ONEXTERNALCALLBACKSTART',
      'ONEXTERNALCALLSTART',
    ]);
    expect(new Set(handlers.map((h) => h.handler))).toEqual(new Set([`${demo.bridge.url}/bitrix/events`]));
    // The portal's ONAPPINSTALL after the callback carried the same token: nothing was redone.
    const deliveries = await emulator<{ event: string; status: number }[]>('deliveries');
    expect(deliveries.filter((d) => d.event === 'ONAPPINSTALL').map((d) => d.status)).toEqual([200]);
  });

  it('refuses forged events (wrong, missing token; unknown portal) with 401 and does nothing', async () => {
    const data = { CALL_ID: 'externalCall.forged', USER_ID: '2', PHONE_NUMBER: '+79990001122' };
    const forged = [
      { event: 'ONEXTERNALCALLSTART', data, auth: { member_id: memberId, application_token: 'wrong' } },
      { event: 'ONEXTERNALCALLSTART', data, auth: { member_id: memberId } },
      {
        event: 'ONEXTERNALCALLSTART',
        data,
        auth: { member_id: 'another-portal', application_token: appToken },
      },
      { event: 'ONAPPUNINSTALL', data: {}, auth: { member_id: memberId, application_token: `${appToken}x` } },
    ];
    for (const form of forged) {
      const res = await postEvent(form);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: 'EVENT_NOT_AUTHENTIC' } });
    }
    const noName = await postEvent({ data, auth: { member_id: memberId, application_token: appToken } });
    expect(noName.status).toBe(400);
    const garbage = await fetch(`${demo.bridge.url}/bitrix/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'event=X&a[__proto__][b]=1',
    });
    expect(garbage.status).toBe(400);
    expect(await commands()).toEqual([]);
    expect(demo.bridge.portals.has(memberId)).toBe(true);
  });

  it('a CRM change teaches the CRM phone index; a forged or malformed one changes nothing', async () => {
    const runtime = demo.bridge.portals.get(memberId)!;
    const asked = new Promise<string[]>((resolve) =>
      runtime.callers.once('updated', ({ phones }) => resolve(phones)),
    );
    const auth = { member_id: memberId, application_token: appToken };
    const ts = String(Math.floor(Date.now() / 1000));
    const company = await postEvent({ event: 'ONCRMCOMPANYUPDATE', data: { FIELDS: { ID: '1' } }, auth, ts });
    expect(company.status).toBe(200);
    expect(await asked).toEqual(['74951112233']);
    expect(await runtime.callers.lookup('+7 495 111-22-33')).toMatchObject({
      crmEntityType: 'COMPANY',
      crmEntityId: 1,
      userId: 4,
    });
    const forged = await postEvent({
      event: 'ONCRMCONTACTDELETE',
      data: { FIELDS: { ID: '1' } },
      auth: { ...auth, application_token: 'forged' },
      ts,
    });
    expect(forged.status).toBe(401);
    for (const data of [{}, { FIELDS: { ID: 'x' } }, { FIELDS: 'y' }]) {
      const bad = await postEvent({ event: 'ONCRMCONTACTUPDATE', data, auth, ts });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ error: { code: 'INVALID_EVENT' } });
    }
    expect(await runtime.callers.lookup('+74951112233')).toMatchObject({ userId: 4 });
  });

  it('S4: a click in the CRM originates on the PBX once and ends finished with its CALL_LIST_ID', async () => {
    const number = '+79161234567';
    const { callId } = await emulator<{ callId: string }>('click-to-call', {
      userId: 2,
      phoneNumber: number,
      callListId: 7,
      wait: true,
    });
    const [command] = await until('the originate command', async () => {
      const c = await commands();
      return c.length > 0 ? c : undefined;
    });
    expect(command).toMatchObject({ type: 'originate', extension: '101', number });
    // The same event again (Bitrix24 does not retry, but a proxy might): no second origination.
    const repeat = await postEvent({
      event: 'ONEXTERNALCALLSTART',
      ts: String(Math.floor(Date.now() / 1000)),
      data: { CALL_ID: callId, USER_ID: '2', PHONE_NUMBER: number, CALL_LIST_ID: '7' },
      auth: { member_id: memberId, application_token: appToken },
    });
    expect(await repeat.json()).toMatchObject({ ok: true, result: 'duplicate' });
    expect(await commands()).toEqual([]);

    const pbxCallId = command!.callId;
    const at = Date.now();
    expect(
      (
        await pbxEvents([
          {
            type: 'call.started',
            callId: pbxCallId,
            direction: 'outbound',
            from: '101',
            to: number,
            at: new Date(at).toISOString(),
          },
          {
            type: 'call.answered',
            callId: pbxCallId,
            extension: '101',
            at: new Date(at + 3000).toISOString(),
          },
          {
            type: 'call.ended',
            callId: pbxCallId,
            reason: 'completed',
            at: new Date(at + 33_000).toISOString(),
          },
          {
            type: 'recording.ready',
            callId: pbxCallId,
            contentBase64: Buffer.from('RIFF-c2c').toString('base64'),
            filename: 'c2c.wav',
          },
        ])
      ).status,
    ).toBe(202);
    const done = await until('the finished click-to-call', async () => {
      const c = await call(callId);
      return c?.finished === true ? c : undefined;
    });
    expect(done).toMatchObject({ callListId: 7, userId: 2, duration: 30, statusCode: '200' });
  });

  it('callback: ONEXTERNALCALLBACKSTART registers a TYPE 4 call and rings a free agent first', async () => {
    await emulator('callback', { phoneNumber: '+79035550000', lineNumber: '+74950000001' });
    const [command] = await until('the callback originate', async () => {
      const c = await commands();
      return c.length > 0 ? c : undefined;
    });
    expect(command).toMatchObject({ type: 'originate', number: '+79035550000' });
    expect(['101', '102', '103']).toContain(command!.extension);
    const registered = await until('the TYPE 4 call', async () =>
      (await emulator<{ type: number; phoneNumber: string }[]>('calls')).find(
        (c) => c.type === 4 && c.phoneNumber.endsWith('9035550000'),
      ),
    );
    expect(registered.type).toBe(4);
    await pbxEvents({ type: 'call.ended', callId: command!.callId, reason: 'no_answer' });
  });

  it('the app page: refused without a genuine token; shows the portal and runs the test actions', async () => {
    const refused = await fetch(`${demo.bridge.url}/bitrix/app`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: encodeForm({ AUTH_ID: 'not-a-token', member_id: memberId }),
    });
    expect(refused.status).toBe(401);
    expect((await fetch(`${demo.bridge.url}/bitrix/app?session=forged.session`)).status).toBe(401);

    const tokens = await demo.bridge.store.tokens.get(memberId);
    const page = await fetch(`${demo.bridge.url}/bitrix/app?DOMAIN=x&PROTOCOL=0`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: encodeForm({ AUTH_ID: tokens!.accessToken, member_id: memberId }),
    });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('id="directory"');
    expect(html).toMatch(/Anna Ivanova<\/td><td>101/);
    expect(html).toMatch(/Elena Kuznetsova<\/td><td><em class="warn">no extension/);
    const session = /name="session" value="([^"]+)"/.exec(html)![1]!;

    // The action answers the page with its outcome: no redirect, so the session stays out of URLs.
    const act = async (name: string): Promise<string> => {
      const res = await fetch(`${demo.bridge.url}/bitrix/app/actions/${name}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: encodeForm({ session }),
        redirect: 'manual',
      });
      expect(res.status).toBe(200);
      return res.text();
    };
    const cards = () => emulator<{ userId: number; phoneNumber: string }[]>('cards');
    expect(await act('incoming-call')).toContain('rings extension 100');
    await until('the card for user 1', async () => (await cards()).some((c) => c.userId === 1));
    expect(await act('transfer')).toContain('moved to extension 101');
    await until('the card moved to user 2', async () => {
      const c = await cards();
      return c.some((x) => x.userId === 2) && !c.some((x) => x.userId === 1);
    });
    expect(await act('drop')).toContain('dropped');
    await until('no test card', async () =>
      (await cards()).every((c) => !c.phoneNumber.endsWith('0000000000')),
    );
    expect(await act('refresh-directory')).toMatch(/the extension map has \d+ extensions/);
    const tested = await act('event-test');
    expect(tested).toMatch(/the test event arrived after \d+ ms/);
    expect(tested).toContain('the portal reaches the bridge');
  });

  it('an expired refresh token shows as "needs re-install" on the app page and in status', async () => {
    // A page opened while the tokens were good; its session outlives them.
    const tokens = await demo.bridge.store.tokens.get(memberId);
    const opened = await (
      await fetch(`${demo.bridge.url}/bitrix/app`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: encodeForm({ AUTH_ID: tokens!.accessToken, member_id: memberId }),
      })
    ).text();
    expect(opened).toContain('id="reinstall">no');
    const session = /name="session" value="([^"]+)"/.exec(opened)![1]!;

    // Half a year later every token of the install has expired, the refresh token too: any request
    // meets an expired token, and its refresh is refused for good.
    await emulator('clock', { advanceSec: 181 * 86_400 });
    const runtime = demo.bridge.portals.get(memberId)!;
    await expect(runtime.api.app.info()).rejects.toMatchObject({ code: 'NEEDS_REINSTALL' });
    const status = await readStatus(demo.bridge.config);
    expect(status.find((p) => p.memberId === memberId)?.needsReinstall).toMatch(/\w/);
    expect(formatStatus(status).join('\n')).toContain('needs re-install');
    const html = await (
      await fetch(`${demo.bridge.url}/bitrix/app?session=${encodeURIComponent(session)}`)
    ).text();
    expect(html).toMatch(/id="reinstall"><strong class="warn">yes/);
  });

  it('ONAPPUNINSTALL forgets the portal: its tokens, its outbox; later events are refused', async () => {
    expect(existsSync(directoryCachePath(demo.bridge.config, memberId))).toBe(true);
    const apps = await emulator<{ clientId: string }[]>('apps');
    const res = await fetch(`${demo.emulatorUrl}/_emulator/apps/${apps[0]!.clientId}`, { method: 'DELETE' });
    const { deliveries } = (await res.json()) as { deliveries: { event: string; status: number }[] };
    expect(deliveries).toMatchObject([{ event: 'ONAPPUNINSTALL', status: 200 }]);
    expect(demo.bridge.portals.has(memberId)).toBe(false);
    expect(await demo.bridge.store.listPortals()).toEqual([]);
    expect(await demo.bridge.store.tokens.get(memberId)).toBeUndefined();
    // Its users (names, e-mails) cached beside the store go too.
    expect(existsSync(directoryCachePath(demo.bridge.config, memberId))).toBe(false);
    const after = await postEvent({
      event: 'ONEXTERNALCALLSTART',
      data: { CALL_ID: 'externalCall.late', USER_ID: '2', PHONE_NUMBER: '+79990001122' },
      auth: { member_id: memberId, application_token: appToken },
    });
    expect(after.status).toBe(401);
  });

  it('a re-install by ONAPPINSTALL alone (an app without an install page) connects the portal again', async () => {
    const bitrix = demo.bridge.config.bitrix;
    if (bitrix.mode !== 'app') throw new Error('the demo is an app');
    const installed = await emulator<{ applicationToken: string; installCallback: { status: number } }>(
      'apps',
      {
        clientId: bitrix.clientId,
        clientSecret: bitrix.clientSecret,
        installUrl: `${demo.bridge.url}/bitrix/install`,
        scopes: ['telephony', 'crm', 'user'],
        callback: 'event',
      },
    );
    expect(installed.installCallback.status).toBe(200);
    expect(demo.bridge.portals.has(memberId)).toBe(true);
    const [portal] = await demo.bridge.store.listPortals();
    expect(portal?.applicationToken).toBe(installed.applicationToken);
    expect(portal?.applicationToken).not.toBe(appToken);
    // Only the new token opens the door now.
    const old = await postEvent({
      event: 'ONEXTERNALCALLSTART',
      data: { CALL_ID: 'externalCall.old', USER_ID: '2', PHONE_NUMBER: '+79990001122' },
      auth: { member_id: memberId, application_token: appToken },
    });
    expect(old.status).toBe(401);
  });
});

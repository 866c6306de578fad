/**
 * A portal employee against the installation. Bitrix24 gives every user who opens the app a token
 * pair of their own; with it an employee posts the install callback (and ONAPPINSTALL) with an
 * application token of their choice, then forges events under it. Only an administrator of the
 * portal may install or re-install, every check runs before anything changes, and an uninstall is
 * believed only when the portal confirms it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  nowTs,
  parsedLogs,
  pbxCommands,
  postForm,
  startOffice,
  until,
  type EmulatedPortal,
  type Office,
} from './office.ts';

describe('a portal employee against the installation', () => {
  let office: Office;
  let portal: EmulatedPortal;
  let genuineToken: string;

  const stored = async () => (await office.bridge.store.getPortal(portal.memberId))?.applicationToken;
  const clickToCall = (applicationToken: string, phoneNumber: string) =>
    postForm(`${office.bridge.url}/bitrix/events`, {
      event: 'ONEXTERNALCALLSTART',
      ts: nowTs(),
      data: {
        CALL_ID: `externalCall.${applicationToken.slice(0, 8)}.1`,
        USER_ID: '2',
        PHONE_NUMBER: phoneNumber,
      },
      auth: { member_id: portal.memberId, application_token: applicationToken },
    });

  beforeAll(async () => {
    office = await startOffice();
    portal = office.portals[0]!;
    genuineToken = portal.app!.applicationToken;
  });
  afterAll(async () => {
    await office.close();
  });

  it('the administrator installed the app: the stored token is the installation’s', async () => {
    expect(await stored()).toBe(genuineToken);
  });

  it('an employee posting the install callback with their own pair and a token of their choice is refused; nothing changes', async () => {
    const { query, form } = await portal.openAs(2);
    const before = await office.bridge.store.getPortal(portal.memberId);
    const tokensBefore = await office.bridge.store.tokens.get(portal.memberId);
    const res = await postForm(
      `${office.bridge.url}/bitrix/install?${new URLSearchParams(query).toString()}`,
      { ...form, APPLICATION_TOKEN: 'employee-chosen-token-000000001' },
    );
    expect(res.status).toBe(403);
    expect(res.json()).toMatchObject({ error: { code: 'INSTALL_NOT_ADMIN' } });
    expect(await office.bridge.store.getPortal(portal.memberId)).toEqual(before);
    expect(await office.bridge.store.tokens.get(portal.memberId)).toEqual(tokensBefore);

    // The employee's token opens nothing; the installation's still does.
    const forged = await clickToCall('employee-chosen-token-000000001', '+79990000001');
    expect(forged.status).toBe(401);
    expect(await pbxCommands(office.bridge)).toEqual([]);
    const genuine = await portal.control<{ callId: string }>('click-to-call', {
      userId: 2,
      phoneNumber: '+79161234567',
      wait: true,
    });
    expect(genuine.status).toBe(200);
    const commands = await until('the genuine click-to-call', async () => {
      const c = await pbxCommands(office.bridge);
      return c.length > 0 ? c : undefined;
    });
    expect(commands).toMatchObject([{ type: 'originate', extension: '101', number: '+79161234567' }]);
  });

  it('an employee’s ONAPPINSTALL (their own pair, a token of their choice) is refused too', async () => {
    const { form } = await portal.openAs(3);
    for (const path of ['/bitrix/events', '/bitrix/install']) {
      const res = await postForm(`${office.bridge.url}${path}`, {
        event: 'ONAPPINSTALL',
        ts: nowTs(),
        data: { VERSION: '1', ACTIVE: 'Y', INSTALLED: 'Y', LANGUAGE_ID: 'en' },
        auth: {
          access_token: form.AUTH_ID,
          refresh_token: form.REFRESH_ID,
          member_id: portal.memberId,
          domain: portal.domain,
          application_token: `employee-event-token-${path.length}`,
        },
      });
      expect(res.status).toBe(403);
      expect(res.json<{ error: { code: string } }>().error.code).toMatch(/^INSTALL_NOT_/);
    }
    expect(await stored()).toBe(genuineToken);
  });

  it('a forged ONAPPUNINSTALL, even with the genuine token, is refused while the portal still answers for the app', async () => {
    const res = await postForm(`${office.bridge.url}/bitrix/events`, {
      event: 'ONAPPUNINSTALL',
      ts: nowTs(),
      data: { LANGUAGE_ID: 'en', CLEAN: '1' },
      auth: { member_id: portal.memberId, domain: portal.domain, application_token: genuineToken },
    });
    expect(res.status).toBe(409);
    expect(res.json()).toMatchObject({ error: { code: 'UNINSTALL_NOT_CONFIRMED' } });
    expect(office.bridge.portals.has(portal.memberId)).toBe(true);
    expect(await stored()).toBe(genuineToken);
  });

  it('refused installs log one short warning each, no stack, no token', () => {
    const lines = parsedLogs(office.logs).filter((l) => l.msg === 'request refused');
    const installs = lines.filter((l) => l.route === '/bitrix/install' || l.route === '/bitrix/events');
    expect(installs.length).toBeGreaterThanOrEqual(3);
    for (const l of installs) {
      expect(l.level).toBe(40);
      expect(JSON.stringify(l)).not.toMatch(/stack|employee-chosen-token/);
    }
  });

  it('the administrator re-installing is the one way the application token changes', async () => {
    const { query, form } = await portal.openAs(1);
    const res = await postForm(
      `${office.bridge.url}/bitrix/install?${new URLSearchParams(query).toString()}`,
      { ...form, APPLICATION_TOKEN: 'administrator-new-token-0000001' },
    );
    expect(res.status).toBe(200);
    expect(await stored()).toBe('administrator-new-token-0000001');
    // The uninstall then comes for real: the portal takes the app's access away first.
    const gone = await portal.control<{ deliveries: { status: number }[] }>(
      `apps/${portal.app!.clientId}`,
      undefined,
      'DELETE',
    );
    expect(gone.status).toBe(200);
    // The emulator's own ONAPPUNINSTALL carries its installation's token, which the re-install replaced.
    const forgotten = await postForm(`${office.bridge.url}/bitrix/events`, {
      event: 'ONAPPUNINSTALL',
      ts: nowTs(),
      data: { LANGUAGE_ID: 'en', CLEAN: '0' },
      auth: { member_id: portal.memberId, application_token: 'administrator-new-token-0000001' },
    });
    expect(forgotten.status).toBe(200);
    expect(office.bridge.portals.has(portal.memberId)).toBe(false);
  });
});

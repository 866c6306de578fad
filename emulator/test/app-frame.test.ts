import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPortal, type TestPortal } from './helpers.ts';

/**
 * The portal page that shows an app in its frame, and the BX24 library stand-in the app's page
 * loads (the browser half runs in test/e2e/offline-office.test.ts, in Chromium).
 */
describe('the app in the portal’s frame', () => {
  let portal: TestPortal;
  beforeAll(async () => {
    portal = await startTestPortal();
  });
  afterAll(async () => {
    await portal.close();
  });

  const page = async (clientId: string, userId: number): Promise<{ status: number; html: string }> => {
    const res = await fetch(`${portal.url}/_emulator/apps/${clientId}/page?userId=${String(userId)}`);
    return { status: res.status, html: await res.text() };
  };

  it('frames the installer as Bitrix24 does: the frame named DOMAIN|PROTOCOL|APP_SID, the form posted into it', async () => {
    await portal.install({
      clientId: 'local.frame.1',
      installUrl: 'http://office.lan:3000/bitrix/install',
      installFinish: 'manual',
    });
    const { status, html } = await page('local.frame.1', 1);
    expect(status).toBe(200);
    const host = new URL(portal.url).host;
    const name = new RegExp(`<iframe id="app-frame" name="${host}\\|0\\|([0-9a-f]{32})">`).exec(html);
    expect(name).not.toBeNull();
    const action = /<form id="app-form" method="post" action="([^"]+)" target="([^"]+)">/.exec(html);
    expect(action?.[2]).toBe(`${host}|0|${name?.[1] ?? ''}`);
    const target = new URL((action?.[1] ?? '').replace(/&#38;/g, '&'));
    expect(`${target.origin}${target.pathname}`).toBe('http://office.lan:3000/bitrix/install');
    expect(Object.fromEntries(target.searchParams)).toMatchObject({
      DOMAIN: host,
      PROTOCOL: '0',
      APP_SID: name?.[1],
    });
    for (const field of ['AUTH_ID', 'REFRESH_ID', 'APPLICATION_TOKEN', 'member_id'])
      expect(html).toContain(`name="${field}"`);
    expect(html).toContain('"INSTALL":true');
    expect(html).toContain('data-installed="false"');
  });

  it('shows only administrators an app whose installation is not finished', async () => {
    // User 2 (Anna) is no administrator.
    const { status } = await page('local.frame.1', 2);
    expect(status).toBe(409);
  });

  it('serves the BX24 library at /api/v1/, as api.bitrix24.com does', async () => {
    const res = await fetch(`${portal.url}/api/v1/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    const js = await res.text();
    for (const name of ['init', 'installFinish', 'getAuth', 'isAdmin', 'refreshAuth'])
      expect(js).toContain(`${name}: `);
    expect(js).toContain("send('setInstallFinish'");
    expect(js).toContain("send('getInitData'");
  });
});

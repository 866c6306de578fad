/**
 * Someone on the office LAN reaches every port the bridge listens on. Without a token or a login
 * they get the public answers only: `/healthz` and `/metrics` (figures, no secret, no caller's
 * number), 401 from the PBX API, the login page from the admin UI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_SECRET, pbxEvents, requestFrom, startOffice, type Office } from './office.ts';

describe('a stranger on the office LAN', () => {
  let office: Office;
  beforeAll(async () => {
    office = await startOffice();
    // A call, so the figures have something to count.
    const at = new Date().toISOString();
    await pbxEvents(office.bridge, [
      { type: 'call.started', callId: 'lan-1', direction: 'inbound', from: '+79165554433', to: '101', at },
    ]);
  });
  afterAll(async () => {
    await office.close();
  });

  it('reads figures but no secret and no caller from /healthz and /metrics', async () => {
    const tokens = await office.bridge.store.tokens.get(office.portals[0]!.memberId);
    const secrets = [
      CLIENT_SECRET,
      'demo-token',
      office.portals[0]!.app!.applicationToken,
      tokens!.accessToken,
      tokens!.refreshToken,
      '79165554433',
    ];
    for (const path of ['/healthz', '/metrics']) {
      const res = await requestFrom('127.0.0.9', `${office.bridge.url}${path}`);
      expect(res.status).toBe(200);
      for (const s of secrets) expect(res.text, `${path} holds ${s.slice(0, 4)}…`).not.toContain(s);
    }
  });

  it('gets 401 from the PBX API and the login page from the admin UI', async () => {
    const api = await requestFrom('127.0.0.9', `${office.bridge.url}/pbx/v1/commands?wait=0`);
    expect(api.status).toBe(401);
    const admin = await requestFrom('127.0.0.9', `${office.bridge.url}/queues`);
    expect(admin.status).toBe(303);
    expect(admin.headers.location).toMatch(/^\/login/);
    const json = await requestFrom('127.0.0.9', `${office.bridge.url}/api/portals`);
    expect(json.status).toBe(401);
  });
});

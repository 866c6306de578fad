import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type Demo } from '../../src/cli/index.ts';
import { encodeForm } from 'b24-emulator';

/** The install callback, in process: the demo installs the bridge; a forged callback stores nothing. */
describe('POST /bitrix/install', () => {
  let demo: Demo;
  beforeAll(async () => {
    demo = await startDemo({ port: 0, emulatorPort: 0, simulator: false });
  });
  afterAll(async () => {
    await demo.close();
  });

  it('stored the portal of the real install flow and registered the demo lines', async () => {
    const portals = await demo.bridge.store.listPortals();
    expect(portals).toHaveLength(1);
    expect(demo.bridge.portals.size).toBe(1);
    const lines = (await (await fetch(`${demo.emulatorUrl}/_emulator/lines`)).json()) as { number: string }[];
    expect(lines.map((l) => l.number).sort()).toEqual(['+74950000001', '+74950000002']);
  });

  it('refuses a callback whose tokens the portal does not confirm, storing nothing', async () => {
    const domain = new URL(demo.emulatorUrl).host;
    const res = await fetch(`${demo.bridge.url}/bitrix/install?DOMAIN=${domain}&PROTOCOL=0`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: encodeForm({
        AUTH_ID: 'forged',
        REFRESH_ID: 'forged',
        member_id: 'someone-else',
        AUTH_EXPIRES: '3600',
      }),
    });
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('INSTALL_NOT_VERIFIED');
    expect(body.error.message).not.toContain('forged');
    expect((await demo.bridge.store.listPortals()).map((p) => p.memberId)).not.toContain('someone-else');
  });

  it('refuses a callback without its fields with 400', async () => {
    const res = await fetch(`${demo.bridge.url}/bitrix/install?DOMAIN=x`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'member_id=m',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'INVALID_INSTALL' } });
  });
});

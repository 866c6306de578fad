/**
 * Another tenant of the same bridge: the administrator of their own portal (genuine, verified),
 * who tries to pass for a neighbour. Two portals share one OAuth server, as oauth.bitrix.info serves
 * every portal. A portal is its member_id plus the domain the OAuth server confirmed, never the
 * callback's DOMAIN; PBXes are matched to portals by member_id; a domain held by another member_id
 * is refused; a configuration where one PBX names two portals does not start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from 'b24-emulator';
import { startBridge } from '../../src/bridge/index.ts';
import { parseConfig } from '../../src/config/index.ts';
import { SqliteStore } from '../../src/store/index.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  emulatedPortal,
  nowTs,
  pbxCommands,
  pbxEvents,
  postForm,
  startOffice,
  until,
  type EmulatedPortal,
  type Office,
} from './office.ts';

const VICTIM_PBX = 'victim-pbx-token-0123456789';
const ATTACKER_PBX = 'attacker-pbx-token-0123456789';

interface EmulatorCall {
  callId: string;
  externalCallId: string | null;
  phoneNumber: string;
}

describe('another tenant of the same bridge', () => {
  let office: Office;
  let victim: EmulatedPortal;
  let attacker: EmulatedPortal;

  beforeAll(async () => {
    // The attacker's member_id sorts first: after a restart its portal is the first one found.
    office = await startOffice({
      memberIds: ['member-victim', 'member-attacker'],
      install: false,
      configure: (doc, portals) => ({
        ...doc,
        pbx: [
          { id: 'victim', token: VICTIM_PBX, portal: portals[0]!.domain },
          { id: 'attacker', token: ATTACKER_PBX, portal: 'member-attacker' },
        ],
      }),
    });
    [victim, attacker] = office.portals as [EmulatedPortal, EmulatedPortal];
    await office.install(victim);
    await office.register(attacker);
  });
  afterAll(async () => {
    await office.close();
  });

  it("an administrator of one portal installing with the other's DOMAIN gets their own domain, as the OAuth server says", async () => {
    const { query, form } = await attacker.openAs(1);
    const res = await postForm(
      `${office.bridge.url}/bitrix/install?${new URLSearchParams({ ...query, DOMAIN: victim.domain }).toString()}`,
      form,
    );
    expect(res.status).toBe(200);
    const stored = await office.bridge.store.getPortal('member-attacker');
    expect(stored?.domain).toBe(attacker.domain);
    expect(stored?.clientEndpoint).toBe(`${attacker.emulator.url}/rest/`);
    expect((await office.bridge.store.getPortal('member-victim'))?.domain).toBe(victim.domain);
  });

  it("the attacker's click-to-call goes to the attacker's PBX, never the victim's", async () => {
    await attacker.control('click-to-call', { userId: 2, phoneNumber: '+79160000099', wait: true });
    const mine = await until('the attacker’s originate', async () => {
      const c = await pbxCommands(office.bridge, ATTACKER_PBX);
      return c.length > 0 ? c : undefined;
    });
    expect(mine).toMatchObject([{ type: 'originate', number: '+79160000099' }]);
    expect(await pbxCommands(office.bridge, VICTIM_PBX)).toEqual([]);
  });

  it("after a restart the victim's PBX still reports its calls to the victim's portal only", async () => {
    await office.restart();
    const at = new Date().toISOString();
    const res = await pbxEvents(
      office.bridge,
      [
        {
          type: 'call.started',
          callId: 'tenant-1',
          direction: 'inbound',
          from: '+79035557788',
          to: '101',
          at,
        },
        { type: 'call.ringing', callId: 'tenant-1', extensions: ['101'], at },
      ],
      VICTIM_PBX,
    );
    expect(res.status).toBe(202);
    const calls = async (p: EmulatedPortal) =>
      (await p.control<EmulatorCall[]>('calls')).body.filter((c) =>
        c.externalCallId?.startsWith('tenant-1@'),
      );
    await until('the call at the victim’s portal', async () =>
      (await calls(victim)).length > 0 ? true : undefined,
    );
    expect(await calls(attacker)).toEqual([]);
  });

  it("tokens of one portal under the other's member_id are refused; nothing is stored", async () => {
    const { query, form } = await attacker.openAs(1);
    const before = await office.bridge.store.getPortal('member-victim');
    const res = await postForm(
      `${office.bridge.url}/bitrix/install?${new URLSearchParams(query).toString()}`,
      {
        ...form,
        member_id: 'member-victim',
        APPLICATION_TOKEN: 'attacker-as-victim-token-000001',
      },
    );
    expect(res.status).toBe(403);
    expect(res.json()).toMatchObject({ error: { code: 'INSTALL_NOT_VERIFIED' } });
    expect(await office.bridge.store.getPortal('member-victim')).toEqual(before);
    // Nor do events signed with the attacker's own token pass for the victim's.
    const forged = await postForm(`${office.bridge.url}/bitrix/events`, {
      event: 'ONEXTERNALCALLSTART',
      ts: nowTs(),
      data: { CALL_ID: 'externalCall.cross.1', USER_ID: '2', PHONE_NUMBER: '+79990000002' },
      auth: { member_id: 'member-victim', application_token: attacker.app!.applicationToken },
    });
    expect(forged.status).toBe(401);
    expect(await pbxCommands(office.bridge, VICTIM_PBX)).toEqual([]);
  });

  it('a user of one portal cannot open the app page of the other with their token', async () => {
    const { form } = await attacker.openAs(1);
    const res = await postForm(`${office.bridge.url}/bitrix/app`, {
      AUTH_ID: form.AUTH_ID,
      member_id: 'member-victim',
    });
    expect(res.status).toBe(401);
  });

  describe('a portal whose confirmed domain another installed portal holds', () => {
    let squatter: Emulator;
    beforeAll(async () => {
      // The OAuth server reports this portal at the victim's host (a domain that moved, say).
      squatter = await startEmulator({
        port: 0,
        settings: { memberId: 'member-squatter', domain: victim.domain },
        oauth: victim.emulator.oauth,
      });
    });
    afterAll(async () => {
      await squatter.close();
    });

    it('is refused with 409 before its tokens are used, and nothing is stored', async () => {
      const portal = emulatedPortal(squatter, 'member-squatter');
      await office.register(portal);
      const { query, form } = await portal.openAs(1);
      const res = await postForm(
        `${office.bridge.url}/bitrix/install?${new URLSearchParams(query).toString()}`,
        form,
      );
      expect(res.status).toBe(409);
      expect(res.json()).toMatchObject({ error: { code: 'DOMAIN_TAKEN' } });
      expect(await office.bridge.store.getPortal('member-squatter')).toBeUndefined();
    });
  });
});

describe('a configuration in which one PBX names two portals', () => {
  it('does not start, and says which PBX and portals', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'b24-two-portals-'));
    try {
      const sqlitePath = join(dir, 'bridge.sqlite');
      // Two portals kept by an older version: one's member_id is the other's domain.
      const store = await SqliteStore.open({ path: sqlitePath });
      const portal = (memberId: string, endpoint: string) => ({
        memberId,
        domain: new URL(endpoint).host,
        clientEndpoint: endpoint,
        authKind: 'oauth' as const,
        webhookUrl: null,
        applicationToken: `${memberId}-application-token`,
      });
      await store.savePortal(portal('portal.example.com', 'https://one.example.com/rest/'), Date.now());
      await store.savePortal(portal('member-two', 'https://portal.example.com/rest/'), Date.now());
      await store.close();
      const parsed = parseConfig({
        store: { kind: 'sqlite', path: sqlitePath },
        bitrix: { mode: 'app', clientId: 'app.two.1', clientSecret: 'two-client-secret-01234' },
        pbx: [{ id: 'office', token: 'office-token-0123456789', portal: 'portal.example.com' }],
      });
      if (!parsed.ok) throw parsed.error;
      const refused = await startBridge(parsed.config, { port: 0, warn: () => undefined }).then(
        () => undefined,
        (e: unknown) => e as { code: string; message: string },
      );
      expect(refused?.code).toBe('CONFIG_INVALID');
      expect(refused?.message).toMatch(/PBX office .*matches 2 portals/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

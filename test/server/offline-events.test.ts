import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from 'b24-emulator';
import { startBridge, type Bridge } from '../../src/bridge/index.ts';
import { DEMO_PBX_TOKEN, demoDocument, parseConfig, type BridgeConfig } from '../../src/config/index.ts';
import type { PbxCommand } from '../../src/pbx/index.ts';

const CLICK_FRESH_SEC = 5;

/**
 * Outbound-only mode: the bridge has no public URL, so it binds its events as offline events and
 * reads them itself; the emulated portal refuses every delivery to a handler URL (the bridge
 * behind NAT), from the install on: the administrator's browser installs it from the app page. The
 * test is the PBX and takes the commands from the long poll.
 */
describe('outbound-only: offline events, the portal never reaching the bridge', () => {
  let emulator: Emulator;
  let bridge: Bridge;
  let memberId: string;
  let config: BridgeConfig;

  const inspect = async <T>(path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${emulator.url}/_emulator/${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  /** The PBX's long poll: resolves with the commands the bridge has for it. */
  const commands = async (): Promise<PbxCommand[]> => {
    const res = await fetch(`${bridge.url}/pbx/v1/commands?wait=5`, {
      headers: { authorization: `Bearer ${DEMO_PBX_TOKEN}` },
    });
    return (await res.json()) as PbxCommand[];
  };
  const untilCommand = async (match: (c: PbxCommand) => boolean): Promise<PbxCommand> => {
    for (let i = 0; i < 10; i++) {
      const found = (await commands()).find(match);
      if (found) return found;
    }
    throw new Error('no such command came');
  };
  /** Polls the emulator's inspection API until the probe sees what it waits for. */
  const until = async <T>(probe: () => Promise<T | undefined>): Promise<T> => {
    for (let i = 0; i < 200; i++) {
      const v = await probe();
      if (v !== undefined) return v;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('timed out');
  };
  const call = async (callId: string) =>
    (await inspect<{ callId: string; finished: boolean; statusCode: string | null }[]>('calls')).find(
      (c) => c.callId === callId,
    );

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
    const dir = mkdtempSync(join(tmpdir(), 'b24-bridge-offline-'));
    const doc = demoDocument({
      clientId: 'local.offline.test',
      clientSecret: 'offline-client-secret-0123',
      oauthUrl: `${emulator.url}/oauth/token/`,
      port: 3000,
      simulator: false,
      sqlitePath: join(dir, 'bridge.sqlite'),
    });
    const parsed = parseConfig({
      ...doc,
      server: { host: '127.0.0.1', port: 3000 },
      bitrix: {
        ...doc.bitrix,
        mode: 'app',
        offline: { clickFreshSec: CLICK_FRESH_SEC },
        retry: { maxAttempts: 2, minDelayMs: 50, maxDelayMs: 200 },
      },
      admin: { password: 'offline-admin-password' },
    });
    if (!parsed.ok) throw parsed.error;
    config = parsed.config;
    bridge = await startBridge(config, { port: 0, host: '127.0.0.1', warn: () => undefined });
    // The portal cannot reach the bridge at all: every delivery, callback and download is refused.
    await inspect('settings', { unreachableApp: true });
    const app = await inspect<{ installed: boolean; installCallback: { error: string | null } }>('apps', {
      clientId: 'local.offline.test',
      clientSecret: 'offline-client-secret-0123',
      installUrl: `${bridge.url}/bitrix/install`,
      installFinish: 'manual',
      scopes: ['telephony', 'crm', 'user'],
    });
    expect(app).toMatchObject({ installed: false, installCallback: { error: 'ECONNREFUSED' } });
    // The installer page in the administrator's browser, which reaches the bridge on the office
    // network: the portal's frame posts it the administrator's tokens, the page installs, then
    // calls BX24.installFinish().
    const opening = await inspect<{ query: Record<string, string>; form: Record<string, string> }>(
      'apps/local.offline.test/open',
      { userId: 1 },
    );
    const page = await fetch(
      `${bridge.url}/bitrix/install?${new URLSearchParams(opening.query).toString()}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(opening.form).toString(),
      },
    );
    expect(page.status, await page.text()).toBe(200);
    await inspect('apps/local.offline.test/install-finish', {});
    const [portal] = await bridge.store.listPortals();
    memberId = portal!.memberId;
  });
  afterAll(async () => {
    await bridge.close();
    await emulator.close();
  });

  it('binds its events as offline events, with no handler URL', async () => {
    const apps = await inspect<{ handlers: { event: string; handler: string }[] }[]>('apps');
    const handlers = apps[0]!.handlers;
    expect(new Set(handlers.map((h) => h.handler))).toEqual(new Set(['']));
    expect(handlers.map((h) => h.event).sort()).toEqual([
      'ONAPPUNINSTALL',
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
  });

  it('S4 click-to-call reaches the PBX from the offline queue, with nothing delivered to a URL', async () => {
    const number = '+79161112233';
    const { callId } = await inspect<{ callId: string }>('click-to-call', {
      userId: 2,
      phoneNumber: number,
      callListId: 7,
    });
    const command = await untilCommand((c) => c.type === 'originate' && 'number' in c && c.number === number);
    expect(command).toMatchObject({ type: 'originate', extension: '101', number });
    expect((await call(callId))?.finished).toBe(false);
    const deliveries = await inspect<{ event: string }[]>('deliveries');
    expect(deliveries.filter((d) => d.event === 'ONEXTERNALCALLSTART')).toEqual([]);
    expect(bridge.offline?.of(memberId)?.requests).toBeGreaterThan(0);

    // The call is talked and recorded: the recording reaches the portal as an upload, since the
    // portal could not download it from the bridge.
    const pbxCallId = command.callId;
    const at = Date.now();
    const events = [
      {
        type: 'call.started',
        callId: pbxCallId,
        direction: 'outbound',
        from: '101',
        to: number,
        at: new Date(at).toISOString(),
      },
      { type: 'call.answered', callId: pbxCallId, extension: '101', at: new Date(at + 3000).toISOString() },
      { type: 'call.ended', callId: pbxCallId, reason: 'completed', at: new Date(at + 33_000).toISOString() },
      {
        type: 'recording.ready',
        callId: pbxCallId,
        contentBase64: Buffer.from('RIFF-offline').toString('base64'),
        filename: 'offline.wav',
      },
    ];
    const posted = await fetch(`${bridge.url}/pbx/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${DEMO_PBX_TOKEN}` },
      body: JSON.stringify(events),
    });
    expect(posted.status).toBe(202);
    const recorded = await until(async () => {
      const c = (
        await inspect<{ callId: string; finished: boolean; recordings: { size: number }[] }[]>('calls')
      ).find((x) => x.callId === callId);
      return c?.finished === true && c.recordings.length > 0 ? c : undefined;
    });
    expect(recorded.recordings).toEqual([expect.objectContaining({ size: 'RIFF-offline'.length })]);
    const requests = await inspect<{ method: string; params?: Record<string, unknown> }[]>('requests');
    expect(JSON.stringify(requests)).not.toMatch(/RECORD_URL/i);
  });

  it('a callback request reaches the PBX from the queue', async () => {
    await inspect('callback', { phoneNumber: '+79035550001', lineNumber: '+74950000001' });
    const command = await untilCommand(
      (c) => c.type === 'originate' && 'number' in c && c.number === '+79035550001',
    );
    expect(command).toMatchObject({ type: 'originate' });
  });

  it('a click made while the bridge is not reading, found too late, is finished as not connected', async () => {
    const runtime = bridge.portals.get(memberId)!;
    await bridge.offline!.close();
    const { callId } = await inspect<{ callId: string }>('click-to-call', {
      userId: 2,
      phoneNumber: '+79161112299',
    });
    // The bridge is "down" for longer than a click stays worth dialling.
    await new Promise((r) => setTimeout(r, CLICK_FRESH_SEC * 1000 + 500));
    const poller = bridge.offline!.watch(runtime);
    const report = await new Promise((resolve) => poller.once('read', resolve));
    expect(report).toMatchObject({ fetched: 1, handled: 1 });
    expect(await call(callId)).toMatchObject({ finished: true, statusCode: '304' });
    const stray = (await fetch(`${bridge.url}/pbx/v1/commands?wait=0`, {
      headers: { authorization: `Bearer ${DEMO_PBX_TOKEN}` },
    }).then((r) => r.json())) as PbxCommand[];
    expect(
      stray.filter((c) => c.type === 'originate' && 'number' in c && c.number === '+79161112299'),
    ).toEqual([]);
  }, 20_000);

  it('a stale click whose finish went before its record was cleared is cleared again, not marked as an error', async () => {
    const runtime = bridge.portals.get(memberId)!;
    await bridge.offline!.close();
    const { callId } = await inspect<{ callId: string }>('click-to-call', {
      userId: 2,
      phoneNumber: '+79161112288',
    });
    await new Promise((r) => setTimeout(r, CLICK_FRESH_SEC * 1000 + 500));
    // The previous process finished it and died before clearing the record.
    await runtime.api.externalCall.finish({ callId, userId: 2, duration: 0, statusCode: '304' });
    const poller = bridge.offline!.watch(runtime);
    const report = await new Promise((resolve) => poller.once('read', resolve));
    expect(report).toMatchObject({ fetched: 1, handled: 1, failed: 0, kept: 0 });
    expect(await call(callId)).toMatchObject({ finished: true, statusCode: '304' });
  }, 20_000);

  it('a click made while the bridge restarts is read when it is back, and dialled while fresh', async () => {
    await bridge.close();
    const number = '+79161112277';
    const { callId } = await inspect<{ callId: string }>('click-to-call', { userId: 2, phoneNumber: number });
    bridge = await startBridge(config, { port: 0, host: '127.0.0.1', warn: () => undefined });
    const command = await untilCommand((c) => c.type === 'originate' && 'number' in c && c.number === number);
    expect(command).toMatchObject({ type: 'originate', extension: '101', number });
    expect((await call(callId))?.finished).toBe(false);
  });

  it('an uninstall, which leaves nothing to read, is learnt from the refused token: the portal is forgotten', async () => {
    const apps = await inspect<{ clientId: string }[]>('apps');
    const res = await fetch(`${emulator.url}/_emulator/apps/${apps[0]!.clientId}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    await until(() =>
      Promise.resolve(
        bridge.portals.has(memberId) || bridge.offline?.of(memberId) !== undefined ? undefined : true,
      ),
    );
    expect(await bridge.store.listPortals()).toEqual([]);
  });
});

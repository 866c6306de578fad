/**
 * The cap on a PBX's live calls, through a real bridge and emulated portal: past `maxLiveCalls`,
 * a new call is answered but not followed (not on the board, its route the fallback plan), it is
 * counted in `/metrics`, and once a call ends a new one is followed again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator } from 'b24-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../../src/bridge/index.ts';
import { DEMO_PBX_TOKEN, demoDocument, parseConfig } from '../../src/config/index.ts';
import { Registry } from '../../src/metrics/index.ts';

const ADMIN = 'live-cap-admin-token-0123456789';
let emulator: Emulator;
let bridge: Bridge;
let registry: Registry;
let dir = '';

async function pbx(path: string, body: unknown): Promise<Response> {
  return fetch(`${bridge.url}/pbx/v1/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${DEMO_PBX_TOKEN}` },
    body: JSON.stringify(body),
  });
}

const start = (callId: string, from: string) => [
  { type: 'call.started', callId, direction: 'inbound', from, to: '101', at: new Date().toISOString() },
  { type: 'call.ringing', callId, extensions: ['101'], at: new Date().toISOString() },
];

async function boardCalls(): Promise<string[]> {
  const res = await fetch(`${bridge.url}/api/calls`, { headers: { authorization: `Bearer ${ADMIN}` } });
  const body = (await res.json()) as { calls: { pbxCallId: string }[] };
  return body.calls.map((c) => c.pbxCallId).sort();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'b24-live-cap-'));
  emulator = await startEmulator({ port: 0 });
  const doc = demoDocument({
    clientId: 'local.b24bridge.cap',
    clientSecret: 'cap-test-client-secret-0123456789',
    oauthUrl: `${emulator.url}/oauth/token/`,
    simulator: false,
    sqlitePath: join(dir, 'bridge.sqlite'),
  });
  const parsed = parseConfig({
    ...doc,
    pbx: doc.pbx.map((p) => ({ ...p, maxLiveCalls: 2 })),
    engine: { defaultUserId: 1, recording: { maxWaitSec: 0, hideGraceSec: 0 } },
    admin: { token: ADMIN },
  });
  if (!parsed.ok) throw parsed.error;
  registry = new Registry();
  bridge = await startBridge(
    { ...parsed.config, server: { ...parsed.config.server, publicUrl: undefined } },
    { port: 0, host: '127.0.0.1', warn: () => undefined, metrics: registry, logger: false },
  );
  const res = await fetch(`${emulator.url}/_emulator/apps`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      clientId: 'local.b24bridge.cap',
      clientSecret: 'cap-test-client-secret-0123456789',
      installUrl: `${bridge.url}/bitrix/install`,
      scopes: ['telephony', 'crm', 'user'],
    }),
  });
  if (!res.ok) throw new Error(`install: ${String(res.status)}`);
}, 30_000);

afterAll(async () => {
  await bridge.close();
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the cap on live calls per PBX', () => {
  it('answers a call past the cap without following it, counts it, and follows new calls once one ends', async () => {
    expect(
      (await pbx('events', [...start('cap-1', '+79160000001'), ...start('cap-2', '+79160000002')])).status,
    ).toBe(202);
    expect((await pbx('events', start('cap-3', '+79160000003'))).status).toBe(202);
    expect(await boardCalls()).toEqual(['cap-1', 'cap-2']);
    const route = await pbx('route', { callId: 'cap-4', from: '+79160000004', to: '101' });
    expect(route.status).toBe(200);
    expect(await boardCalls()).toEqual(['cap-1', 'cap-2']);
    expect(await registry.expose()).toMatch(/b24_bridge_live_calls_refused_total\{pbx="[^"]+"\} 2/);
    expect(
      (
        await pbx('events', [
          { type: 'call.ended', callId: 'cap-1', reason: 'completed', at: new Date().toISOString() },
        ])
      ).status,
    ).toBe(202);
    expect((await pbx('events', start('cap-5', '+79160000005'))).status).toBe(202);
    expect(await boardCalls()).toEqual(['cap-1', 'cap-2', 'cap-5']);
    // The refused call's later events are dropped as well: it never reaches the board.
    expect(
      (
        await pbx('events', [
          { type: 'call.answered', callId: 'cap-3', extension: '101', at: new Date().toISOString() },
        ])
      ).status,
    ).toBe(202);
    expect(await boardCalls()).not.toContain('cap-3');
  });
});

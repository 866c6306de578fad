/**
 * The call journal as the bridge feeds it, through a real bridge and emulated portal: a call's
 * timeline holds its PBX events (their own time and when they arrived), its routing plan, its card
 * with the latency from ringing, its Bitrix24 requests and answers (no token in them), and what
 * the CRM made of it; the summary is found by number, user and line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator } from 'b24-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../../src/bridge/index.ts';
import { DEMO_PBX_TOKEN, demoDocument, parseConfig } from '../../src/config/index.ts';
import type { CallSummary, JournalCall } from '../../src/journal/index.ts';

const ADMIN = 'journal-feed-admin-token-0123456789';
const SECRET = 'journal-feed-client-secret-0123456789';
let emulator: Emulator;
let bridge: Bridge;
let dir = '';

async function pbx(path: string, body: unknown): Promise<Response> {
  const res = await fetch(`${bridge.url}/pbx/v1/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${DEMO_PBX_TOKEN}` },
    body: JSON.stringify(body),
  });
  return res;
}

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${bridge.url}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  if (!res.ok) throw new Error(`${path}: ${String(res.status)} ${await res.text()}`);
  return (await res.json()) as T;
}

/** The journal is read after each flush: waits until `check` holds of the call's page. */
async function journalOf(pbxCallId: string, check: (c: JournalCall) => boolean): Promise<JournalCall> {
  for (const deadline = Date.now() + 10_000; ;) {
    const { calls } = await api<{ calls: CallSummary[] }>(`/api/journal?number=79161112233`);
    const key = calls.find((c) => c.pbxCallId === pbxCallId)?.callKey;
    if (key !== undefined) {
      const call = await api<JournalCall>(`/api/journal/${encodeURIComponent(key)}`);
      if (check(call)) return call;
    }
    if (Date.now() > deadline) throw new Error(`the journal of ${pbxCallId} did not come`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'b24-journal-feed-'));
  emulator = await startEmulator({ port: 0 });
  const doc = demoDocument({
    clientId: 'local.b24bridge.feed',
    clientSecret: SECRET,
    oauthUrl: `${emulator.url}/oauth/token/`,
    simulator: false,
    sqlitePath: join(dir, 'bridge.sqlite'),
  });
  const parsed = parseConfig({
    ...doc,
    engine: { defaultUserId: 1, recording: { maxWaitSec: 0, hideGraceSec: 0 } },
    admin: { token: ADMIN },
  });
  if (!parsed.ok) throw parsed.error;
  bridge = await startBridge(
    { ...parsed.config, server: { ...parsed.config.server, publicUrl: undefined } },
    { port: 0, host: '127.0.0.1', warn: () => undefined, logger: false },
  );
  const res = await fetch(`${emulator.url}/_emulator/apps`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      clientId: 'local.b24bridge.feed',
      clientSecret: SECRET,
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

async function faults(method: string, body?: unknown): Promise<void> {
  const res = await fetch(`${emulator.url}/_emulator/faults`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`faults: ${String(res.status)}`);
}

describe('the journal the bridge keeps', () => {
  it('tells a call’s retries while the portal is out, and when it answered again', async () => {
    await faults('POST', { outage: 'refuse' });
    const callId = 'journal-outage';
    const now = new Date().toISOString();
    expect(
      (
        await pbx('events', [
          { type: 'call.started', callId, direction: 'inbound', from: '+79161112233', to: '101', at: now },
          { type: 'call.ringing', callId, extensions: ['101'], at: now },
        ])
      ).status,
    ).toBe(202);
    // The client's own quick retries fail too; the outbox then keeps the call waiting.
    await journalOf(callId, (c) =>
      c.entries.some((e) => e.kind === 'retry' && /waits in the outbox/.test(e.summary)),
    );
    await faults('DELETE');
    const call = await journalOf(callId, (c) => c.entries.some((e) => e.kind === 'outage'));
    const retries = call.entries.filter((e) => e.kind === 'retry').map((e) => e.summary);
    expect(retries.some((r) => /the client tries again/.test(r))).toBe(true);
    expect(retries.some((r) => /register not delivered \(NETWORK\); it waits in the outbox/.test(r))).toBe(
      true,
    );
    expect(call.entries.find((e) => e.kind === 'outage')?.summary).toMatch(
      /the portal answers again after \d+ s/,
    );
    // Delivered once the portal answered again: the register's answer follows the wait.
    const waited = call.entries.findIndex((e) => /waits in the outbox/.test(e.summary));
    expect(
      call.entries.slice(waited).some((e) => e.kind === 'bitrix' && /register.*→ 200/i.test(e.summary)),
    ).toBe(true);
  });

  it('holds a call’s events, plan, card, requests and CRM outcome, and finds it by number', async () => {
    const t0 = Date.now() - 5_000;
    const at = (ms: number): string => new Date(t0 + ms).toISOString();
    const callId = 'journal-1';
    expect((await pbx('route', { callId, from: '+79161112233', to: '101' })).status).toBe(200);
    const events = [
      { type: 'call.started', callId, direction: 'inbound', from: '+79161112233', to: '101', at: at(0) },
      { type: 'call.ringing', callId, extensions: ['101'], at: at(100) },
    ];
    expect((await pbx('events', events)).status).toBe(202);
    const ringing = await journalOf(callId, (c) =>
      c.entries.some((e) => e.kind === 'card' && /card shown/.test(e.summary)),
    );
    expect(
      (await pbx('events', [{ type: 'call.answered', callId, extension: '101', at: at(2_000) }])).status,
    ).toBe(202);
    expect(
      (await pbx('events', [{ type: 'call.ended', callId, reason: 'completed', at: at(4_000) }])).status,
    ).toBe(202);
    const call = await journalOf(callId, (c) => c.entries.some((e) => /logged in the CRM/.test(e.summary)));
    const kinds = new Set(call.entries.map((e) => e.kind));
    expect([...kinds].sort()).toEqual(expect.arrayContaining(['bitrix', 'card', 'crm', 'pbx', 'route']));
    const ring = call.entries.find((e) => e.summary === 'ringing: 101');
    // The PBX's own time, and the arrival some seconds later (the events were sent late).
    expect(ring?.at).toBe(t0 + 100);
    expect((ring?.recordedAt ?? 0) - (ring?.at ?? 0)).toBeGreaterThan(3_000);
    expect(call.entries.find((e) => e.kind === 'route' && e.summary.startsWith('plan:'))?.summary).toContain(
      '101',
    );
    expect(
      call.entries.some((e) => e.kind === 'bitrix' && /telephony\.externalcall\.register/i.test(e.summary)),
    ).toBe(true);
    expect(call.summary).toMatchObject({
      outcome: 'answered',
      phoneNumber: '+79161112233',
      calledNumber: '101',
    });
    expect(call.summary.cardLatencyMs).not.toBeNull();
    expect(call.summary.activityId).not.toBeNull();
    expect(ringing.summary.outcome).toBe('live');
    const text = JSON.stringify(call);
    expect(text).not.toContain(SECRET);
    expect(text).not.toMatch(/access_token|refresh_token|Bearer /);
    const byUser = await api<{ calls: CallSummary[] }>(`/api/journal?user=${String(call.summary.userId)}`);
    expect(byUser.calls.map((c) => c.pbxCallId)).toContain(callId);
    const other = await api<{ calls: CallSummary[] }>('/api/journal?number=79990000000');
    expect(other.calls).toEqual([]);
  });
});

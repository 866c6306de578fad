import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { demoDocument, parseConfig, type BridgeConfig } from '../../src/config/index.ts';
import { createEngine } from '../../src/core/index.ts';
import { Outbox } from '../../src/outbox/index.ts';
import { buildServer, type BridgeServer, type EventIntake } from '../../src/server/index.ts';
import { SqliteStore } from '../../src/store/index.ts';
import { office } from '../../src/core/testkit.ts';
import { silentPortal } from '../support/fakes.ts';

const silent = silentPortal;

function demoConfig(): BridgeConfig {
  const parsed = parseConfig(
    demoDocument({
      clientId: 'local.test',
      clientSecret: 'secret-value-1234',
      oauthUrl: 'http://127.0.0.1:9/oauth/',
    }),
  );
  if (!parsed.ok) throw parsed.error;
  return parsed.config;
}

const auth = { authorization: 'Bearer demo-token' };
const json = { ...auth, 'content-type': 'application/json' };
const started = {
  type: 'call.started',
  callId: 'c1',
  direction: 'inbound',
  from: '+79161234567',
  to: '101',
  at: '2026-03-10T12:00:00Z',
};

function counts(store: SqliteStore): { inputs: number; entries: number } {
  const n = (sql: string): number => (store.database.prepare(sql).get() as { n: number }).n;
  return {
    inputs: n('SELECT count(*) AS n FROM inputs'),
    entries: n('SELECT count(*) AS n FROM outbox_entries'),
  };
}

describe('the PBX API over fastify inject', () => {
  let dir: string;
  let store: SqliteStore;
  let outbox: Outbox;
  let server: BridgeServer;
  let intake: EventIntake | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'b24-server-'));
    store = await SqliteStore.open({ path: join(dir, 'bridge.db'), synchronous: 'normal' });
    outbox = await Outbox.open({ portalId: 'p1', store, engine: createEngine(office), api: silent });
    intake = outbox;
    server = buildServer({ config: demoConfig(), outboxFor: () => intake });
  });
  afterEach(async () => {
    await server.app.close();
    outbox.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers /healthz', async () => {
    const res = await server.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok' });
  });

  it('stores events and answers 202 with their count; a repeat is harmless', async () => {
    const first = await server.app.inject({
      method: 'POST',
      url: '/pbx/v1/events',
      headers: json,
      payload: [started],
    });
    expect(first.statusCode).toBe(202);
    expect(first.json()).toEqual({ accepted: 1 });
    const before = counts(store);
    const again = await server.app.inject({
      method: 'POST',
      url: '/pbx/v1/events',
      headers: json,
      payload: started,
    });
    expect(again.statusCode).toBe(202);
    expect(counts(store)).toEqual(before);
  });

  it('refuses malformed JSON with 400 MALFORMED_JSON', async () => {
    const res = await server.app.inject({
      method: 'POST',
      url: '/pbx/v1/events',
      headers: json,
      payload: '{"type":',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'MALFORMED_JSON' } });
    expect(res.body).not.toContain('at ');
  });

  it('refuses an unknown event type with 400 naming it', async () => {
    const res = await server.app.inject({
      method: 'POST',
      url: '/pbx/v1/events',
      headers: json,
      payload: { type: 'call.exploded', callId: 'c1' },
    });
    expect(res.statusCode).toBe(400);
    const body = res.json<{ error: { code: string; message: string } }>();
    expect(body.error.code).toBe('UNKNOWN_EVENT_TYPE');
    expect(body.error.message).toContain('call.exploded');
    expect(counts(store)).toEqual({ inputs: 0, entries: 0 });
  });

  it('refuses a wrong or missing token with 401', async () => {
    for (const headers of [
      { 'content-type': 'application/json', authorization: 'Bearer nope' },
      { 'content-type': 'application/json' },
    ]) {
      const res = await server.app.inject({
        method: 'POST',
        url: '/pbx/v1/events',
        headers,
        payload: started,
      });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    }
    expect(counts(store).inputs).toBe(0);
  });

  it('refuses a body over 1 MiB with 413', async () => {
    const payload = JSON.stringify({ ...started, line: 'x'.repeat(1_100_000) });
    const res = await server.app.inject({ method: 'POST', url: '/pbx/v1/events', headers: json, payload });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: { code: 'BODY_TOO_LARGE' } });
  });

  it('answers 503 when the store cannot be written, with nothing half-applied', async () => {
    store.database.pragma('query_only = ON');
    const state = outbox.engineState;
    const res = await server.app.inject({
      method: 'POST',
      url: '/pbx/v1/events',
      headers: json,
      payload: [started],
    });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: { code: 'STORE_READONLY' } });
    expect(res.body).not.toMatch(/\.ts:\d+/);
    expect(outbox.engineState).toBe(state);
    expect(counts(store)).toEqual({ inputs: 0, entries: 0 });
    // Writable again: the PBX's repeat is taken.
    store.database.pragma('query_only = OFF');
    const again = await server.app.inject({
      method: 'POST',
      url: '/pbx/v1/events',
      headers: json,
      payload: [started],
    });
    expect(again.statusCode).toBe(202);
  });

  it('answers 503 NO_PORTAL while no portal is connected', async () => {
    intake = undefined;
    const res = await server.app.inject({
      method: 'POST',
      url: '/pbx/v1/events',
      headers: json,
      payload: started,
    });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: { code: 'NO_PORTAL' } });
  });

  it('routes a call to an extension to that extension', async () => {
    const res = await server.app.inject({
      method: 'POST',
      url: '/pbx/v1/route',
      headers: json,
      payload: { callId: 'r1', from: '+79161234567', to: '101' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json<{ plan: { extensions: string[] }[] }>().plan[0]?.extensions).toEqual(['101']);
  });

  it('answers the configured fallback plan within 300 ms when the engine is slow', async () => {
    intake = { accept: () => new Promise(() => undefined) };
    const t0 = performance.now();
    const res = await server.app.inject({
      method: 'POST',
      url: '/pbx/v1/route',
      headers: json,
      payload: { callId: 'r2', from: '+79160000000', to: '+74950000002', line: '+74950000002' },
    });
    expect(performance.now() - t0).toBeLessThan(600);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      plan: [
        { extensions: ['101'], timeoutSec: 5 },
        { extensions: ['102'], timeoutSec: 5 },
        { extensions: ['103'], timeoutSec: 5 },
      ],
    });
  });

  it('hands commands out by long poll and takes their acks', async () => {
    const poll = server.app.inject({ method: 'GET', url: '/pbx/v1/commands?wait=5', headers: auth });
    setTimeout(() => {
      server.commands.post('demo', { commandId: 'k1', type: 'transfer', callId: 'c9', extension: '102' });
    }, 50);
    const res = await poll;
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual([{ commandId: 'k1', type: 'transfer', callId: 'c9', extension: '102' }]);
    const empty = await server.app.inject({ method: 'GET', url: '/pbx/v1/commands?wait=0', headers: auth });
    expect(empty.json()).toEqual([]);
    const ack = (id: string) =>
      server.app.inject({ method: 'POST', url: `/pbx/v1/commands/${id}/ack`, headers: json, payload: {} });
    expect((await ack('k1')).statusCode).toBe(204);
    expect((await ack('k1')).statusCode).toBe(204);
    const unknown = await ack('never');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: 'UNKNOWN_COMMAND' } });
    const badQuery = await server.app.inject({
      method: 'GET',
      url: '/pbx/v1/commands?wait=99',
      headers: auth,
    });
    expect(badQuery.statusCode).toBe(400);
  });

  it('takes back a transfer the PBX has not fetched once the call is answered', async () => {
    // The engine asked for the manager while the call rang; a queue member answered first.
    server.commands.post('demo', { commandId: 'late', type: 'transfer', callId: 'c10', extension: '103' });
    server.commands.post('demo', { commandId: 'other', type: 'transfer', callId: 'c11', extension: '103' });
    const answered = await server.app.inject({
      method: 'POST',
      url: '/pbx/v1/events',
      headers: json,
      payload: [
        { ...started, callId: 'c10' },
        { type: 'call.answered', callId: 'c10', extension: '101', at: '2026-03-10T12:00:05Z' },
      ],
    });
    expect(answered.statusCode).toBe(202);
    const left = await server.app.inject({ method: 'GET', url: '/pbx/v1/commands?wait=0', headers: auth });
    expect(left.json()).toEqual([{ commandId: 'other', type: 'transfer', callId: 'c11', extension: '103' }]);
  });

  it('serves the OpenAPI document', async () => {
    const res = await server.app.inject({ method: 'GET', url: '/pbx/v1/openapi.json' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ openapi: '3.1.0' });
  });
});

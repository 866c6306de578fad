/**
 * Route mode without helpers on the PBX: Asterisk's own CURL() posts the call as a form and asks
 * for `Accept: text/plain`; `/pbx/v1/route` answers the engine's plan as one Asterisk dial string
 * (the same plan the JSON answer carries), and errors as one line no dialplan mistakes for a plan.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { demoDocument, parseConfig, type BridgeConfig } from '../../src/config/index.ts';
import { createEngine } from '../../src/core/index.ts';
import { office } from '../../src/core/testkit.ts';
import { Outbox } from '../../src/outbox/index.ts';
import { prefersText } from '../../src/http/accept.ts';
import { buildServer, type BridgeServer } from '../../src/server/index.ts';
import { SqliteStore } from '../../src/store/index.ts';
import { silentPortal } from '../support/fakes.ts';

function config(): BridgeConfig {
  const doc = demoDocument({
    clientId: 'local.route',
    clientSecret: 'route-secret-value-1',
    oauthUrl: 'http://127.0.0.1:9/oauth/',
  });
  const parsed = parseConfig({
    ...doc,
    pbx: [
      {
        id: 'asterisk',
        token: 'asterisk-token-1',
        kind: 'asterisk',
        ami: { host: '127.0.0.1', username: 'b24', secret: 'ami-secret-1', devicePattern: 'PJSIP/{ext}' },
      },
      { id: 'cloud', token: 'cloud-token-1', kind: 'webhook' },
    ],
  });
  if (!parsed.ok) throw parsed.error;
  return parsed.config;
}

const form = (token: string) => ({
  authorization: `Bearer ${token}`,
  'content-type': 'application/x-www-form-urlencoded',
  accept: 'text/plain',
});
const body = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

/** What Asterisk's CURL() sends: a form, for a plain-text answer. */
const ask = (to: BridgeServer, token: string, payload: string) =>
  to.app.inject({ method: 'POST', url: '/pbx/v1/route', headers: form(token), payload });

describe('POST /pbx/v1/route in plain text', () => {
  let dir: string;
  let store: SqliteStore;
  let outbox: Outbox;
  let server: BridgeServer;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'b24-route-text-'));
    store = await SqliteStore.open({ path: join(dir, 'bridge.db'), synchronous: 'normal' });
    outbox = await Outbox.open({ portalId: 'p1', store, engine: createEngine(office), api: silentPortal });
    server = buildServer({ config: config(), outboxFor: () => outbox });
  });
  afterEach(async () => {
    await server.app.close();
    outbox.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers the plan as a dial string of the Asterisk's devices, step by step", async () => {
    const res = await ask(
      // What CURL() posts: URIENCODE()d fields, the caller's + as %2B.
      server,
      'asterisk-token-1',
      body({ callId: '1773130000.42', from: '+79160000002', to: '+74950000002' }),
    );
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toBe('PJSIP/101^5|PJSIP/102^5|PJSIP/103^5\n');
  });

  it('rings the members of a simultaneous step together, and gives another PBX bare extensions', async () => {
    const res = await ask(server, 'cloud-token-1', body({ callId: 'h1', from: '+79160000003', to: '8800' }));
    // 104 is a phone nobody is mapped to: the engine does not ring it for the queue.
    expect(res.body).toBe('101&102&103^20\n');
  });

  it('is the same plan as the JSON answer, which stays the default (also for a form body)', async () => {
    const call = { callId: 'j1', from: '+79160000004', to: '+74950000002' };
    const asJson = await server.app.inject({
      method: 'POST',
      url: '/pbx/v1/route',
      headers: {
        authorization: 'Bearer asterisk-token-1',
        'content-type': 'application/x-www-form-urlencoded',
      },
      payload: body(call),
    });
    expect(asJson.headers['content-type']).toMatch(/^application\/json/);
    const plan = asJson.json<{ plan: { extensions: string[]; timeoutSec: number }[] }>().plan;
    expect(
      plan.map((s) => `${s.extensions.map((e) => `PJSIP/${e}`).join('&')}^${s.timeoutSec}`).join('|'),
    ).toBe('PJSIP/101^5|PJSIP/102^5|PJSIP/103^5');
  });

  it('answers an empty line when nobody is free, so the dialplan goes on to its own fallback', async () => {
    // The engine's answer when every member is on another call: an empty plan.
    const busy = { accept: () => Promise.resolve({ pbx: [{ type: 'pbx.plan', callId: 'e1', plan: [] }] }) };
    const empty = buildServer({ config: config(), outboxFor: () => busy as never });
    try {
      const res = await ask(
        empty,
        'asterisk-token-1',
        body({ callId: 'e1', from: '+79160000005', to: '101' }),
      );
      expect(res.body).toBe('\n');
      expect(res.statusCode).toBe(200);
    } finally {
      await empty.app.close();
    }
  });

  it('answers errors as one line with spaces (never a dial string), and refuses a field given twice', async () => {
    const wrong = await ask(server, 'wrong-token-0', body({ callId: 'x', from: '1', to: '101' }));
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['content-type']).toMatch(/^text\/plain/);
    expect(wrong.body).toMatch(/^error [A-Z_]+: .+\n$/);
    expect(wrong.body).not.toContain('wrong-token-0');

    const missing = await ask(server, 'asterisk-token-1', body({ from: '+79160000006', to: '101' }));
    expect(missing.statusCode).toBe(400);
    expect(missing.body).toMatch(/^error [A-Z_]+: .*callId/);

    const twice = await ask(server, 'asterisk-token-1', 'callId=a&callId=b&from=1&to=101');
    expect(twice.statusCode).toBe(400);
    expect(twice.body).toContain('/callId: given more than once');
  });
});

describe('choosing plain text by the Accept header', () => {
  it('is plain text only when text/plain ranks above JSON', () => {
    expect(prefersText('text/plain')).toBe(true);
    expect(prefersText('text/plain;q=0.9, application/json;q=0.5')).toBe(true);
    expect(prefersText('application/json, text/plain')).toBe(false);
    expect(prefersText('application/json;q=0.5, text/plain;q=0.5')).toBe(false);
    expect(prefersText('text/plain;q=0')).toBe(false);
    expect(prefersText('*/*')).toBe(false);
    expect(prefersText('text/html,application/xhtml+xml,*/*;q=0.8')).toBe(false);
    expect(prefersText(undefined)).toBe(false);
  });
});

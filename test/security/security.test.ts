/**
 * What a hostile PBX or a stranger on the network can and cannot make the bridge do: wrong tokens,
 * oversized bodies, recording URLs pointing into the bridge's own network. (Forged Bitrix24 events
 * and installs: test/server/bitrix-app.test.ts and install.test.ts; the admin login:
 * test/admin/api.test.ts; secrets in logs: test/admin/log-scan.test.ts.)
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoDocument, parseConfig } from '../../src/config/index.ts';
import { createEngine } from '../../src/core/index.ts';
import { office } from '../../src/core/testkit.ts';
import { Outbox } from '../../src/outbox/index.ts';
import { buildServer, type BridgeServer } from '../../src/server/index.ts';
import { recordingHostAllowed } from '../../src/server/pbx-api.ts';
import { SqliteStore } from '../../src/store/index.ts';
import { silentPortal } from '../support/fakes.ts';

const silent = silentPortal;

describe('recording hosts', () => {
  it('matches a host, a host with its port, and subdomains of a *. rule, nothing else', () => {
    const hosts = ['pbx.example.com', 'rec.example.net:8443', '*.office.example.org'];
    expect(recordingHostAllowed('https://pbx.example.com/r/1.mp3', hosts)).toBe(true);
    expect(recordingHostAllowed('https://PBX.example.com:443/r/1.mp3', hosts)).toBe(true);
    expect(recordingHostAllowed('https://rec.example.net:8443/x', hosts)).toBe(true);
    expect(recordingHostAllowed('https://rec.example.net/x', hosts)).toBe(false);
    expect(recordingHostAllowed('https://a.office.example.org/x', hosts)).toBe(true);
    expect(recordingHostAllowed('https://office.example.org.evil.com/x', hosts)).toBe(false);
    expect(recordingHostAllowed('https://evilpbx.example.com/x', hosts)).toBe(false);
    expect(recordingHostAllowed('http://169.254.169.254/latest/meta-data/', hosts)).toBe(false);
    expect(recordingHostAllowed('https://pbx.example.com@127.0.0.1/x', hosts)).toBe(false);
    expect(recordingHostAllowed('not a url', hosts)).toBe(false);
  });
});

describe('a hostile PBX', () => {
  let dir: string;
  let store: SqliteStore;
  let outbox: Outbox;
  let server: BridgeServer;
  let internal: Server;
  let internalHits = 0;
  let internalUrl = '';

  beforeAll(async () => {
    // An address inside the bridge's network that nobody outside should make it (or the portal) touch.
    internal = createServer((_req, res) => {
      internalHits++;
      res.end('secret');
    });
    await new Promise<void>((resolve) => internal.listen(0, '127.0.0.1', resolve));
    const a = internal.address();
    internalUrl = `http://127.0.0.1:${String(typeof a === 'object' && a !== null ? a.port : 0)}`;

    dir = mkdtempSync(join(tmpdir(), 'b24-security-'));
    store = await SqliteStore.open({ path: join(dir, 'bridge.db'), synchronous: 'normal' });
    outbox = await Outbox.open({ portalId: 'p1', store, engine: createEngine(office), api: silent });
    const doc = demoDocument({
      clientId: 'local.sec',
      clientSecret: 'secret-value-1234',
      oauthUrl: 'http://127.0.0.1:9/o/',
    });
    doc.pbx = [{ id: 'office', token: 'office-token-0123456789', recordingHosts: ['pbx.example.com'] }];
    const parsed = parseConfig(doc);
    if (!parsed.ok) throw parsed.error;
    server = buildServer({
      config: parsed.config,
      outboxFor: () => outbox,
      storeRecording: () => Promise.resolve('ref'),
      bitrixEvents: () => Promise.resolve({ result: 'ignored' as const }),
    });
    await server.app.ready();
  });
  afterAll(async () => {
    await server.app.close();
    outbox.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    internal.close();
  });

  const post = (url: string, payload: string, headers: Record<string, string> = {}) =>
    server.app.inject({
      method: 'POST',
      url,
      headers: {
        'content-type': 'application/json',
        authorization: 'Bearer office-token-0123456789',
        ...headers,
      },
      payload,
    });
  const inputs = (): number =>
    (store.database.prepare('SELECT count(*) AS n FROM inputs').get() as { n: number }).n;

  it('cannot point a recording at another host: 400 naming the field, nothing stored, no request made', async () => {
    const before = inputs();
    const batch = [
      { type: 'call.started', callId: 'r1', direction: 'inbound', from: '+79161234567', to: '101' },
      { type: 'recording.ready', callId: 'r1', url: `${internalUrl}/admin/export` },
    ];
    const res = await post('/pbx/v1/events', JSON.stringify(batch));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'INVALID_VALUE', path: '/1/url' } });
    expect(inputs()).toBe(before);
    const single = await post(
      '/pbx/v1/events',
      JSON.stringify({ type: 'recording.ready', callId: 'r1', url: 'http://169.254.169.254/latest/' }),
    );
    expect(single.json()).toMatchObject({ error: { code: 'INVALID_VALUE', path: '/url' } });
    const allowed = await post(
      '/pbx/v1/events',
      JSON.stringify({ type: 'recording.ready', callId: 'r1', url: 'https://pbx.example.com/r/1.mp3' }),
    );
    expect(allowed.statusCode).toBe(202);
    expect(internalHits).toBe(0);
  });

  it('is refused with a wrong or missing token, and nothing is stored', async () => {
    const before = inputs();
    const event = JSON.stringify({
      type: 'call.started',
      callId: 't1',
      direction: 'inbound',
      from: '1',
      to: '101',
    });
    for (const authorization of ['Bearer wrong-token-0123456789', '', 'Basic b2ZmaWNlOng=']) {
      const res = await post('/pbx/v1/events', event, { authorization });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    }
    expect(inputs()).toBe(before);
  });

  it('cannot send bodies over the limits: 413 with a JSON error', async () => {
    const big = JSON.stringify({
      type: 'call.started',
      callId: 'b1',
      direction: 'inbound',
      from: 'x'.repeat(1_100_000),
      to: '101',
    });
    const res = await post('/pbx/v1/events', big);
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: { code: 'BODY_TOO_LARGE' } });
    const form = await server.app.inject({
      method: 'POST',
      url: '/bitrix/events',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `event=ONAPPTEST&data[x]=${'y'.repeat(300_000)}`,
    });
    expect(form.statusCode).toBe(413);
    expect(form.json()).toMatchObject({ error: { code: 'BODY_TOO_LARGE' } });
  });
});

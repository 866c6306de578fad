import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeForm } from 'b24-emulator';
import { startTestPortal, type TestPortal } from './helpers.ts';

interface Envelope {
  result?: unknown;
  error?: string;
  error_description?: string;
}

/** Every answer is a JSON envelope: a result, or an error with a description and never a stack trace. */
async function expectEnvelope(res: Response): Promise<Envelope> {
  expect(res.headers.get('content-type')).toContain('application/json');
  const text = await res.text();
  expect(text).not.toMatch(/\bat .+\.ts:\d+/);
  const body = JSON.parse(text) as Envelope;
  if (res.status === 200) expect(body).toHaveProperty('result');
  else {
    expect(typeof body.error).toBe('string');
    expect(typeof body.error_description).toBe('string');
  }
  return body;
}

/** A small deterministic PRNG so a failing fuzz case can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('bad input never crashes the emulator and gets the documented error envelope', () => {
  let portal: TestPortal;
  beforeAll(async () => {
    portal = await startTestPortal();
  });
  afterAll(() => portal.close());

  const rest = (path: string, init: RequestInit): Promise<Response> => fetch(`${portal.url}${path}`, init);

  it('malformed JSON and non-object JSON bodies → 400 INVALID_REQUEST', async () => {
    for (const body of ['{"USER_ID": 1,', '[1,2,3]', '"text"', '{"a":']) {
      const res = await rest('/rest/1/emulator/user.get', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(400);
      expect((await expectEnvelope(res)).error).toBe('INVALID_REQUEST');
    }
  });

  it('broken form encoding is decoded like PHP does, without failing the request', async () => {
    const res = await rest('/rest/1/emulator/user.get', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'FILTER%5BUF_PHONE_INNER%5D=101&bad=%E0%A4%A&[]=x&a[b=1&&=',
    });
    expect(res.status).toBe(200);
    const body = await expectEnvelope(res);
    expect(body.result).toEqual([expect.objectContaining({ ID: '2' })]);
  });

  it('unknown methods and malformed REST paths → 404 ERROR_METHOD_NOT_FOUND', async () => {
    for (const path of [
      '/rest/1/emulator/no.such.method',
      '/rest/no.such.method',
      '/rest/1/emulator/x/user.get',
    ]) {
      const res = await rest(path, { method: 'POST', body: `auth=${portal.token}` });
      expect(res.status).toBe(404);
      expect((await expectEnvelope(res)).error).toBe('ERROR_METHOD_NOT_FOUND');
    }
  });

  it('wrong types are cast or refused like the portal does', async () => {
    const reg = await portal.call('telephony.externalcall.register', {
      USER_ID: { nested: 1 },
      USER_PHONE_INNER: ['101'],
      PHONE_NUMBER: 79161234567,
      TYPE: '2',
    });
    expect(reg.status).toBe(400);
    expect(reg.body.error_description).toBe('USER_ID or USER_PHONE_INNER should be set');
    const typed = await portal.call('telephony.externalcall.register', {
      USER_ID: '2',
      PHONE_NUMBER: 79161234567,
      TYPE: { x: 1 },
    });
    expect(typed.body.error_description).toBe('Unknown TYPE');
    const show = await portal.call('telephony.externalcall.show', { CALL_ID: { a: 1 }, USER_ID: 'abc' });
    expect(show.status).toBe(200);
    expect(show.body.result).toBe(false);
    const finish = await portal.call('telephony.externalcall.finish', { CALL_ID: ['x'], USER_ID: 2 });
    expect(finish.body.error).toBe('INVALID_ARGUMENT');
    const batch = await portal.call('batch', { cmd: 'not-an-object' });
    expect(batch.status).toBe(200);
    expect(batch.body.result).toEqual({
      result: [],
      result_error: [],
      result_total: [],
      result_next: [],
      result_time: [],
    });
  });

  it('an oversized body → 413, and the portal keeps answering', async () => {
    const res = await rest('/rest/1/emulator/user.get', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"x":"${'a'.repeat(65 * 1024 * 1024)}"}`,
    }).catch((e: unknown) => e);
    if (res instanceof Response) expect(res.status).toBe(413);
    const after = await portal.webhook('user.get', {});
    expect(after.status).toBe(200);
  });

  it('a malformed multipart body → 400', async () => {
    const res = await rest('/rest/1/emulator/user.get', {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=xyz' },
      body: '--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--xy',
    });
    expect([200, 400]).toContain(res.status);
    await expectEnvelope(res);
    const noBoundary = await rest('/rest/1/emulator/user.get', {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data' },
      body: 'garbage',
    });
    expect(noBoundary.status).toBe(400);
    await expectEnvelope(noBoundary);
  });

  it('garbage that is not HTTP gets 400 Bad Request and the server lives on', async () => {
    const port = new URL(portal.url).port;
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () =>
        socket.write('\x00\x01GARBAGE / HTTP/9\r\n\r\n'),
      );
      let data = '';
      socket.on('data', (d) => (data += d.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(reply).toContain('400 Bad Request');
    expect((await portal.webhook('profile')).status).toBe(200);
  });

  it('the inspection API refuses bad requests with 4xx and a message', async () => {
    const cases: [string, unknown, number][] = [
      ['faults', { outage: 'sometimes' }, 400],
      ['faults', { errorRate: 2 }, 400],
      ['faults', { rateLimit: { rate: -1, burst: 5 } }, 400],
      ['settings', { noSuchSetting: 1 }, 400],
      ['settings', { webhookTelephony: 'maybe' }, 400],
      ['clock', { advanceSec: 'soon' }, 400],
      ['click-to-call', { userId: 2 }, 400],
      ['click-to-call', { userId: 99, phoneNumber: '+79161234567' }, 400],
      ['click-to-call', { userId: 'two', phoneNumber: '+79161234567' }, 400],
      ['apps', { scopes: 5 }, 400],
      ['apps', { installUrl: 'ftp://x' }, 400],
    ];
    for (const [path, body, status] of cases) {
      const res = await portal.inspect<Envelope>(path, { body });
      expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(status);
      expect(res.body.error_description).toBeTruthy();
    }
    const notJson = await fetch(`${portal.url}/_emulator/faults`, { method: 'POST', body: '{oops' });
    expect(notJson.status).toBe(400);
    const noRoute = await portal.inspect<Envelope>('nothing-here');
    expect(noRoute.status).toBe(404);
    const unknownApp = await portal.inspect<Envelope>('apps/nope', { method: 'DELETE' });
    expect(unknownApp.status).toBe(404);
  });

  it('fuzz: 2,000 random bodies to random methods get envelopes with 2xx/4xx statuses only', async () => {
    const random = prng(20261124);
    const names = [
      'telephony.externalcall.register',
      'telephony.externalcall.finish',
      'telephony.externalcall.show',
      'telephony.externalcall.hide',
      'telephony.externalcall.attachrecord',
      'telephony.externalcall.searchcrmentities',
      'telephony.externalline.add',
      'telephony.externalline.update',
      'crm.duplicate.findbycomm',
      'crm.contact.get',
      'crm.activity.get',
      'user.get',
      'event.bind',
      'event.unbind',
      'batch',
      'app.info',
    ];
    const keys = [
      'USER_ID',
      'PHONE_NUMBER',
      'TYPE',
      'CALL_ID',
      'FILTER',
      'cmd',
      'halt',
      'id',
      'values',
      'type',
      'NUMBER',
      'event',
      'handler',
      'FILENAME',
      'FILE_CONTENT',
      'CALL_START_DATE',
      'USER_PHONE_INNER',
      'DURATION',
    ];
    const atoms = (): unknown => {
      const pick = Math.floor(random() * 10);
      const choices: unknown[] = [
        null,
        true,
        -1,
        0,
        2,
        1e308,
        '',
        '101',
        '+79161234567',
        `\u0000\u{1F600}${'x'.repeat(Math.floor(random() * 300))}`,
      ];
      return choices[pick];
    };
    const value = (depth: number): unknown => {
      const r = random();
      if (depth > 2 || r < 0.6) return atoms();
      if (r < 0.8) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
      return randomObject(4, depth + 1);
    };
    const randomObject = (maxKeys: number, depth: number): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (let n = Math.floor(random() * maxKeys); n > 0; n--) {
        out[keys[Math.floor(random() * keys.length)] ?? 'x'] = value(depth);
      }
      return out;
    };
    // Form bodies also get a few random characters flipped, brackets and percent signs included.
    const mutate = (text: string): string => {
      const chars = text.split(''); // code units on purpose: broken surrogates are bad input too
      for (let n = Math.floor(random() * 3); n > 0; n--) {
        chars[Math.floor(random() * chars.length)] = '[]%&=+\u00ff'.charAt(Math.floor(random() * 8));
      }
      return chars.join('');
    };
    const statuses = new Map<number, number>();
    for (let i = 0; i < 2000; i++) {
      const method = names[Math.floor(random() * names.length)] ?? 'user.get';
      const params = randomObject(6, 0);
      const form = random() < 0.3;
      const res = await rest(`/rest/${method}`, {
        method: 'POST',
        headers: { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' },
        body: form
          ? mutate(encodeForm({ ...params, auth: portal.token }))
          : JSON.stringify({ ...params, auth: portal.token }),
      });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect(res.status, `${method} ${JSON.stringify(params)}`).toBeLessThan(500);
      await expectEnvelope(res);
    }
    expect(statuses.get(200)).toBeGreaterThan(0);
    expect(statuses.get(400)).toBeGreaterThan(0);
  });
});

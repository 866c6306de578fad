/**
 * The admin API and pages over a fake view, in process (fastify's inject, and one real socket for
 * the SSE stream): the login in every form it takes, queue validation, escaping, `/metrics`.
 */
import { get } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerAdmin } from '../../src/admin/index.ts';
import { Registry } from '../../src/metrics/index.ts';
import { handleError } from '../../src/server/errors.ts';
import { call, FakeView } from './fake-view.ts';

const TOKEN = 'admin-token-0123456789';
const PASSWORD = 'correct horse battery';

let app: FastifyInstance;
let view: FakeView;
let registry: Registry;

beforeEach(() => {
  view = new FakeView();
  registry = new Registry();
  registry.counter('b24_bridge_test_total', 'a test counter', ['code']).inc({ code: 'X' }, 2);
  app = Fastify();
  app.setErrorHandler(handleError);
  registerAdmin(app, { view, credentials: { token: TOKEN, password: PASSWORD }, metrics: registry });
});
afterEach(async () => {
  await app.close();
});

async function login(password = PASSWORD): Promise<{ status: number; cookie: string | undefined }> {
  const res = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ password, next: '/queues' }).toString(),
  });
  const setCookie = res.headers['set-cookie'];
  return { status: res.statusCode, cookie: typeof setCookie === 'string' ? setCookie : undefined };
}

describe('the admin login', () => {
  it('answers the API with 401 JSON without a login, and pages with a redirect to /login', async () => {
    const api = await app.inject({ url: '/api/calls' });
    expect(api.statusCode).toBe(401);
    expect(api.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    const page = await app.inject({ url: '/queues' });
    expect(page.statusCode).toBe(303);
    expect(page.headers.location).toBe('/login?next=%2Fqueues');
    for (const url of ['/api/queues', '/api/outbox', '/api/portals', '/api/extensions', '/api/lines'])
      expect((await app.inject({ url })).statusCode, url).toBe(401);
    const put = await app.inject({
      method: 'PUT',
      url: '/api/queues/support',
      payload: { members: ['101'] },
    });
    expect(put.statusCode).toBe(401);
    expect(view.edits).toEqual([]);
  });

  it('refuses a wrong bearer token and the password as a bearer token; takes the token', async () => {
    for (const authorization of [`Bearer ${TOKEN}x`, `Bearer ${PASSWORD}`, 'Bearer ', TOKEN, 'Basic abc'])
      expect(
        (await app.inject({ url: '/api/calls', headers: { authorization } })).statusCode,
        authorization,
      ).toBe(401);
    const ok = await app.inject({ url: '/api/calls', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ calls: [] });
  });

  it('gives a session cookie (HttpOnly, SameSite=Strict) for the right password only', async () => {
    const wrong = await login('wrong password');
    expect(wrong.status).toBe(401);
    expect(wrong.cookie).toBeUndefined();
    const right = await login();
    expect(right.status).toBe(303);
    expect(right.cookie).toMatch(/^b24_admin=[\w-]{40,};/);
    expect(right.cookie).toContain('HttpOnly');
    expect(right.cookie).toContain('SameSite=Strict');
    const cookie = right.cookie?.split(';')[0] ?? '';
    const page = await app.inject({ url: '/queues', headers: { cookie } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Support');
    // A made-up session id is no session.
    const forged = await app.inject({ url: '/api/calls', headers: { cookie: 'b24_admin=made-up' } });
    expect(forged.statusCode).toBe(401);
    // Logged out: the same cookie no longer works.
    await app.inject({ method: 'POST', url: '/logout', headers: { cookie } });
    expect((await app.inject({ url: '/api/calls', headers: { cookie } })).statusCode).toBe(401);
  });

  it('does not redirect to another site after the login', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ password: PASSWORD, next: '//evil.example/' }).toString(),
    });
    expect(res.headers.location).toBe('/');
  });

  it('lets nobody in when neither a token nor a password is configured', async () => {
    const bare = Fastify();
    registerAdmin(bare, { view, credentials: {} });
    const page = await bare.inject({ url: '/login' });
    expect(page.body).toContain('B24_BRIDGE_ADMIN_PASSWORD');
    const res = await bare.inject({
      method: 'POST',
      url: '/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'password=',
    });
    expect(res.statusCode).toBe(401);
    expect((await bare.inject({ url: '/api/calls', headers: { authorization: 'Bearer ' } })).statusCode).toBe(
      401,
    );
    await bare.close();
  });
});

describe('queue edits', () => {
  const auth = { authorization: `Bearer ${TOKEN}` };

  it('refuses a bad edit with 400 and says what is wrong, changing nothing', async () => {
    const res = await app.inject({
      method: 'PUT',
      url: '/api/queues/support',
      headers: auth,
      payload: { members: ['101', '101'], strategy: 'random', memberTimeoutSec: -1 },
    });
    expect(res.statusCode).toBe(400);
    const body = res.json<{
      error: { code: string; message: string; problems: { path: string; message: string }[] };
    }>();
    expect(body.error.code).toBe('INVALID_QUEUE');
    expect(body.error.problems).toEqual(
      expect.arrayContaining([
        { path: 'members[1]', message: 'this extension is already a member' },
        { path: 'strategy', message: 'expected "simultaneous" or "sequential"' },
        { path: 'memberTimeoutSec', message: 'expected a number of seconds from 0 to 3600' },
      ]),
    );
    expect(body.error.message).toContain('members[1]: this extension is already a member');
    const badExtension = await app.inject({
      method: 'PUT',
      url: '/api/queues/support',
      headers: auth,
      payload: { members: ['101', 'not an extension!'], strategy: 'sequential', memberTimeoutSec: 5 },
    });
    expect(badExtension.json()).toMatchObject({
      error: { problems: [{ path: 'members[1]', message: 'expected an extension like "101"' }] },
    });
    const empty = await app.inject({
      method: 'PUT',
      url: '/api/queues/support',
      headers: auth,
      payload: { members: [] },
    });
    expect(empty.statusCode).toBe(400);
    expect(empty.json<{ error: { message: string } }>().error.message).toContain(
      'expected at least one member',
    );
    const unknownKey = await app.inject({
      method: 'PUT',
      url: '/api/queues/support',
      headers: auth,
      payload: { members: ['101'], strategy: 'sequential', memberTimeoutSec: 5, colour: 'red' },
    });
    expect(unknownKey.statusCode).toBe(400);
    expect(view.edits).toEqual([]);
  });

  it('applies a good edit, and answers 404 for a queue that does not exist', async () => {
    const edit = { members: ['103', '101'], strategy: 'simultaneous', memberTimeoutSec: 15 };
    const res = await app.inject({ method: 'PUT', url: '/api/queues/support', headers: auth, payload: edit });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ queue: { id: 'support', ...edit } });
    expect(view.edits).toEqual([{ id: 'support', edit }]);
    const missing = await app.inject({
      method: 'PUT',
      url: '/api/queues/nope',
      headers: auth,
      payload: edit,
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'QUEUE_NOT_FOUND' } });
  });

  it('shows a bad form edit on the page with its problems and keeps what was typed', async () => {
    const { cookie } = await login();
    const res = await app.inject({
      method: 'POST',
      url: '/queues/support',
      headers: {
        cookie: cookie?.split(';')[0] ?? '',
        'content-type': 'application/x-www-form-urlencoded',
        'hx-request': 'true',
      },
      payload: new URLSearchParams({
        members: '101, 101',
        strategy: 'sequential',
        memberTimeoutSec: 'soon',
      }).toString(),
    });
    expect(res.headers['x-queue-invalid']).toBe('true');
    expect(res.body).toContain('this extension is already a member');
    expect(res.body).toContain('expected a number of seconds');
    expect(res.body).toContain('value="101, 101"');
    expect(view.edits).toEqual([]);
  });
});

describe('pages and figures', () => {
  const auth = { authorization: `Bearer ${TOKEN}` };

  it('escapes what comes from outside (a caller id, a user name)', async () => {
    view.callRows = [
      call({
        phoneNumber: '<script>alert(1)</script>',
        cardHolders: [{ userId: 2, name: '"><img src=x onerror=alert(2)>' }],
      }),
    ];
    const res = await app.inject({ url: '/', headers: auth });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain('<script>alert(1)</script>');
    expect(res.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(res.body).not.toContain('<img src=x');
  });

  it('replays a portal on request and 404s an unknown one', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/outbox/p1/replay', headers: auth });
    expect(res.json()).toEqual({ replay: { portal: 'p1', open: 4 } });
    expect(view.replays).toEqual(['p1']);
    expect(
      (await app.inject({ method: 'POST', url: '/api/outbox/p2/replay', headers: auth })).statusCode,
    ).toBe(404);
    const outbox = await app.inject({ url: '/outbox', headers: auth });
    expect(outbox.body).toContain('6 of 10');
    expect(outbox.body).toContain('NETWORK');
  });

  it('serves htmx from the installed package and /metrics in the text format', async () => {
    const htmx = await app.inject({ url: '/static/htmx.min.js' });
    expect(htmx.statusCode).toBe(200);
    expect(htmx.body).toContain('htmx');
    const metrics = await app.inject({ url: '/metrics' });
    expect(metrics.headers['content-type']).toContain('text/plain');
    expect(metrics.body).toContain(
      '# TYPE b24_bridge_test_total counter\nb24_bridge_test_total{code="X"} 2\n',
    );
  });

  it('pushes the board over SSE when a call changes', async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const { cookie } = await login();
    let text = '';
    let contentType = '';
    const request = get(
      `${address}/board/stream`,
      { headers: { cookie: cookie?.split(';')[0] ?? '' } },
      (res) => {
        contentType = res.headers['content-type'] ?? '';
        res.on('data', (d: Buffer) => (text += d.toString()));
      },
    );
    const readUntil = (needle: string): Promise<void> =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (text.includes(needle)) resolve();
          else if (request.destroyed) reject(new Error(`stream ended before ${needle}`));
          else setTimeout(check, 10);
        };
        check();
      });
    await readUntil('No calls right now.');
    expect(contentType).toContain('text/event-stream');
    view.callRows = [call({ pbxCallId: 'sse-call-1' })];
    view.changed();
    await readUntil('sse-call-1');
    expect(text).toMatch(/event: board\ndata: /);
    request.destroy();
  });
});

/**
 * Anyone who reaches the admin UI, and any page a logged-in administrator's browser opens. Wrong
 * passwords and tokens are throttled per client address and overall, with a lockout and a log line
 * each; a state-changing request must come from the admin UI itself (a page on another port of the
 * same host is another origin); no page of the bridge may be framed by another site.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchBrowser } from '../support/browser.ts';
import { ADMIN_PASSWORD, parsedLogs, requestFrom, startOffice, type Office } from './office.ts';

const ADMIN_TOKEN = 'security-admin-bearer-token-0123';

const withDemoLines = (office: Parameters<typeof startOffice>[0] = {}) =>
  startOffice({
    install: false,
    ...office,
    configure: (doc) => ({
      ...doc,
      // The demo office's lines, with the Support queue to edit.
      engine: { defaultUserId: 1, recording: { maxWaitSec: 0, hideGraceSec: 0 } },
      admin: { password: ADMIN_PASSWORD, token: ADMIN_TOKEN },
    }),
  });

const login = (office: Office, from: string, password: string) =>
  requestFrom(from, `${office.bridge.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ password, next: '/' }).toString(),
  });

const bearer = (office: Office, from: string, token: string) =>
  requestFrom(from, `${office.bridge.url}/api/queues`, { headers: { authorization: `Bearer ${token}` } });

const failures = (office: Office, from: string) =>
  parsedLogs(office.logs).filter((l) => l.msg === 'admin authentication failed' && l.from === from);

describe('admin login throttling', () => {
  let office: Office;
  beforeAll(async () => {
    office = await withDemoLines();
  });
  afterAll(async () => {
    await office.close();
  });

  it('locks an address out after 5 wrong passwords: even the right one is refused with 429 and Retry-After', async () => {
    for (let i = 0; i < 5; i++)
      expect((await login(office, '127.0.0.2', `guess-${String(i)}`)).status).toBe(401);
    const locked = await login(office, '127.0.0.2', ADMIN_PASSWORD);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(locked.text).toContain('try again in');
    // Another address is not locked out by it.
    const other = await login(office, '127.0.0.3', ADMIN_PASSWORD);
    expect(other.status).toBe(303);
    expect(String(other.headers['set-cookie'])).toContain('b24_admin=');
  });

  it('logs one line per failure, naming the address and never the guess', () => {
    const lines = failures(office, '127.0.0.2');
    expect(lines).toHaveLength(5);
    for (const l of lines) {
      expect(l).toMatchObject({ level: 40, via: 'password' });
      expect(JSON.stringify(l)).not.toContain('guess-');
    }
  });

  it('counts wrong bearer tokens the same way, and locks the token out too', async () => {
    for (let i = 0; i < 5; i++)
      expect((await bearer(office, '127.0.0.4', `wrong-token-${String(i)}-0123456789`)).status).toBe(401);
    expect((await bearer(office, '127.0.0.4', ADMIN_TOKEN)).status).toBe(429);
    expect((await bearer(office, '127.0.0.5', ADMIN_TOKEN)).status).toBe(200);
    expect(failures(office, '127.0.0.4')).toHaveLength(5);
    expect(failures(office, '127.0.0.4')[0]).toMatchObject({ via: 'token' });
  });
});

describe('admin login throttling overall', () => {
  let office: Office;
  beforeAll(async () => {
    office = await withDemoLines();
  });
  afterAll(async () => {
    await office.close();
  });

  it('guessing from many addresses (4 each, under their own limit) locks every login out after 50', async () => {
    for (let a = 10; a < 23; a++)
      for (let i = 0; i < 4; i++) await login(office, `127.0.0.${String(a)}`, `spread-guess-${String(i)}`);
    // 52 failures from 13 addresses, none of them locked by itself: a fresh address is refused.
    expect((await login(office, '127.0.0.40', ADMIN_PASSWORD)).status).toBe(429);
    expect((await bearer(office, '127.0.0.41', ADMIN_TOKEN)).status).toBe(429);
  });
});

describe('requests from other sites', () => {
  let office: Office;
  let cookie: string;
  let otherOrigin: string;
  let attackerPage: Server;
  const members = () =>
    office.bridge.config.engine.lines.find((l) => l.id === 'support')?.routing.kind === 'queue'
      ? (
          office.bridge.config.engine.lines.find((l) => l.id === 'support')!.routing as {
            queue: { members: string[] };
          }
        ).queue.members
      : [];

  beforeAll(async () => {
    office = await withDemoLines();
    const res = await login(office, '127.0.0.1', ADMIN_PASSWORD);
    cookie = String(res.headers['set-cookie']).split(';')[0]!;
    // A page of another port on the same host: the same site, another origin.
    attackerPage = createServer((req, res) => {
      const target = office.bridge.url;
      const body = req.url?.startsWith('/frame')
        ? `<iframe id="admin" src="${target}/queues"></iframe>`
        : `<form id="f" method="post" action="${target}/queues/support">
             <input name="members" value="999"><input name="strategy" value="simultaneous">
             <input name="memberTimeoutSec" value="1"></form><script>document.getElementById('f').submit()</script>`;
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><html><body>${body}</body></html>`);
    });
    await new Promise<void>((resolve) => attackerPage.listen(0, '127.0.0.1', resolve));
    otherOrigin = `http://127.0.0.1:${String((attackerPage.address() as AddressInfo).port)}`;
  });
  afterAll(async () => {
    attackerPage.close();
    await office.close();
  });

  const editQueue = (headers: Record<string, string>) =>
    requestFrom('127.0.0.1', `${office.bridge.url}/queues/support`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, ...headers },
      body: 'members=999&strategy=simultaneous&memberTimeoutSec=1',
    });

  it('a queue edit posted by a page of another origin (the session cookie rides along) is refused; nothing changes', async () => {
    const before = [...members()];
    const attempts: Record<string, string>[] = [
      { origin: otherOrigin },
      { origin: otherOrigin, 'sec-fetch-site': 'same-site' },
      { 'sec-fetch-site': 'cross-site' },
      { origin: 'null' },
    ];
    for (const headers of attempts) {
      const res = await editQueue(headers);
      expect(res.status).toBe(403);
      expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'CROSS_SITE_REQUEST' } });
    }
    const api = await requestFrom('127.0.0.1', `${office.bridge.url}/api/queues/support`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', cookie, origin: otherOrigin },
      body: JSON.stringify({ members: ['999'] }),
    });
    expect(api.status).toBe(403);
    expect(members()).toEqual(before);
  });

  it('the admin UI’s own requests, and scripts with the token, still change state', async () => {
    const own = await editQueue({ origin: office.bridge.url, 'sec-fetch-site': 'same-origin' });
    expect(own.status).toBe(303);
    expect(members()).toEqual(['999']);
    const script = await requestFrom('127.0.0.1', `${office.bridge.url}/api/queues/support`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ members: ['101', '102'] }),
    });
    expect(script.status).toBe(200);
    expect(members()).toEqual(['101', '102']);
  });

  it('every page says it may not be framed, sniffed, or leak its URL as a referrer', async () => {
    for (const path of ['/', '/login', '/queues', '/api/calls']) {
      const res = await requestFrom('127.0.0.1', `${office.bridge.url}${path}`, { headers: { cookie } });
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
    }
  });

  describe.skipIf(!hasChromium)('in chromium', () => {
    it('a page on another port cannot change a queue through the logged-in browser, nor frame the admin UI', async () => {
      const browser = await launchBrowser();
      try {
        const page = await browser.context.newPage();
        await page.goto(`${office.bridge.url}/login`);
        await page.fill('input[name=password]', ADMIN_PASSWORD);
        await page.click('button[type=submit]');
        await page.getByRole('heading', { name: 'Live calls' }).waitFor();
        const before = [...members()];
        const answer = page.waitForResponse((r) => r.url() === `${office.bridge.url}/queues/support`);
        await page.goto(otherOrigin);
        expect((await answer).status()).toBe(403);
        expect(members()).toEqual(before);

        await page.goto(`${otherOrigin}/frame`);
        const refused = page.waitForEvent('console', (m) =>
          /frame-ancestors|Refused to (display|frame)/i.test(m.text()),
        );
        await page.reload();
        expect((await refused).text()).toMatch(/frame-ancestors|Refused/);
        // The frame holds the browser's error page, not the queues.
        const frame = page.frames().find((f) => f !== page.mainFrame());
        expect(frame?.url()).not.toBe(`${office.bridge.url}/queues`);
        expect(await frame?.$('#queue-support')).toBeFalsy();
      } finally {
        await browser.close();
      }
    });
  });
});

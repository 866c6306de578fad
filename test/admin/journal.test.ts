/**
 * The call journal's pages and API and the dashboard, in process (fastify's inject) over a real
 * journal on an in-memory SQLite store: behind the login, searched by the form's fields, a bad
 * search answered plainly, and a caller's number shown as text, never as markup.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerAdmin } from '../../src/admin/index.ts';
import {
  journalOf,
  MinuteSeries,
  type CallSummary,
  type JournalReader,
  type JournalStore,
} from '../../src/journal/index.ts';
import { handleError } from '../../src/server/errors.ts';
import { SqliteStore } from '../../src/store/index.ts';
import { summary } from '../store/journal-suite.ts';
import { FakeView } from './fake-view.ts';

const TOKEN = 'admin-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

let app: FastifyInstance;
let store: SqliteStore;
let journal: JournalStore;
const series = new MinuteSeries();

beforeEach(async () => {
  store = await SqliteStore.open({ path: ':memory:' });
  const j = journalOf(store);
  if (!j) throw new Error('no journal');
  journal = j;
  const reader: JournalReader = {
    search: (q) => journal.search(q),
    call: (key, portal) => journal.call(key, portal),
    stats: (from) => journal.stats(from),
    minutes: (from) => series.since(from),
  };
  app = Fastify();
  app.setErrorHandler(handleError);
  registerAdmin(app, { view: new FakeView(), credentials: { token: TOKEN }, journal: reader });
});
afterEach(async () => {
  await app.close();
  await store.close();
});

const now = Date.now();
const missed = (over: Partial<CallSummary> = {}): CallSummary =>
  summary('m1@1', {
    startedAt: now - 60_000,
    endedAt: now - 30_000,
    outcome: 'missed',
    endReason: 'no_answer',
    phoneNumber: '+79165550101',
    ...over,
  });

describe('the call journal pages', () => {
  it('are behind the login', async () => {
    for (const url of ['/journal', '/journal/m1@1', '/dashboard'])
      expect((await app.inject({ url })).statusCode, url).toBe(303);
    expect((await app.inject({ url: '/api/journal' })).statusCode).toBe(401);
  });

  it('find a call by number and show its timeline', async () => {
    await journal.write(
      [
        {
          portalId: 'p1',
          callKey: 'm1@1',
          at: now - 60_000,
          recordedAt: now - 59_000,
          kind: 'pbx',
          summary: 'ringing: 101',
          detail: { extensions: ['101'] },
        },
        {
          portalId: 'p1',
          callKey: 'm1@1',
          at: now - 58_000,
          recordedAt: now - 58_000,
          kind: 'card',
          summary: 'card shown to user 1 (2000 ms after ringing)',
          detail: {},
        },
      ],
      [missed(), summary('other@2', { startedAt: now - 10_000, phoneNumber: '+74950000000' })],
    );
    const list = await app.inject({ url: '/journal?number=%2B7%20916%20555', headers: auth });
    expect(list.statusCode).toBe(200);
    expect(list.body).toContain('href="/journal/m1%401?portal=p1"');
    expect(list.body).not.toContain('other@2');
    const page = await app.inject({ url: '/journal/m1%401', headers: auth });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('ringing: 101');
    expect(page.body).toContain('card shown to user 1 (2000 ms after ringing)');
    expect(page.body).toMatch(/id="journal-outcome">missed</);
    expect((await app.inject({ url: '/journal/nope@1', headers: auth })).statusCode).toBe(404);
  });

  it('answers the same search as JSON, and a bad one with 400 and what is wrong', async () => {
    await journal.write([], [missed(), summary('a@2', { startedAt: now - 5_000, userId: 7 })]);
    const res = await app.inject({ url: '/api/journal?user=7', headers: auth });
    expect(res.json<{ calls: CallSummary[] }>().calls.map((c) => c.callKey)).toEqual(['a@2']);
    const outcome = await app.inject({ url: '/api/journal?outcome=missed', headers: auth });
    expect(outcome.json<{ calls: CallSummary[] }>().calls.map((c) => c.callKey)).toEqual(['m1@1']);
    const bad = await app.inject({ url: '/api/journal?user=abc&from=yesterday', headers: auth });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({
      error: { code: 'INVALID_QUERY', problems: [{ field: 'user' }, { field: 'from' }] },
    });
    const page = await app.inject({ url: '/journal?number=%3Cscript%3E', headers: auth });
    expect(page.statusCode).toBe(400);
    expect(page.body).not.toContain('<script>');
  });

  it('shows a caller-supplied number as text', async () => {
    await journal.write(
      [
        {
          portalId: 'p1',
          callKey: 'x@1',
          at: now,
          recordedAt: now,
          kind: 'pbx',
          summary: 'call started from <img src=x onerror=alert(1)>',
          detail: { from: '<b>' },
        },
      ],
      [summary('x@1', { startedAt: now, phoneNumber: '<img src=x onerror=alert(1)>' })],
    );
    const list = await app.inject({ url: '/journal', headers: auth });
    expect(list.body).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(list.body).not.toContain('<img src=x');
    const page = await app.inject({ url: '/journal/x%401', headers: auth });
    expect(page.body).not.toContain('<img src=x');
    expect(page.body).not.toContain('"<b>"');
  });
});

describe('the dashboard', () => {
  it('draws the day’s calls by outcome, latency, requests and queues as SVG', async () => {
    await journal.write(
      [],
      [
        missed(),
        summary('a@2', {
          startedAt: now - 5_000,
          outcome: 'answered',
          answeredAt: now - 1_000,
          cardLatencyMs: 600,
        }),
      ],
    );
    series.request(now);
    const res = await app.inject({ url: '/dashboard', headers: auth });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('data-today-calls="2"');
    expect(res.body.match(/<svg/g)?.length).toBeGreaterThanOrEqual(4);
    expect(res.body).toContain('answered: 1');
    expect(res.body).toContain('missed: 1');
    expect(res.body).toContain('0.5–1 s · calls: 1');
    expect(res.body).toMatch(/<td>sales<\/td>\s*<td>2<\/td>\s*<td>1<\/td>/);
    expect(res.body).not.toMatch(/<script[^>]+src="http/);
  });
});

/**
 * 100,000 random and mutated requests against the live server's public endpoints: the PBX API with
 * a real engine, outbox and SQLite store behind it, and Bitrix24's event, install and app-page
 * endpoints. Every answer must be a 2xx (a mutation that is still valid) or a 4xx naming the
 * problem; never a 5xx, never a crash, never an unhandled rejection. A few thousand of them go
 * over a real socket too. `FUZZ_SEED` replays one run; `FUZZ_REQUESTS` changes the count.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoDocument, parseConfig } from '../../src/config/index.ts';
import { createEngine } from '../../src/core/index.ts';
import { office } from '../../src/core/testkit.ts';
import { Outbox } from '../../src/outbox/index.ts';
import { parseBitrixEvent } from '../../src/app/index.ts';
import { parseNestedForm, ServerError } from '../../src/http/index.ts';
import { buildServer, type BridgeServer } from '../../src/server/index.ts';
import { parseEventsBody, parseRouteBody } from '../../src/pbx/webhook/index.ts';
import { SqliteStore } from '../../src/store/index.ts';
import { prng, silentPortal } from '../support/fakes.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_124);
/**
 * Through the whole server (fastify, auth, parsing, engine, outbox, SQLite) about 1,500 requests a
 * second go on 2 cores, so `npm test` sends 20,000 and `npm run fuzz` the full 100,000; the
 * parsers alone take 100,000 in every run.
 */
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 20_000);
const PARSED = 100_000;
const OVER_SOCKET = Math.min(2_000, Math.floor(REQUESTS / 5));

const silent = silentPortal;

interface Shot {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

function generator(random: () => number) {
  const int = (n: number): number => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const exts = ['100', '101', '102', '103', '104', '', '*97', '١٠١', '101'.repeat(40)];
  const numbers = ['+79161234567', '89161234567', '', '+7', 'abc', '+'.repeat(300), '+7916\u0000123'];
  const weird: unknown[] = [
    null,
    true,
    -1,
    1e308,
    Number.MAX_SAFE_INTEGER + 2,
    '',
    ' ',
    'x'.repeat(70_000),
    [],
    {},
    [[[[[]]]]],
    { __proto__: { polluted: true } },
    '2026-02-30T25:61:00Z',
    '\u202e\ud800',
    '<script>alert(1)</script>',
  ];
  let n = 0;
  let giantBody: string | undefined;
  /** A batch over the 1 MB limit, made once (making it for every shot would be the slow part). */
  const giant = (): string => (giantBody ??= JSON.stringify(Array.from({ length: 12_000 }, event)));
  const callId = (): string =>
    random() < 0.8 ? `f${String(int(500))}` : pick(['', 'x'.repeat(300), '../etc', '\n']);
  const at = (): string | undefined =>
    random() < 0.5 ? undefined : new Date(Date.UTC(2026, 10, 24, 0, 0, int(86_400))).toISOString();
  const event = (): Record<string, unknown> => {
    const id = callId();
    switch (int(7)) {
      case 0:
        return {
          type: 'call.started',
          callId: id,
          direction: pick(['inbound', 'outbound', 'sideways']),
          from: pick(numbers),
          to: pick(exts),
          at: at(),
        };
      case 1:
        return { type: 'call.ringing', callId: id, extensions: [pick(exts), pick(exts)], at: at() };
      case 2:
        return { type: 'call.ring_stopped', callId: id, extensions: [pick(exts)], at: at() };
      case 3:
        return { type: 'call.answered', callId: id, extension: pick(exts), at: at() };
      case 4:
        return { type: 'call.transferred', callId: id, to: pick(exts), at: at() };
      case 5:
        return {
          type: 'call.ended',
          callId: id,
          reason: pick(['completed', 'no_answer', 'busy', 'failed', 'cancelled', 'exploded']),
          at: at(),
        };
      default:
        return random() < 0.5
          ? {
              type: 'recording.ready',
              callId: id,
              contentBase64: Buffer.from('RIFF').toString('base64'),
              filename: pick(['a.wav', '../../x', '']),
            }
          : {
              type: 'recording.ready',
              callId: id,
              url: pick([
                'https://pbx.example.com/r/1.mp3',
                'file:///etc/passwd',
                'http://169.254.169.254/',
                'nope',
              ]),
            };
    }
  };
  /** One structural change somewhere in a JSON value. */
  const mutateValue = (v: unknown, depth = 0): unknown => {
    if (depth > 3 || typeof v !== 'object' || v === null) return pick(weird);
    if (Array.isArray(v)) {
      const copy = [...(v as unknown[])];
      if (copy.length === 0 || random() < 0.3) copy.push(pick(weird));
      else copy[int(copy.length)] = mutateValue(copy[int(copy.length)], depth + 1);
      return copy;
    }
    const copy: Record<string, unknown> = { ...(v as Record<string, unknown>) };
    const keys = Object.keys(copy);
    const r = random();
    if (r < 0.15 && keys.length > 0) Reflect.deleteProperty(copy, pick(keys));
    else if (r < 0.25) copy[pick(['__proto__', 'constructor', 'prototype', 'extra', 'type'])] = pick(weird);
    else if (keys.length > 0) {
      const k = pick(keys);
      copy[k] = mutateValue(copy[k], depth + 1);
    }
    return copy;
  };
  /** One change in the text: a flipped byte, a cut, junk inserted. */
  const mutateText = (s: string): string => {
    if (s.length === 0) return '{';
    const i = int(s.length);
    switch (int(4)) {
      case 0:
        return s.slice(0, i) + String.fromCharCode(int(256)) + s.slice(i + 1);
      case 1:
        return s.slice(0, i);
      case 2:
        return s.slice(0, i) + pick(['"', '{', ']', '\\', '\u0000', ',,', 'NaN', '1e999']) + s.slice(i);
      default:
        return s + s;
    }
  };
  const token = (): string =>
    random() < 0.9
      ? 'Bearer demo-token'
      : pick([
          '',
          'Bearer',
          'Bearer wrong',
          'Basic ZGVtbw==',
          'bearer demo-token ',
          'Bearer demo-token\u0000',
        ]);
  const form = (o: Record<string, string>): string => new URLSearchParams(o).toString();

  return (): Shot => {
    n++;
    const r = random();
    const json = { 'content-type': 'application/json', authorization: token() };
    if (r < 0.62) {
      let body: unknown = random() < 0.3 ? Array.from({ length: 1 + int(5) }, event) : event();
      if (random() < 0.7) body = mutateValue(body);
      let text = (JSON.stringify(body) as string | undefined) ?? 'null';
      if (random() < 0.25) text = mutateText(text);
      if (random() < 0.01) text = giant();
      const headers =
        random() < 0.03
          ? {
              ...json,
              'content-type': pick([
                'text/plain',
                'application/x-www-form-urlencoded',
                'multipart/form-data',
                '',
              ]),
            }
          : json;
      return { method: 'POST', url: '/pbx/v1/events', headers, body: text };
    }
    if (r < 0.72) {
      let body: unknown = {
        callId: callId(),
        from: pick(numbers),
        to: pick(exts),
        line: random() < 0.5 ? undefined : pick(['+74950000001', 'sales', '']),
      };
      if (random() < 0.6) body = mutateValue(body);
      let text = (JSON.stringify(body) as string | undefined) ?? '';
      if (random() < 0.2) text = mutateText(text);
      return { method: 'POST', url: '/pbx/v1/route', headers: json, body: text };
    }
    if (r < 0.77) {
      const id = pick(['c1', '', '%00', '..%2f..', 'x'.repeat(500), String(n), '%E0%A4%A']);
      return {
        method: 'POST',
        url: `/pbx/v1/commands/${id}/ack`,
        headers: json,
        body: random() < 0.5 ? '' : '{}',
      };
    }
    if (r < 0.8) {
      const q = pick([
        '?wait=0',
        '?wait=-1',
        '?wait=abc',
        '?limit=1e9&wait=0',
        '?wait=0&wait=1',
        '?wait=0&limit=%00',
      ]);
      return { method: 'GET', url: `/pbx/v1/commands${q}`, headers: { authorization: token() } };
    }
    const formHeaders = { 'content-type': 'application/x-www-form-urlencoded' };
    if (r < 0.93) {
      const fields: Record<string, string> = {
        event: pick([
          'ONEXTERNALCALLSTART',
          'ONEXTERNALCALLBACKSTART',
          'ONAPPUNINSTALL',
          'ONAPPINSTALL',
          'ONAPPTEST',
          '',
          'onexternalcallstart',
          'x'.repeat(300),
        ]),
        'data[CALL_ID]': pick(['externalCall.1', '', 'x'.repeat(1000)]),
        'data[USER_ID]': pick(['1', '-1', 'abc', '99999999999999999999']),
        'data[PHONE_NUMBER]': pick(numbers),
        'auth[member_id]': pick(['emulator-member-1', '', 'other', '\u0000']),
        'auth[application_token]': pick(['right-token', 'wrong', '', 'right-token\u0000']),
        ts: pick(['1764000000', '', '-5', 'NaN']),
      };
      if (random() < 0.3)
        fields[
          pick(['a[b][c][d][e][f][g][h]', '__proto__[x]', 'auth[__proto__]', 'data[]', 'x]', '[', 'data[a]]'])
        ] = '1';
      let body = form(fields);
      if (random() < 0.2) body = mutateText(body);
      return {
        method: 'POST',
        url: '/bitrix/events',
        headers: random() < 0.05 ? { 'content-type': 'application/json' } : formHeaders,
        body,
      };
    }
    if (r < 0.97) {
      let body = form({
        AUTH_ID: pick(['t', '', 'x'.repeat(600)]),
        REFRESH_ID: pick(['r', '']),
        member_id: pick(['m', '']),
        AUTH_EXPIRES: pick(['3600', '-1', 'x']),
      });
      if (random() < 0.3) body = mutateText(body);
      const q = pick([
        '?DOMAIN=portal.example.com&PROTOCOL=1',
        '?DOMAIN=evil.com/x',
        '?DOMAIN=',
        '',
        '?DOMAIN=a:99999',
      ]);
      return { method: 'POST', url: `/bitrix/install${q}`, headers: formHeaders, body };
    }
    const page = random();
    if (page < 0.4)
      return {
        method: 'POST',
        url: '/bitrix/app',
        headers: formHeaders,
        body: form({ AUTH_ID: pick(['t', '']), member_id: pick(['emulator-member-1', '']) }),
      };
    if (page < 0.7)
      return {
        method: 'GET',
        url: `/bitrix/app?session=${pick(['', 'a.b', 'x'.repeat(600), '%00'])}`,
        headers: {},
      };
    return {
      method: 'POST',
      url: `/bitrix/app/actions/${pick(['drop', 'nuke', '..'])}`,
      headers: formHeaders,
      body: form({ session: pick(['a.b', '']) }),
    };
  };
}

describe('fuzzing the parsers', () => {
  it(`reads ${String(PARSED)} random and mutated bodies into a value or a typed error, never a throw`, () => {
    const next = generator(prng(SEED + 1));
    const outcomes = { ok: 0, refused: 0 };
    for (let i = 0; i < PARSED; i++) {
      const shot = next();
      const body = typeof shot.body === 'string' ? shot.body : (shot.body?.toString('utf8') ?? '');
      if (shot.url === '/pbx/v1/events') {
        const r = parseEventsBody(body);
        outcomes[r.ok ? 'ok' : 'refused']++;
      } else if (shot.url === '/pbx/v1/route') {
        const r = parseRouteBody(body);
        outcomes[r.ok ? 'ok' : 'refused']++;
      } else if (shot.url === '/bitrix/events') {
        // The form parser and the event reader throw only their typed errors.
        try {
          parseBitrixEvent(parseNestedForm(body));
          outcomes.ok++;
        } catch (e) {
          expect((e as { code?: string }).code).toMatch(/^(INVALID_FORM|INVALID_EVENT|EVENT_NOT_AUTHENTIC)$/);
          outcomes.refused++;
        }
      }
    }
    expect(outcomes.ok).toBeGreaterThan(PARSED / 50);
    expect(outcomes.refused).toBeGreaterThan(PARSED / 10);
  }, 120_000);
});

describe('fuzzing the live server', () => {
  let dir: string;
  let store: SqliteStore;
  let outbox: Outbox;
  let server: BridgeServer;
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown): void => {
    rejections.push(reason);
  };

  beforeAll(async () => {
    process.on('unhandledRejection', onRejection);
    dir = mkdtempSync(join(tmpdir(), 'b24-fuzz-'));
    store = await SqliteStore.open({ path: join(dir, 'bridge.db'), synchronous: 'normal' });
    outbox = await Outbox.open({ portalId: 'p1', store, engine: createEngine(office), api: silent });
    const parsed = parseConfig(
      demoDocument({
        clientId: 'local.fuzz',
        clientSecret: 'secret-value-1234',
        oauthUrl: 'http://127.0.0.1:9/oauth/',
      }),
    );
    if (!parsed.ok) throw parsed.error;
    const refuse = (): never => {
      throw new ServerError('EVENT_NOT_AUTHENTIC', 401, 'refused');
    };
    server = buildServer({
      config: parsed.config,
      outboxFor: () => outbox,
      storeRecording: () => Promise.resolve('ref'),
      install: () => Promise.reject(new ServerError('INSTALL_NOT_VERIFIED', 403, 'refused')),
      bitrixEvents: (e) =>
        e.auth.applicationToken === 'right-token'
          ? Promise.resolve({ result: 'ignored' as const })
          : Promise.reject(new ServerError('EVENT_NOT_AUTHENTIC', 401, 'refused')),
      appPage: {
        open: () => Promise.resolve(refuse()),
        view: () => Promise.resolve(refuse()),
        action: () => Promise.resolve(refuse()),
      },
    });
    await server.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    process.off('unhandledRejection', onRejection);
    await server.app.close();
    outbox.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`answers ${String(REQUESTS)} random and mutated requests with 2xx or 4xx only`, async () => {
    const next = generator(prng(SEED));
    const statuses = new Map<number, number>();
    const serverErrors: { shot: Shot; status: number; body: string }[] = [];
    const record = (shot: Shot, status: number, body: string): void => {
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if ((status >= 500 || status < 200) && serverErrors.length < 5)
        serverErrors.push({ shot, status, body });
      // 4xx answers name the problem with a stable code.
      if (status >= 400 && status < 500 && status !== 404) expect(body).toMatch(/"code":"[A-Z_0-9]+"/);
    };
    const inject = async (shot: Shot): Promise<void> => {
      const res = await server.app.inject({
        method: shot.method,
        url: shot.url,
        headers: shot.headers,
        ...(shot.body === undefined ? {} : { payload: shot.body }),
      });
      record(shot, res.statusCode, res.body);
    };
    for (let i = 0; i < REQUESTS - OVER_SOCKET; i++) await inject(next());
    const address = server.app.server.address();
    const base = `http://127.0.0.1:${String(typeof address === 'object' && address !== null ? address.port : 0)}`;
    for (let i = 0; i < OVER_SOCKET; i++) {
      const shot = next();
      // Header values no HTTP client would send (control characters, padding) go in-process.
      const unsendable = (v: string): boolean =>
        v !== v.trim() || Array.from({ length: v.length }, (_, i) => v.charCodeAt(i)).some((c) => c < 32);
      if (Object.values(shot.headers).some(unsendable)) {
        await inject(shot);
        continue;
      }
      const res = await fetch(`${base}${shot.url}`, {
        method: shot.method,
        headers: shot.headers,
        ...(shot.body === undefined ? {} : { body: shot.body }),
        redirect: 'manual',
      });
      record(shot, res.status, await res.text());
    }
    expect(serverErrors).toEqual([]);
    expect(rejections).toEqual([]);
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(REQUESTS);
    // The mix reached both sides: accepted events and refusals.
    expect(statuses.get(202) ?? 0).toBeGreaterThan(REQUESTS / 50);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(REQUESTS / 10);
    expect(statuses.get(401) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(413) ?? 0).toBeGreaterThan(0);
    // Still serving.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    console.log(
      `fuzz: ${String(REQUESTS)} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
  }, 600_000);
});

/**
 * Spec §9 "Emulator fidelity checklist", items 1–20, written from emulator/docs/bitrix24-rest.md
 * (§1, §2, §5): one test per item, every clause of the item asserted.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  startTestPortal,
  type CallView,
  type RegisterResult,
  type RestAnswer,
  type TestPortal,
} from './helpers.ts';

type Json = Record<string, unknown>;

interface Answer extends RestAnswer {
  contentType: string;
}

/** GET /_emulator/cards and /_emulator/card-log */
interface CardView {
  userId: number;
  callId: string;
  action?: 'show' | 'hide';
}

/** GET /_emulator/crm (only what these tests read) */
interface CrmView {
  leads: { id: number; assignedById: number; phones: { value: string }[] }[];
}

interface LineView {
  NUMBER: string;
  NAME: unknown;
  CRM_AUTO_CREATE: unknown;
}

const REGISTER = 'telephony.externalCall.register';
const FINISH = 'telephony.externalCall.finish';
const CONTACT_PHONE = '+79161234567'; // seed contact 1, responsible 3
const COMPANY_PHONE = '+74951112233'; // seed company 1, responsible 4
const UNKNOWN_PHONE = '+79990000001'; // matches nothing in the seed

const TIME_KEYS = [
  'start',
  'finish',
  'duration',
  'processing',
  'date_start',
  'date_finish',
  'operating_reset_at',
  'operating',
];
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/;

async function http(url: string, init?: RequestInit): Promise<Answer> {
  const res = await fetch(url, init);
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    body: (await res.json()) as Json,
  };
}

const postForm = (url: string, pairs: [string, string][]): Promise<Answer> =>
  http(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(pairs).toString(),
  });

const postJson = (url: string, body: unknown): Promise<Answer> =>
  http(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
  });

/** The whole answer is exactly the error envelope with this status, code and text. */
function expectError(res: RestAnswer, status: number, error: string, description: string): void {
  expect({ status: res.status, body: res.body }).toEqual({
    status,
    body: { error, error_description: description },
  });
}

function expectOk(res: RestAnswer): void {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

const register = (t: TestPortal, params: Json, token?: string): Promise<RestAnswer> =>
  t.call(REGISTER, params, token);

async function registerOk(t: TestPortal, params: Json, token?: string): Promise<RegisterResult> {
  const res = await register(t, params, token);
  expectOk(res);
  return res.body.result as RegisterResult;
}

const calls = async (t: TestPortal): Promise<CallView[]> => (await t.inspect<CallView[]>('calls')).body;
const callView = async (t: TestPortal, callId: string): Promise<CallView | undefined> =>
  (await calls(t)).find((c) => c.callId === callId);
const cards = async (t: TestPortal): Promise<CardView[]> => (await t.inspect<CardView[]>('cards')).body;
const leads = async (t: TestPortal): Promise<CrmView['leads']> =>
  (await t.inspect<CrmView>('crm')).body.leads;

async function refresh(t: TestPortal, refreshToken: string): Promise<Answer> {
  const q = new URLSearchParams({
    grant_type: 'refresh_token',
    client_id: t.app.clientId,
    client_secret: t.app.clientSecret,
    refresh_token: refreshToken,
  });
  return http(`${t.url}/oauth/token/?${q.toString()}`);
}

/** A fresh access token of the test app, for tests that move the clock past the first one's hour. */
async function renewToken(t: TestPortal): Promise<string> {
  const res = await refresh(t, t.app.refreshToken);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return (res.body as { access_token: string }).access_token;
}

/** A success answer is exactly {result, time (+ list keys)} with the eight documented time keys. */
function expectSuccessEnvelope(res: Answer, listKeys: string[] = []): void {
  expectOk(res);
  expect(res.contentType).toMatch(/^application\/json/);
  expect(Object.keys(res.body).sort()).toEqual(['result', 'time', ...listKeys].sort());
  const time = res.body.time as Json;
  expect(Object.keys(time).sort()).toEqual([...TIME_KEYS].sort());
  for (const key of ['start', 'finish', 'duration', 'processing', 'operating'])
    expect(typeof time[key], key).toBe('number');
  const start = time.start as number;
  const finish = time.finish as number;
  expect(finish).toBeGreaterThanOrEqual(start);
  expect(time.duration as number).toBeCloseTo(finish - start, 3);
  expect(time.processing as number).toBeGreaterThanOrEqual(0);
  expect(time.operating as number).toBeGreaterThanOrEqual(0);
  expect(time.date_start).toMatch(ISO_WITH_OFFSET);
  expect(time.date_finish).toMatch(ISO_WITH_OFFSET);
  // date_start/date_finish are the same instants as start/finish, to the second.
  expect(Date.parse(time.date_start as string)).toBe(Math.floor(start) * 1000);
  expect(Date.parse(time.date_finish as string)).toBe(Math.floor(finish) * 1000);
  // operating_reset_at: an integer unix time within the 10-minute window after this call.
  expect(Number.isInteger(time.operating_reset_at)).toBe(true);
  expect(time.operating_reset_at as number).toBeGreaterThan(start);
  expect(time.operating_reset_at as number).toBeLessThanOrEqual(start + 660);
}

/** An error answer is exactly {error, error_description} (strings) with a non-2xx status. */
function expectErrorEnvelope(res: Answer, status: number): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.status < 200 || res.status > 299).toBe(true);
  expect(res.contentType).toMatch(/^application\/json/);
  expect(Object.keys(res.body).sort()).toEqual(['error', 'error_description']);
  expect(typeof res.body.error).toBe('string');
  expect(typeof res.body.error_description).toBe('string');
}

describe('fidelity checklist §9 (1–20)', () => {
  let t: TestPortal;
  beforeEach(async () => {
    t = await startTestPortal();
  });
  afterEach(() => t.close());

  const rest = (method: string): string => `${t.url}/rest/${method}`;
  const hook = (method: string): string => `${t.url}/rest/1/emulator/${method}`;

  it('§9.1 success → HTTP 200 {result, time{8 keys}}; error → non-2xx {error, error_description}', async () => {
    const token = t.token;
    // Object, array, scalar `true` and empty-array results, a list method, and the webhook form.
    expectSuccessEnvelope(await postJson(rest('user.current'), { auth: token }));
    const reg = await postJson(rest(REGISTER), {
      auth: token,
      USER_ID: 2,
      PHONE_NUMBER: CONTACT_PHONE,
      TYPE: 2,
      LINE_NUMBER: 'line-1',
    });
    expectSuccessEnvelope(reg);
    const callId = (reg.body.result as RegisterResult).CALL_ID;
    const show = await postJson(rest('telephony.externalCall.show'), { auth: token, CALL_ID: callId });
    expectSuccessEnvelope(show);
    expect(show.body.result).toBe(true);
    const lines = await postJson(rest('telephony.externalLine.get'), { auth: token });
    expectSuccessEnvelope(lines);
    expect(Array.isArray(lines.body.result)).toBe(true);
    const del = await postJson(rest('telephony.externalLine.delete'), { auth: token, NUMBER: 'line-1' });
    expectSuccessEnvelope(del);
    expect(del.body.result).toEqual([]);
    // A `false` result is still a success envelope with the `result` key.
    const unknownShow = await postJson(rest('telephony.externalCall.show'), {
      auth: token,
      CALL_ID: 'externalCall.00000000000000000000000000000000.1',
    });
    expectSuccessEnvelope(unknownShow);
    expect(unknownShow.body.result).toBe(false);
    const users = await postJson(rest('user.get'), { auth: token });
    expectSuccessEnvelope(users, ['total']);
    expect(users.body.total).toBe(6);
    expectSuccessEnvelope(await postJson(hook('user.current'), {}), []);
    expectSuccessEnvelope(await postJson(hook('user.get'), {}), ['total']);

    // Errors: auth (401), scope and auth type (403), method errors (400), unknown method (404),
    // rate limit (503).
    expectErrorEnvelope(await postJson(rest('user.current'), { auth: 'garbage' }), 401);
    const narrow = await t.install({ clientId: 'local.narrow.1', clientSecret: 's', scopes: ['user'] });
    expectErrorEnvelope(
      await postJson(rest('telephony.externalLine.get'), { auth: narrow.accessToken }),
      403,
    );
    expectErrorEnvelope(await postJson(hook(REGISTER), { USER_ID: 2, PHONE_NUMBER: '1', TYPE: 2 }), 403);
    expectErrorEnvelope(await postJson(rest(REGISTER), { auth: token, USER_ID: 2, TYPE: 2 }), 400);
    const notFound = await postJson(rest('crm.contact.get'), { auth: token, id: 999 });
    expectErrorEnvelope(notFound, 400);
    expect(notFound.body).toEqual({ error: '', error_description: 'Not found' });
    expectErrorEnvelope(await postJson(rest('no.such.method'), { auth: token }), 404);
    await t.inspect('faults', { body: { rateLimit: { rate: 0.001, burst: 1 } } });
    await postJson(rest('user.current'), { auth: token });
    expectErrorEnvelope(await postJson(rest('user.current'), { auth: token }), 503);
  });

  it('§9.2 auth in query string, form body or JSON body; webhook path; optional .json suffix', async () => {
    const token = t.token;
    const expectAdmin = (res: Answer): void => {
      expectOk(res);
      expect((res.body.result as Json).ID).toBe('1'); // the installing user
    };
    // OAuth: the token as `auth` in each of the three places, with and without `.json`.
    expectAdmin(await http(`${rest('user.current')}?auth=${token}`));
    expectAdmin(await http(`${rest('user.current.json')}?auth=${token}`));
    expectAdmin(await postForm(rest('user.current'), [['auth', token]]));
    expectAdmin(await postForm(rest('user.current.json'), [['auth', token]]));
    expectAdmin(await postJson(rest('user.current'), { auth: token }));
    expectAdmin(await postJson(rest('user.current.json'), { auth: token }));
    // Query-string token with the parameters in a JSON or form body.
    const viaQuery = await postJson(`${rest('user.get')}?auth=${token}`, {
      FILTER: { UF_PHONE_INNER: '102' },
    });
    expectOk(viaQuery);
    expect(viaQuery.body.result).toMatchObject([{ ID: '3' }]);
    const formWithToken = await postForm(rest('user.get.json'), [
      ['auth', token],
      ['FILTER[UF_PHONE_INNER]', '102'],
    ]);
    expect(formWithToken.body.result).toEqual(viaQuery.body.result);
    // A method with parameters works the same with the token in each place.
    const regParams: [string, string][] = [
      ['USER_ID', '2'],
      ['PHONE_NUMBER', UNKNOWN_PHONE],
      ['TYPE', '2'],
    ];
    const q = new URLSearchParams([...regParams, ['auth', token]]).toString();
    expectOk(await http(`${rest(REGISTER)}?${q}`));
    expectOk(await postForm(rest(`${REGISTER}.json`), [...regParams, ['auth', token]]));
    expectOk(
      await postJson(rest(REGISTER), { USER_ID: 2, PHONE_NUMBER: UNKNOWN_PHONE, TYPE: 2, auth: token }),
    );

    // Webhook: /rest/<user_id>/<secret>/<method>, with and without `.json`, GET and POST.
    expectAdmin(await http(hook('user.current')));
    expectAdmin(await http(hook('user.current.json')));
    expectAdmin(await postJson(hook('user.current.json'), {}));
    const hookForm = await postForm(hook('user.get'), [['FILTER[UF_PHONE_INNER]', '102']]);
    expect(hookForm.body.result).toEqual(viaQuery.body.result);
    const hookQuery = await http(`${hook('user.get.json')}?FILTER[UF_PHONE_INNER]=102`);
    expect(hookQuery.body.result).toEqual(viaQuery.body.result);
    // The credential is what authenticates: a wrong webhook secret or no token is refused.
    expectError(
      await http(`${t.url}/rest/1/wrong-secret/user.current`),
      401,
      'NO_AUTH_FOUND',
      'Wrong authorization data',
    );
    expectError(
      await http(`${t.url}/rest/2/emulator/user.current`),
      401,
      'NO_AUTH_FOUND',
      'Wrong authorization data',
    );
    expectError(await http(rest('user.current')), 401, 'NO_AUTH_FOUND', 'Wrong authorization data');
  });

  it('§9.3 garbage token → 401 NO_AUTH_FOUND; >3600 s → 401 expired_token; refreshed token works', async () => {
    const noAuth = ['NO_AUTH_FOUND', 'Wrong authorization data'] as const;
    const expired = ['expired_token', 'The access token provided has expired.'] as const;
    expectError(await t.call('user.current', {}, 'garbage'), 401, ...noAuth);
    expectError(await t.call('user.current', {}, 'a'.repeat(32)), 401, ...noAuth);
    // The token of an app that has since been deleted is unknown too.
    const gone = await t.install({ clientId: 'local.gone.1', clientSecret: 'g' });
    expectOk(await t.call('user.current', {}, gone.accessToken));
    expect((await t.inspect('apps/local.gone.1', { method: 'DELETE' })).status).toBe(200);
    expectError(await t.call('user.current', {}, gone.accessToken), 401, ...noAuth);
    expectError(
      await t.call(REGISTER, { USER_ID: 2, PHONE_NUMBER: UNKNOWN_PHONE, TYPE: 2 }, ''),
      401,
      ...noAuth,
    );

    // Still valid just before the end of its 3600 s life, expired just after.
    const clock = t.emulator.portal.clock;
    clock.advance(3590_000);
    expectOk(await t.call('user.current'));
    clock.advance(11_000);
    expectError(await t.call('user.current'), 401, ...expired);
    expectError(
      await t.call(REGISTER, { USER_ID: 2, PHONE_NUMBER: UNKNOWN_PHONE, TYPE: 2 }),
      401,
      ...expired,
    );

    // Refresh (the documented client reaction) → the new token works, for its own hour.
    const refreshed = await refresh(t, t.app.refreshToken);
    expect(refreshed.status).toBe(200);
    const pair = refreshed.body as { access_token: string; refresh_token: string; expires_in: number };
    expect(pair.expires_in).toBe(3600);
    expect(pair.access_token).not.toBe(t.token);
    expect(pair.refresh_token).not.toBe(t.app.refreshToken);
    const me = await t.call('user.current', {}, pair.access_token);
    expectOk(me);
    expect((me.body.result as Json).ID).toBe('1');
    expectOk(await register(t, { USER_ID: 2, PHONE_NUMBER: UNKNOWN_PHONE, TYPE: 2 }, pair.access_token));
    expectError(await t.call('user.current'), 401, ...expired); // the old one stays expired
    clock.advance(3601_000);
    expectError(await t.call('user.current', {}, pair.access_token), 401, ...expired);
  });

  it('§9.3 (UNCONFIRMED, configurable) the previous access token after a refresh: valid by default, or revoked', async () => {
    const clock = t.emulator.portal.clock;
    const settings = await t.inspect<{ oldAccessTokenAfterRefresh: string }>('settings');
    expect(settings.body.oldAccessTokenAfterRefresh).toBe('valid');

    // "valid": the old token keeps working until its own expiry, not the new token's.
    clock.advance(1800_000);
    const first = await refresh(t, t.app.refreshToken);
    expect(first.status).toBe(200);
    const next = first.body as { access_token: string; refresh_token: string };
    expectOk(await t.call('user.current', {}, t.token));
    expectOk(await t.call('user.current', {}, next.access_token));
    clock.advance(1801_000); // old token is 3601 s old, the new one 1801 s
    expectError(
      await t.call('user.current', {}, t.token),
      401,
      'expired_token',
      'The access token provided has expired.',
    );
    expectOk(await t.call('user.current', {}, next.access_token));

    // "revoked": the old token stops working at once; the new one works.
    const changed = await t.inspect<{ oldAccessTokenAfterRefresh: string }>('settings', {
      body: { oldAccessTokenAfterRefresh: 'revoked' },
    });
    expect(changed.body.oldAccessTokenAfterRefresh).toBe('revoked');
    const second = await refresh(t, next.refresh_token);
    expect(second.status).toBe(200);
    const latest = (second.body as { access_token: string }).access_token;
    expectError(
      await t.call('user.current', {}, next.access_token),
      401,
      'NO_AUTH_FOUND',
      'Wrong authorization data',
    );
    expectOk(await t.call('user.current', {}, latest));
  });

  it('§9.4 a method whose scope the token lacks → 403 insufficient_scope', async () => {
    const scopeError = [
      403,
      'insufficient_scope',
      'The request requires higher privileges than provided by the webhook token',
    ] as const;
    const narrow = await t.install({ clientId: 'local.narrow.1', clientSecret: 's', scopes: ['user'] });
    const token = narrow.accessToken;
    // telephony methods, including app-only ones and ones with invalid parameters: scope comes first.
    expectError(
      await register(t, { USER_ID: 2, PHONE_NUMBER: UNKNOWN_PHONE, TYPE: 2 }, token),
      ...scopeError,
    );
    expectError(await register(t, {}, token), ...scopeError);
    expectError(await t.call('telephony.externalLine.get', {}, token), ...scopeError);
    expectError(
      await t.call('telephony.externalCall.searchCrmEntities', { PHONE_NUMBER: CONTACT_PHONE }, token),
      ...scopeError,
    );
    // crm methods too.
    expectError(await t.call('crm.contact.get', { id: 1 }, token), ...scopeError);
    // The granted scope works, and basic methods need no scope.
    const users = await t.call('user.get', { FILTER: { UF_PHONE_INNER: '101' } }, token);
    expectOk(users);
    expect(users.body.result).toMatchObject([{ ID: '2' }]);
    expectOk(await t.call('batch', { cmd: { me: 'user.current' } }, token));
    // Inside a batch, the command without scope fails with the same error.
    const batch = await t.call(
      'batch',
      { cmd: { lines: 'telephony.externalLine.get', me: 'user.current' } },
      token,
    );
    expectOk(batch);
    const sections = batch.body.result as { result: Json; result_error: Json };
    expect(sections.result_error).toEqual({
      lines: { error: scopeError[1], error_description: scopeError[2] },
    });
    expect(sections.result.me).toMatchObject({ ID: '1' });
    // user.get also accepts the narrower user scopes (spec §6.4); telephony still needs its own.
    const brief = await t.install({ clientId: 'local.brief.1', clientSecret: 'b', scopes: 'user_brief' });
    expectOk(await t.call('user.get', { FILTER: { UF_PHONE_INNER: '101' } }, brief.accessToken));
    expectError(await t.call('telephony.externalLine.get', {}, brief.accessToken), ...scopeError);
    // An incoming webhook created with the `user` scope only: the same rule.
    t.emulator.portal.webhooks.push({ userId: 2, secret: 'narrow', scopes: ['user'] });
    const narrowHook = (method: string): string => `${t.url}/rest/2/narrow/${method}`;
    expectError(
      await postJson(narrowHook('telephony.externalCall.searchCrmEntities'), { PHONE_NUMBER: CONTACT_PHONE }),
      ...scopeError,
    );
    expectError(await postJson(narrowHook('crm.contact.get'), { id: 1 }), ...scopeError);
    expectOk(await postJson(narrowHook('user.current'), {}));
    // The same methods pass with the full-scope app.
    expectOk(await t.call('telephony.externalLine.get'));
  });

  it('§9.5 bracket form parameters and JSON bodies parse alike; numeric strings accepted as integers', async () => {
    // user.get: FILTER[...] in a query string, a form body, multipart and JSON (string and number).
    const filterPairs: [string, string][] = [['FILTER[UF_PHONE_INNER]', '101']];
    const viaJson = await t.call('user.get', { FILTER: { UF_PHONE_INNER: '101' } });
    expectOk(viaJson);
    expect(viaJson.body.result).toMatchObject([{ ID: '2', UF_PHONE_INNER: '101' }]);
    expect(viaJson.body.total).toBe(1);
    const same = (res: RestAnswer): void => {
      expectOk(res);
      expect(res.body.result).toEqual(viaJson.body.result);
      expect(res.body.total).toEqual(viaJson.body.total);
    };
    const q = new URLSearchParams([...filterPairs, ['auth', t.token]]).toString();
    same(await http(`${rest('user.get')}?${q}`));
    same(await postForm(rest('user.get'), [...filterPairs, ['auth', t.token]]));
    const multipart = new FormData();
    multipart.append('auth', t.token);
    multipart.append('FILTER[UF_PHONE_INNER]', '101');
    same(await http(rest('user.get'), { method: 'POST', body: multipart }));
    same(await t.call('user.get', { FILTER: { UF_PHONE_INNER: 101 } }));
    // No user has extension 105: an empty list in every encoding.
    const none = await postForm(rest('user.get'), [
      ['FILTER[UF_PHONE_INNER]', '105'],
      ['auth', t.token],
    ]);
    expectOk(none);
    expect(none.body.result).toEqual([]);
    expect(none.body.total).toBe(0);
    const noneJson = await t.call('user.get', { FILTER: { UF_PHONE_INNER: '105' } });
    expect({ result: noneJson.body.result, total: noneJson.body.total }).toEqual({ result: [], total: 0 });

    // Nested lists: FILTER[@UF_PHONE_INNER][]=…, select[]=… vs JSON arrays.
    const nestedForm = await postForm(rest('user.get'), [
      ['FILTER[@UF_PHONE_INNER][]', '101'],
      ['FILTER[@UF_PHONE_INNER][]', '102'],
      ['select[]', 'ID'],
      ['select[]', 'NAME'],
      ['auth', t.token],
    ]);
    expectOk(nestedForm);
    const nestedJson = await t.call('user.get', {
      FILTER: { '@UF_PHONE_INNER': ['101', '102'] },
      select: ['ID', 'NAME'],
    });
    expectOk(nestedJson);
    expect(nestedForm.body.result).toEqual(nestedJson.body.result);
    expect(nestedJson.body.result).toEqual([
      { ID: '2', NAME: 'Anna' },
      { ID: '3', NAME: 'Boris' },
    ]);

    // register with every integer as a string (form) and as JSON numbers / numeric strings.
    const formReg = await postForm(rest(REGISTER), [
      ['USER_ID', '3'],
      ['PHONE_NUMBER', CONTACT_PHONE],
      ['TYPE', '2'],
      ['SHOW', '0'],
      ['EXTERNAL_CALL_ID', 'form-1'],
      ['auth', t.token],
    ]);
    expectOk(formReg);
    const jsonStrings = await registerOk(t, {
      USER_ID: '3',
      PHONE_NUMBER: CONTACT_PHONE,
      TYPE: '2',
      SHOW: '0',
      EXTERNAL_CALL_ID: 'json-strings',
    });
    const jsonNumbers = await registerOk(t, {
      USER_ID: 3,
      PHONE_NUMBER: CONTACT_PHONE,
      TYPE: 2,
      SHOW: 0,
      EXTERNAL_CALL_ID: 'json-numbers',
    });
    const formResult = formReg.body.result as RegisterResult;
    for (const r of [formResult, jsonStrings, jsonNumbers]) {
      expect(r).toMatchObject({ CRM_ENTITY_TYPE: 'CONTACT', CRM_ENTITY_ID: 1, CRM_CREATED_LEAD: null });
      const view = await callView(t, r.CALL_ID);
      expect(view).toMatchObject({ userId: 3, type: 2, shown: false });
    }

    // show with USER_ID[]=2&USER_ID[]=4 (form) vs JSON [2, 4] vs JSON ["2", "4"]: the same cards.
    const cardsOf = async (callId: string): Promise<number[]> =>
      (await cards(t))
        .filter((c) => c.callId === callId)
        .map((c) => c.userId)
        .sort((a, b) => a - b);
    const showForm = await postForm(rest('telephony.externalCall.show'), [
      ['CALL_ID', formResult.CALL_ID],
      ['USER_ID[]', '2'],
      ['USER_ID[]', '4'],
      ['auth', t.token],
    ]);
    expectOk(showForm);
    expect(showForm.body.result).toBe(true);
    expectOk(await t.call('telephony.externalCall.show', { CALL_ID: jsonNumbers.CALL_ID, USER_ID: [2, 4] }));
    expectOk(
      await t.call('telephony.externalCall.show', { CALL_ID: jsonStrings.CALL_ID, USER_ID: ['2', '4'] }),
    );
    expect(await cardsOf(formResult.CALL_ID)).toEqual([2, 4]);
    expect(await cardsOf(jsonNumbers.CALL_ID)).toEqual([2, 4]);
    expect(await cardsOf(jsonStrings.CALL_ID)).toEqual([2, 4]);

    // And the other way round: JSON numbers where strings are expected.
    const numeric = await registerOk(t, {
      USER_ID: 3,
      PHONE_NUMBER: 79161234567,
      TYPE: 2,
      LINE_NUMBER: 74951234567,
      EXTERNAL_CALL_ID: 42,
      SHOW: 0,
    });
    expect(numeric).toMatchObject({ CRM_ENTITY_TYPE: 'CONTACT', CRM_ENTITY_ID: 1 });
    expect(await callView(t, numeric.CALL_ID)).toMatchObject({ lineNumber: '74951234567' });
    const sameAsText = await registerOk(t, {
      USER_ID: '3',
      PHONE_NUMBER: '79161234567',
      TYPE: '2',
      LINE_NUMBER: '74951234567',
      EXTERNAL_CALL_ID: '42',
      SHOW: '0',
    });
    expect(sameAsText.CALL_ID).toBe(numeric.CALL_ID);
    const lines = await t.call('telephony.externalLine.get');
    expect((lines.body.result as LineView[]).map((l) => l.NUMBER)).toEqual(['74951234567']);

    // finish with DURATION as a form string gives integer fields in the result.
    const fin = await postForm(rest(FINISH), [
      ['CALL_ID', formResult.CALL_ID],
      ['USER_ID', '3'],
      ['DURATION', '42'],
      ['auth', t.token],
    ]);
    expectOk(fin);
    expect(fin.body.result).toMatchObject({ PORTAL_USER_ID: 3, CALL_DURATION: 42, CALL_STATUS: 1 });
  });

  it('§9.6 register without USER_ID or USER_PHONE_INNER → ERROR_CORE', async () => {
    const userRequired = [400, 'ERROR_CORE', 'USER_ID or USER_PHONE_INNER should be set'] as const;
    const call = { PHONE_NUMBER: UNKNOWN_PHONE, TYPE: 2 };
    expectError(await register(t, call), ...userRequired);
    expectError(await register(t, { ...call, USER_ID: 0 }), ...userRequired);
    expectError(await register(t, { ...call, USER_ID: '' }), ...userRequired);
    // USER_PHONE_INNER matching nobody, or only a deactivated user (Dmitri, 104): the same error.
    expectError(await register(t, { ...call, USER_PHONE_INNER: '999' }), ...userRequired);
    expectError(await register(t, { ...call, USER_PHONE_INNER: '104' }), ...userRequired);
    expectError(await register(t, { ...call, USER_ID: 0, USER_PHONE_INNER: '104' }), ...userRequired);
    // Checked before TYPE, CALL_START_DATE and PHONE_NUMBER.
    expectError(await register(t, { CALL_START_DATE: 'yesterday', PHONE_NUMBER: 'abc' }), ...userRequired);
    expect(await calls(t)).toEqual([]);
    // A matching active extension resolves to its user (Anna, 101), also with USER_ID 0.
    const byExt = await registerOk(t, { ...call, USER_PHONE_INNER: '101', SHOW: 0 });
    expect(await callView(t, byExt.CALL_ID)).toMatchObject({ userId: 2 });
    const byExtZero = await registerOk(t, { ...call, USER_ID: 0, USER_PHONE_INNER: '102', SHOW: 0 });
    expect(await callView(t, byExtZero.CALL_ID)).toMatchObject({ userId: 3 });
    // An extension sent as a JSON number works the same.
    const byExtNumber = await registerOk(t, { ...call, USER_PHONE_INNER: 103, SHOW: 0 });
    expect(await callView(t, byExtNumber.CALL_ID)).toMatchObject({ userId: 4 });
  });

  it('§9.7 register with an unknown or deactivated USER_ID → ERROR_CORE "User is not found or is not active"', async () => {
    const inactive = [400, 'ERROR_CORE', 'User is not found or is not active'] as const;
    const call = { PHONE_NUMBER: UNKNOWN_PHONE, TYPE: 2 };
    expectError(await register(t, { ...call, USER_ID: 999 }), ...inactive);
    expectError(await register(t, { ...call, USER_ID: 5 }), ...inactive); // Dmitri, not active
    expectError(await register(t, { ...call, USER_ID: '5' }), ...inactive);
    // USER_ID > 0 wins over a valid USER_PHONE_INNER.
    expectError(await register(t, { ...call, USER_ID: 999, USER_PHONE_INNER: '101' }), ...inactive);
    // Checked after TYPE, CALL_START_DATE and PHONE_NUMBER (spec §2.1 order, step 6).
    expectError(
      await register(t, { USER_ID: 999, PHONE_NUMBER: UNKNOWN_PHONE, TYPE: 9 }),
      400,
      'ERROR_CORE',
      'Unknown TYPE',
    );
    expectError(
      await register(t, { ...call, USER_ID: 5, CALL_START_DATE: 'yesterday' }),
      400,
      'ERROR_CORE',
      'CALL_START_DATE should be in the ISO-8601 format',
    );
    expectError(
      await register(t, { USER_ID: 999, PHONE_NUMBER: 'abc', TYPE: 2 }),
      400,
      'ERROR_CORE',
      'Unsupported phone number format',
    );
    expect(await calls(t)).toEqual([]);
    // An active user, even one without an extension (Elena, 6), is fine.
    const ok = await registerOk(t, { ...call, USER_ID: 6, SHOW: 0 });
    expect(await callView(t, ok.CALL_ID)).toMatchObject({ userId: 6 });
  });

  it('§9.8 register with TYPE missing or outside 1..5 → ERROR_CORE "Unknown TYPE", checked before date and phone', async () => {
    const unknownType = [400, 'ERROR_CORE', 'Unknown TYPE'] as const;
    const call = { USER_ID: 2, PHONE_NUMBER: UNKNOWN_PHONE };
    expectError(await register(t, call), ...unknownType);
    for (const type of [0, 6, -1, 12, '', 'abc', '0', '6'])
      expectError(await register(t, { ...call, TYPE: type }), ...unknownType);
    // Before CALL_START_DATE and PHONE_NUMBER validation.
    expectError(await register(t, { ...call, TYPE: 7, CALL_START_DATE: 'yesterday' }), ...unknownType);
    expectError(await register(t, { USER_ID: 2, PHONE_NUMBER: 'abc', TYPE: 0 }), ...unknownType);
    expectError(
      await register(t, { USER_ID: 2, PHONE_NUMBER: 'abc', CALL_START_DATE: 'yesterday' }),
      ...unknownType,
    );
    expect(await calls(t)).toEqual([]);
    // Every type 1..5 is accepted, as a number or a numeric string.
    for (const type of [1, 2, 3, 4, '5']) {
      const r = await registerOk(t, { ...call, TYPE: type, SHOW: 0 });
      expect(await callView(t, r.CALL_ID)).toMatchObject({ type: Number(type) });
    }
  });

  it('§9.9 register with CALL_START_DATE="yesterday" → ERROR_CORE ISO-8601 error; omitted → server now', async () => {
    const badDate = [400, 'ERROR_CORE', 'CALL_START_DATE should be in the ISO-8601 format'] as const;
    const call = { USER_ID: 2, PHONE_NUMBER: UNKNOWN_PHONE, TYPE: 2, SHOW: 0 };
    expectError(await register(t, { ...call, CALL_START_DATE: 'yesterday' }), ...badDate);
    // Checked before the phone number.
    expectError(
      await register(t, { ...call, PHONE_NUMBER: 'abc', CALL_START_DATE: 'yesterday' }),
      ...badDate,
    );
    expect(await calls(t)).toEqual([]);

    // Omitted → the portal's "now" (the portal clock, moved away from the wall clock here).
    const clock = t.emulator.portal.clock;
    clock.advance(3 * 86_400_000);
    const token = await renewToken(t);
    const now = await registerOk(t, { ...call, EXTERNAL_CALL_ID: 'now' }, token);
    const view = await callView(t, now.CALL_ID);
    expect(view?.startDate).toMatch(ISO_WITH_OFFSET);
    expect(Math.abs(Date.parse(view?.startDate ?? '') - clock.now())).toBeLessThan(5_000);

    // A valid ISO-8601 date with an offset is taken as given.
    for (const [i, date] of ['2026-03-07T10:20:30+03:00', '2026-03-07T10:20:30-05:00'].entries()) {
      const r = await registerOk(
        t,
        { ...call, EXTERNAL_CALL_ID: `given-${i}`, CALL_START_DATE: date },
        token,
      );
      expect(Date.parse((await callView(t, r.CALL_ID))?.startDate ?? '')).toBe(Date.parse(date));
    }
  });

  it('§9.10 register with PHONE_NUMBER="abc" → ERROR_CORE "Unsupported phone number format"', async () => {
    const badPhone = [400, 'ERROR_CORE', 'Unsupported phone number format'] as const;
    const call = { USER_ID: 2, TYPE: 2 };
    expectError(await register(t, { ...call, PHONE_NUMBER: 'abc' }), ...badPhone);
    expectError(await register(t, { ...call, PHONE_NUMBER: '' }), ...badPhone);
    expectError(await register(t, call), ...badPhone);
    expect(await calls(t)).toEqual([]);
    // Letters are stripped; what remains is the number.
    const r = await registerOk(t, { ...call, PHONE_NUMBER: 'tel 79990000002', SHOW: 0 });
    expect(await callView(t, r.CALL_ID)).toMatchObject({ phoneNumber: '79990000002' });
  });

  it('§9.11 register result: CALL_ID format, CRM_CREATED_LEAD, CRM_CREATED_ENTITIES, CRM_ENTITY_TYPE/ID types', async () => {
    const keys = ['CALL_ID', 'CRM_CREATED_ENTITIES', 'CRM_CREATED_LEAD', 'CRM_ENTITY_ID', 'CRM_ENTITY_TYPE'];
    const callIdFormat = /^externalCall\.[0-9a-f]{32}\.(\d+)$/;
    const nowSec = (): number => Math.floor(t.emulator.portal.clock.now() / 1000);
    const check = (r: RegisterResult): void => {
      expect(Object.keys(r).sort()).toEqual(keys);
      const m = callIdFormat.exec(r.CALL_ID);
      expect(m, r.CALL_ID).not.toBeNull();
      expect(Math.abs(Number(m?.[1]) - nowSec())).toBeLessThanOrEqual(5); // `<unix time>`
      expect(r.CRM_CREATED_LEAD === null || Number.isInteger(r.CRM_CREATED_LEAD)).toBe(true);
      expect(Array.isArray(r.CRM_CREATED_ENTITIES)).toBe(true);
      expect(typeof r.CRM_ENTITY_TYPE).toBe('string');
      expect(r.CRM_ENTITY_ID === null || Number.isInteger(r.CRM_ENTITY_ID)).toBe(true);
    };
    // No match, nothing created.
    const none = await registerOk(t, { USER_ID: 2, PHONE_NUMBER: UNKNOWN_PHONE, TYPE: 2 });
    check(none);
    expect(none).toMatchObject({
      CRM_CREATED_LEAD: null,
      CRM_CREATED_ENTITIES: [],
      CRM_ENTITY_TYPE: '',
      CRM_ENTITY_ID: null,
    });
    // A matching contact.
    const contact = await registerOk(t, { USER_ID: 2, PHONE_NUMBER: CONTACT_PHONE, TYPE: 2 });
    check(contact);
    expect(contact).toMatchObject({
      CRM_CREATED_LEAD: null,
      CRM_CREATED_ENTITIES: [],
      CRM_ENTITY_TYPE: 'CONTACT',
      CRM_ENTITY_ID: 1,
    });
    // A created lead: integers, not strings.
    t.emulator.portal.clock.advance(86_400_000);
    const created = await registerOk(
      t,
      { USER_ID: 2, PHONE_NUMBER: '+79990000003', TYPE: 2, CRM_CREATE: 1 },
      await renewToken(t),
    );
    check(created);
    const leadId = created.CRM_CREATED_LEAD;
    expect(Number.isInteger(leadId)).toBe(true);
    expect(created).toEqual({
      CALL_ID: created.CALL_ID,
      CRM_CREATED_LEAD: leadId,
      CRM_CREATED_ENTITIES: [{ ENTITY_TYPE: 'LEAD', ENTITY_ID: leadId }],
      CRM_ENTITY_TYPE: 'LEAD',
      CRM_ENTITY_ID: leadId,
    });
    expect(new Set([none.CALL_ID, contact.CALL_ID, created.CALL_ID]).size).toBe(3);
  });

  it('§9.12 register with SHOW=0 shows no card; SHOW omitted shows the card to USER_ID', async () => {
    const call = { USER_ID: 3, PHONE_NUMBER: CONTACT_PHONE, TYPE: 2 };
    const hidden = await registerOk(t, { ...call, SHOW: 0, EXTERNAL_CALL_ID: 'hidden' });
    expect(hidden.CALL_ID).toMatch(/^externalCall\./);
    expect((await cards(t)).filter((c) => c.callId === hidden.CALL_ID)).toEqual([]);
    const log = (await t.inspect<CardView[]>('card-log')).body;
    expect(log.filter((e) => e.callId === hidden.CALL_ID)).toEqual([]);
    expect(await callView(t, hidden.CALL_ID)).toMatchObject({ shown: false, finished: false });

    // Default: shown to the registered user, and only to them.
    const shown = await registerOk(t, { ...call, EXTERNAL_CALL_ID: 'shown' });
    expect((await cards(t)).filter((c) => c.callId === shown.CALL_ID)).toEqual([
      { userId: 3, callId: shown.CALL_ID, phoneNumber: CONTACT_PHONE },
    ]);
    expect(await callView(t, shown.CALL_ID)).toMatchObject({ shown: true });
    // SHOW=1 explicitly: the same.
    const explicit = await registerOk(t, { ...call, SHOW: 1, EXTERNAL_CALL_ID: 'explicit' });
    expect((await cards(t)).filter((c) => c.callId === explicit.CALL_ID).map((c) => c.userId)).toEqual([3]);
    // The SHOW=0 call is live all the same: show works on it.
    const show = await t.call('telephony.externalCall.show', { CALL_ID: hidden.CALL_ID });
    expectOk(show);
    expect(show.body.result).toBe(true);
    expect((await cards(t)).filter((c) => c.callId === hidden.CALL_ID).map((c) => c.userId)).toEqual([3]);
  });

  it('§9.13 identical register within 30 min → same CALL_ID; new EXTERNAL_CALL_ID or after finish → new', async () => {
    const params = {
      USER_ID: 2,
      PHONE_NUMBER: '+79990000004',
      TYPE: 2,
      LINE_NUMBER: 'line-1',
      EXTERNAL_CALL_ID: 'pbx-1',
      CRM_CREATE: 1,
    };
    const first = await registerOk(t, params);
    const leadsAfterFirst = (await leads(t)).length;
    const again = await registerOk(t, params);
    expect(again.CALL_ID).toBe(first.CALL_ID);
    // Nothing new is created: no second call, no second lead; the card is shown again.
    expect((await calls(t)).length).toBe(1);
    expect((await leads(t)).length).toBe(leadsAfterFirst);
    const log = (await t.inspect<CardView[]>('card-log')).body;
    expect(log.filter((e) => e.callId === first.CALL_ID && e.action === 'show').length).toBe(2);
    // Still within the 30 minutes.
    t.emulator.portal.clock.advance(29 * 60_000);
    expect((await registerOk(t, params)).CALL_ID).toBe(first.CALL_ID);
    // The same parameters spelled differently: numeric strings, letters in the number (stripped).
    const spelled = { ...params, USER_ID: '2', TYPE: '2', PHONE_NUMBER: 'tel+79990000004' };
    expect((await registerOk(t, spelled)).CALL_ID).toBe(first.CALL_ID);
    expect((await calls(t)).length).toBe(1);

    // Another EXTERNAL_CALL_ID → another call.
    const other = await registerOk(t, { ...params, EXTERNAL_CALL_ID: 'pbx-2' });
    expect(other.CALL_ID).not.toBe(first.CALL_ID);
    expect((await calls(t)).length).toBe(2);

    // After finish the same parameters give a new call.
    expectOk(await t.call(FINISH, { CALL_ID: first.CALL_ID, USER_ID: 2, DURATION: 10 }));
    const afterFinish = await registerOk(t, params);
    expect(afterFinish.CALL_ID).not.toBe(first.CALL_ID);
    expect(afterFinish.CALL_ID).not.toBe(other.CALL_ID);

    // Past the 30-minute window: a new call too.
    t.emulator.portal.clock.advance(31 * 60_000);
    const token = await renewToken(t); // the first token's hour is over; the app is the same
    const late = await registerOk(t, params, token);
    expect(late.CALL_ID).not.toBe(afterFinish.CALL_ID);

    // Deduplication is scoped to the calling application.
    const second = await t.install({ clientId: 'local.test.2', clientSecret: 's2' });
    const otherApp = await registerOk(t, params, second.accessToken);
    expect(otherApp.CALL_ID).not.toBe(late.CALL_ID);
    expect((await registerOk(t, params, second.accessToken)).CALL_ID).toBe(otherApp.CALL_ID);
    expect((await registerOk(t, params, token)).CALL_ID).toBe(late.CALL_ID);
    // Each other part of the key makes a new call: user, number, TYPE, line.
    const variants = [
      { ...params, USER_ID: 3 },
      { ...params, PHONE_NUMBER: '+79990000005' },
      { ...params, TYPE: 3 },
      { ...params, LINE_NUMBER: 'line-2' },
    ];
    const ids = new Set([late.CALL_ID]);
    for (const v of variants) ids.add((await registerOk(t, v, token)).CALL_ID);
    expect(ids.size).toBe(variants.length + 1);
  });

  it('§9.14 changing only CRM_ENTITY_ID or CALL_START_DATE does not defeat deduplication', async () => {
    const params = {
      USER_ID: 3,
      PHONE_NUMBER: CONTACT_PHONE,
      TYPE: 2,
      LINE_NUMBER: 'line-1',
      EXTERNAL_CALL_ID: 'pbx-14',
      CRM_ENTITY_TYPE: 'CONTACT',
      CRM_ENTITY_ID: 1,
      CALL_START_DATE: '2026-03-07T10:20:30+03:00',
      SHOW: 0,
    };
    const first = await registerOk(t, params);
    const byEntity = await registerOk(t, { ...params, CRM_ENTITY_ID: 2 });
    expect(byEntity.CALL_ID).toBe(first.CALL_ID);
    const byDate = await registerOk(t, { ...params, CALL_START_DATE: '2026-03-07T10:25:00+03:00' });
    expect(byDate.CALL_ID).toBe(first.CALL_ID);
    const both = await registerOk(t, {
      ...params,
      CRM_ENTITY_ID: 7,
      CALL_START_DATE: '2026-03-08T09:00:00+03:00',
    });
    expect(both.CALL_ID).toBe(first.CALL_ID);
    const omitted = await registerOk(t, {
      USER_ID: 3,
      PHONE_NUMBER: CONTACT_PHONE,
      TYPE: 2,
      LINE_NUMBER: 'line-1',
      EXTERNAL_CALL_ID: 'pbx-14',
      SHOW: 0,
    });
    expect(omitted.CALL_ID).toBe(first.CALL_ID);
    expect((await calls(t)).length).toBe(1);
  });

  it('§9.15 a number of an existing contact → CONTACT, its id, no lead even with CRM_CREATE=1', async () => {
    const before = (await leads(t)).length;
    const r = await registerOk(t, {
      USER_ID: 2,
      PHONE_NUMBER: CONTACT_PHONE,
      TYPE: 2,
      CRM_CREATE: 1,
      SHOW: 0,
    });
    expect(r).toMatchObject({
      CRM_ENTITY_TYPE: 'CONTACT',
      CRM_ENTITY_ID: 1,
      CRM_CREATED_LEAD: null,
      CRM_CREATED_ENTITIES: [],
    });
    // The same subscriber written differently (spaces, dashes) matches the same contact.
    const spaced = await registerOk(t, {
      USER_ID: 2,
      PHONE_NUMBER: '+7 916 123-45-67',
      TYPE: 2,
      CRM_CREATE: 1,
      SHOW: 0,
    });
    expect(spaced).toMatchObject({ CRM_ENTITY_TYPE: 'CONTACT', CRM_ENTITY_ID: 1, CRM_CREATED_LEAD: null });
    expect((await leads(t)).length).toBe(before);
    expect(await callView(t, r.CALL_ID)).toMatchObject({
      crmEntityType: 'CONTACT',
      crmEntityId: 1,
      crmCreatedLead: null,
    });
    // The contact keeps its responsible (3), not the registering user.
    const contact = await t.call('crm.contact.get', { id: 1 });
    expect(contact.body.result).toMatchObject({ ID: '1', ASSIGNED_BY_ID: '3' });
  });

  it('§9.16 unknown number: CRM_CREATE=1 creates exactly one lead; omitted/0 creates nothing', async () => {
    const before = await leads(t);
    const phone = '+79990000016';
    const r = await registerOk(t, {
      USER_ID: 4,
      PHONE_NUMBER: phone,
      TYPE: 2,
      CRM_CREATE: 1,
      CRM_SOURCE: 'WEB',
      SHOW: 0,
    });
    const leadId = r.CRM_CREATED_LEAD;
    expect(Number.isInteger(leadId)).toBe(true);
    expect(r).toMatchObject({
      CRM_CREATED_ENTITIES: [{ ENTITY_TYPE: 'LEAD', ENTITY_ID: leadId }],
      CRM_ENTITY_TYPE: 'LEAD',
      CRM_ENTITY_ID: leadId,
    });
    const after = await leads(t);
    expect(after.length).toBe(before.length + 1);
    expect(after.filter((l) => l.phones.some((p) => p.value === phone)).map((l) => l.id)).toEqual([leadId]);
    // Responsible = USER_ID, SOURCE_ID = CRM_SOURCE, the number on the lead (through REST).
    const lead = await t.call('crm.lead.get', { id: leadId });
    expectOk(lead);
    const fields = lead.body.result as {
      ID: string;
      ASSIGNED_BY_ID: string;
      SOURCE_ID: string;
      PHONE: { VALUE: string }[];
    };
    expect(fields).toMatchObject({ ID: String(leadId), ASSIGNED_BY_ID: '4', SOURCE_ID: 'WEB' });
    expect(fields.PHONE.map((p) => p.VALUE)).toEqual([phone]);

    // CRM_CREATE omitted or 0 ("0" too): nothing is created, no entity reported.
    const nothing = {
      CRM_CREATED_LEAD: null,
      CRM_CREATED_ENTITIES: [],
      CRM_ENTITY_TYPE: '',
      CRM_ENTITY_ID: null,
    };
    const omitted = await registerOk(t, { USER_ID: 4, PHONE_NUMBER: '+79990000017', TYPE: 2, SHOW: 0 });
    expect(omitted).toMatchObject(nothing);
    const zero = await registerOk(t, {
      USER_ID: 4,
      PHONE_NUMBER: '+79990000018',
      TYPE: 2,
      CRM_CREATE: 0,
      SHOW: 0,
    });
    expect(zero).toMatchObject(nothing);
    const zeroText = await registerOk(t, {
      USER_ID: 4,
      PHONE_NUMBER: '+79990000019',
      TYPE: 2,
      CRM_CREATE: '0',
      SHOW: 0,
    });
    expect(zeroText).toMatchObject(nothing);
    expect((await leads(t)).length).toBe(before.length + 1);
  });

  it("§9.17 PHONE_NUMBER equal to an active user's UF_PHONE_INNER never creates a lead", async () => {
    const before = (await leads(t)).length;
    const internal = await registerOk(t, {
      USER_ID: 2,
      PHONE_NUMBER: '102', // Boris's extension
      TYPE: 1,
      CRM_CREATE: 1,
      SHOW: 0,
    });
    expect(internal).toMatchObject({
      CRM_CREATED_LEAD: null,
      CRM_CREATED_ENTITIES: [],
      CRM_ENTITY_TYPE: '',
      CRM_ENTITY_ID: null,
    });
    const incoming = await registerOk(t, {
      USER_ID: 3,
      PHONE_NUMBER: '101',
      TYPE: 2,
      CRM_CREATE: 1,
      SHOW: 0,
    });
    expect(incoming.CRM_CREATED_LEAD).toBeNull();
    expect((await leads(t)).length).toBe(before);
    // The extension of a deactivated user (Dmitri, 104) is not internal: the lead is created.
    const fired = await registerOk(t, { USER_ID: 2, PHONE_NUMBER: '104', TYPE: 2, CRM_CREATE: 1, SHOW: 0 });
    expect(Number.isInteger(fired.CRM_CREATED_LEAD)).toBe(true);
    expect((await leads(t)).length).toBe(before + 1);
  });

  it('§9.18 explicit CRM_ENTITY_TYPE + CRM_ENTITY_ID is the primary entity; no phone search', async () => {
    const before = (await leads(t)).length;
    // The contact's number, bound explicitly to the company: the company wins.
    const company = await registerOk(t, {
      USER_ID: 2,
      PHONE_NUMBER: CONTACT_PHONE,
      TYPE: 2,
      CRM_ENTITY_TYPE: 'COMPANY',
      CRM_ENTITY_ID: 1,
      SHOW: 0,
    });
    expect(company).toMatchObject({
      CRM_ENTITY_TYPE: 'COMPANY',
      CRM_ENTITY_ID: 1,
      CRM_CREATED_LEAD: null,
      CRM_CREATED_ENTITIES: [],
    });
    // An unknown number bound to the seed lead: that lead, and no lead created despite CRM_CREATE=1.
    const lead = await registerOk(t, {
      USER_ID: 2,
      PHONE_NUMBER: UNKNOWN_PHONE,
      TYPE: 2,
      CRM_ENTITY_TYPE: 'LEAD',
      CRM_ENTITY_ID: '1',
      CRM_CREATE: 1,
      SHOW: 0,
    });
    expect(lead).toMatchObject({
      CRM_ENTITY_TYPE: 'LEAD',
      CRM_ENTITY_ID: 1,
      CRM_CREATED_LEAD: null,
      CRM_CREATED_ENTITIES: [],
    });
    // The company's number bound to the contact.
    const contact = await registerOk(t, {
      USER_ID: 2,
      PHONE_NUMBER: COMPANY_PHONE,
      TYPE: 2,
      CRM_ENTITY_TYPE: 'CONTACT',
      CRM_ENTITY_ID: 1,
      SHOW: 0,
    });
    expect(contact).toMatchObject({ CRM_ENTITY_TYPE: 'CONTACT', CRM_ENTITY_ID: 1 });
    expect((await leads(t)).length).toBe(before);
    expect(await callView(t, company.CALL_ID)).toMatchObject({ crmEntityType: 'COMPANY', crmEntityId: 1 });
    // CRM_ENTITY_TYPE without CRM_ENTITY_ID is ignored: the phone search applies.
    const typeOnly = await registerOk(t, {
      USER_ID: 3,
      PHONE_NUMBER: CONTACT_PHONE,
      TYPE: 2,
      CRM_ENTITY_TYPE: 'COMPANY',
      SHOW: 0,
    });
    expect(typeOnly).toMatchObject({ CRM_ENTITY_TYPE: 'CONTACT', CRM_ENTITY_ID: 1 });
  });

  it('§9.19 register with an unknown LINE_NUMBER silently creates that line for the app', async () => {
    const linesOf = async (token?: string): Promise<LineView[]> => {
      const res = await t.call('telephony.externalLine.get', {}, token);
      expectOk(res);
      return res.body.result as LineView[];
    };
    expect(await linesOf()).toEqual([]);
    await registerOk(t, {
      USER_ID: 2,
      PHONE_NUMBER: UNKNOWN_PHONE,
      TYPE: 2,
      LINE_NUMBER: 'new-line',
      SHOW: 0,
    });
    const lines = await linesOf();
    expect(lines.map((l) => l.NUMBER)).toEqual(['new-line']);
    expect(Object.keys(lines[0] ?? {}).sort()).toEqual(['CRM_AUTO_CREATE', 'NAME', 'NUMBER']);
    // Reusing it creates nothing more; the number is trimmed and cut to 50 characters.
    await registerOk(t, {
      USER_ID: 3,
      PHONE_NUMBER: UNKNOWN_PHONE,
      TYPE: 1,
      LINE_NUMBER: 'new-line',
      SHOW: 0,
    });
    await registerOk(t, {
      USER_ID: 2,
      PHONE_NUMBER: UNKNOWN_PHONE,
      TYPE: 2,
      LINE_NUMBER: '  padded  ',
      SHOW: 0,
    });
    const long = 'L'.repeat(60);
    await registerOk(t, { USER_ID: 2, PHONE_NUMBER: UNKNOWN_PHONE, TYPE: 2, LINE_NUMBER: long, SHOW: 0 });
    expect((await linesOf()).map((l) => l.NUMBER)).toEqual(['new-line', 'padded', 'L'.repeat(50)]);
    // Lines belong to the app: another app does not see them, and gets its own on register.
    const second = await t.install({ clientId: 'local.test.2', clientSecret: 's2' });
    expect(await linesOf(second.accessToken)).toEqual([]);
    await registerOk(
      t,
      { USER_ID: 2, PHONE_NUMBER: UNKNOWN_PHONE, TYPE: 2, LINE_NUMBER: 'new-line', SHOW: 0 },
      second.accessToken,
    );
    expect((await linesOf(second.accessToken)).map((l) => l.NUMBER)).toEqual(['new-line']);
    expect((await linesOf()).length).toBe(3);
  });

  it('§9.20 register/finish/externalLine.* via a webhook → 403 WRONG_AUTH_TYPE (default), allowed by setting', async () => {
    const wrongAuth = [
      403,
      'WRONG_AUTH_TYPE',
      'Current authorization type is denied for this method',
    ] as const;
    const settings = await t.inspect<{ webhookTelephony: string }>('settings');
    expect(settings.body.webhookTelephony).toBe('reject');
    // A live call registered by the app, for finish.
    const live = await registerOk(t, { USER_ID: 2, PHONE_NUMBER: CONTACT_PHONE, TYPE: 2, SHOW: 0 });
    expectOk(await t.call('telephony.externalLine.add', { NUMBER: 'app-line' }));

    const appOnly: [string, Json][] = [
      [REGISTER, { USER_ID: 2, PHONE_NUMBER: UNKNOWN_PHONE, TYPE: 2 }],
      [REGISTER, {}], // the auth type is checked before any parameter
      [FINISH, { CALL_ID: live.CALL_ID, USER_ID: 2, DURATION: 5 }],
      ['telephony.externalLine.add', { NUMBER: 'hook-line' }],
      ['telephony.externalLine.update', { NUMBER: 'app-line', NAME: 'x' }],
      ['telephony.externalLine.delete', { NUMBER: 'app-line' }],
      ['telephony.externalLine.get', {}],
    ];
    for (const [method, params] of appOnly) expectError(await t.webhook(method, params), ...wrongAuth);
    // Form-encoded and with the .json suffix too.
    expectError(
      await postForm(hook(`${REGISTER}.json`), [
        ['USER_ID', '2'],
        ['PHONE_NUMBER', UNKNOWN_PHONE],
        ['TYPE', '2'],
      ]),
      ...wrongAuth,
    );
    // Inside a batch the command fails with the same error.
    const batch = await t.webhook('batch', {
      cmd: { reg: `telephony.externalCall.register?USER_ID=2&PHONE_NUMBER=79990000001&TYPE=2` },
    });
    expectOk(batch);
    expect((batch.body.result as { result_error: Json }).result_error).toEqual({
      reg: { error: wrongAuth[1], error_description: wrongAuth[2] },
    });
    // Nothing happened: the live call is still live, no call or line was added.
    expect(await calls(t)).toHaveLength(1);
    expect(await callView(t, live.CALL_ID)).toMatchObject({ finished: false });
    const appLines = await t.call('telephony.externalLine.get');
    expect(appLines.body.result).toEqual([{ NUMBER: 'app-line', NAME: '', CRM_AUTO_CREATE: 'Y' }]);
    // show/hide/searchCrmEntities have no auth-type check.
    const show = await t.webhook('telephony.externalCall.show', { CALL_ID: live.CALL_ID, USER_ID: 2 });
    expectOk(show);
    expect(show.body.result).toBe(true);
    const hide = await t.webhook('telephony.externalCall.hide', { CALL_ID: live.CALL_ID, USER_ID: 2 });
    expectOk(hide);
    expect(hide.body.result).toBe(true);
    const search = await t.webhook('telephony.externalCall.searchCrmEntities', {
      PHONE_NUMBER: CONTACT_PHONE,
    });
    expectOk(search);
    expect(search.body.result).toMatchObject([{ CRM_ENTITY_TYPE: 'CONTACT', CRM_ENTITY_ID: 1 }]);

    // webhookTelephony: "allow" → the webhook may use them.
    const allowed = await t.inspect<{ webhookTelephony: string }>('settings', {
      body: { webhookTelephony: 'allow' },
    });
    expect(allowed.body.webhookTelephony).toBe('allow');
    const reg = await t.webhook(REGISTER, { USER_ID: 2, PHONE_NUMBER: UNKNOWN_PHONE, TYPE: 2, SHOW: 0 });
    expectOk(reg);
    const hookCall = (reg.body.result as RegisterResult).CALL_ID;
    expect(hookCall).toMatch(/^externalCall\.[0-9a-f]{32}\.\d+$/);
    const fin = await t.webhook(FINISH, { CALL_ID: hookCall, USER_ID: 2, DURATION: 5 });
    expectOk(fin);
    expect(fin.body.result).toMatchObject({ CALL_ID: hookCall, CALL_DURATION: 5 });
    const add = await t.webhook('telephony.externalLine.add', { NUMBER: 'hook-line' });
    expectOk(add);
    expect(Number.isInteger((add.body.result as Json).ID)).toBe(true);
    expectOk(await t.webhook('telephony.externalLine.update', { NUMBER: 'hook-line', NAME: 'Hook' }));
    const hookLines = await t.webhook('telephony.externalLine.get');
    expectOk(hookLines);
    expect(hookLines.body.result).toEqual([{ NUMBER: 'hook-line', NAME: 'Hook', CRM_AUTO_CREATE: 'Y' }]);
    const del = await t.webhook('telephony.externalLine.delete', { NUMBER: 'hook-line' });
    expectOk(del);
    expect(del.body.result).toEqual([]);
  });
});

/**
 * Spec §9 "Emulator fidelity checklist", items 21–41, written from emulator/docs/bitrix24-rest.md.
 * One test per item; every clause of an item is asserted with exact statuses, codes and texts.
 */
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeForm, type Param } from 'b24-emulator';
import {
  startReceiver,
  startTestPortal,
  type InstalledApp,
  type CallView,
  type ReceivedPost,
  type RegisterResult,
  type RestAnswer,
  type TestPortal,
} from './helpers.ts';

type Json = Record<string, unknown>;

interface DeliveryView {
  event: string;
  handler: string;
  appId: number;
  status: number | null;
  error: string | null;
}

interface LineView {
  NUMBER: string;
  NAME: string;
  CRM_AUTO_CREATE: string;
}

interface BatchBody {
  result: {
    result: Json | unknown[];
    result_error: Json | unknown[];
    result_total: Json | unknown[];
    result_next: Json | unknown[];
    result_time: Json | unknown[];
  };
  time: Json;
}

const TIMEMAN_STATUSES = ['OPENED', 'CLOSED', 'PAUSED', 'EXPIRED', 'UNAVAILABLE', 'NOT_INSTALLED'];
const CALL_NOT_FOUND = 'Call is not found (call should be registered prior to finishing';
const NOT_IN_STATISTICS = 'Call is not found in the statistic table. Looks like it is not finished yet.';

let counter = 0;
/** A client number no seed entity has (seed numbers end in 9161234567, 4951112233, 9031112233). */
const freshNumber = (): string => `+7999${String(++counter).padStart(7, '0')}`;
const externalId = (): string => `pbx-${++counter}`;

/** The error envelope, exactly: status, `error` and `error_description` and nothing else (spec §1.4). */
function expectError(a: RestAnswer, status: number, error: string, description: string): void {
  expect(a.status).toBe(status);
  expect(a.body).toEqual({ error, error_description: description });
}

/** A successful answer (HTTP 200 with a `time` object); returns its `result`. */
function resultOf<T = unknown>(a: RestAnswer): T {
  expect(a.status, JSON.stringify(a.body)).toBe(200);
  expect(a.body).toHaveProperty('time');
  expect(a.body).not.toHaveProperty('error');
  return a.body.result as T;
}

const asRecord = (v: Param | undefined): Record<string, Param> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {};

/** A form value that must be a plain string (everything in a form-encoded POST is). */
function str(v: Param | undefined): string {
  if (typeof v !== 'string') throw new Error(`expected a string form value, got ${JSON.stringify(v)}`);
  return v;
}

/** `data[...]` of an event POST. */
const dataOf = (p: ReceivedPost): Record<string, Param> => asRecord(p.form.data);
const authOf = (p: ReceivedPost): Record<string, Param> => asRecord(p.form.auth);

/** A loopback server standing in for the PBX's recording storage: /rec.wav answers, the rest is 404. */
async function startRecordingServer(body: Buffer): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.url === '/rec.wav') {
      res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': String(body.length) });
      res.end(body);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A tiny but well-formed 8 kHz mono 16-bit WAV file. */
function wavFile(samples = 800): Buffer {
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) data.writeInt16LE(Math.round(Math.sin(i / 4) * 8000), i * 2);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(16000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('fidelity checklist §9 (21–41)', () => {
  let p: TestPortal;

  beforeAll(async () => {
    p = await startTestPortal();
  });
  afterAll(() => p.close());

  /** POST form-encoded with bracket notation, as PHP clients do. */
  const form = async (method: string, params: Json, token = p.token): Promise<RestAnswer> => {
    const res = await fetch(`${p.url}/rest/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: encodeForm({ ...params, auth: token }),
    });
    return { status: res.status, body: (await res.json()) as Json };
  };

  /** register with test defaults (USER_ID 3, incoming, no card, a unique EXTERNAL_CALL_ID). */
  const register = async (params: Json, token = p.token): Promise<RegisterResult> =>
    resultOf<RegisterResult>(
      await p.call(
        'telephony.externalCall.register',
        { USER_ID: 3, TYPE: 2, SHOW: 0, EXTERNAL_CALL_ID: externalId(), ...params },
        token,
      ),
    );

  const finish = async (CALL_ID: string, params: Json = {}, token = p.token): Promise<Json> =>
    resultOf<Json>(await p.call('telephony.externalCall.finish', { CALL_ID, USER_ID: 3, ...params }, token));

  const calls = async (): Promise<CallView[]> => (await p.inspect<CallView[]>('calls')).body;
  const callView = async (callId: string): Promise<CallView> => {
    const found = (await calls()).find((c) => c.callId === callId);
    if (!found) throw new Error(`call ${callId} is not in /_emulator/calls`);
    return found;
  };
  /** Users who currently see the call's card, ascending. */
  const cardUsers = async (callId: string): Promise<number[]> =>
    (await p.inspect<{ userId: number; callId: string }[]>('cards')).body
      .filter((c) => c.callId === callId)
      .map((c) => c.userId)
      .sort((a, b) => a - b);

  it('§9.21 show/hide: false (HTTP 200) for an unknown or finished CALL_ID, true on a live call; USER_ID scalar or array, default the registered user', async () => {
    const unknown = 'externalCall.0123456789abcdef0123456789abcdef.1773130779';
    for (const method of ['show', 'hide']) {
      const a = await p.call(`telephony.externalCall.${method}`, { CALL_ID: unknown, USER_ID: 3 });
      expect(resultOf(a)).toBe(false);
      expect(resultOf(await p.call(`telephony.externalCall.${method}`, { CALL_ID: 'garbage' }))).toBe(false);
    }

    const { CALL_ID } = await register({ USER_ID: 3, PHONE_NUMBER: freshNumber(), SHOW: 0 });
    expect(await cardUsers(CALL_ID)).toEqual([]);
    // USER_ID omitted → the registered user.
    expect(resultOf(await p.call('telephony.externalCall.show', { CALL_ID }))).toBe(true);
    expect(await cardUsers(CALL_ID)).toEqual([3]);
    // An array (JSON).
    expect(resultOf(await p.call('telephony.externalCall.show', { CALL_ID, USER_ID: [2, 4] }))).toBe(true);
    expect(await cardUsers(CALL_ID)).toEqual([2, 3, 4]);
    // A scalar.
    expect(resultOf(await p.call('telephony.externalCall.hide', { CALL_ID, USER_ID: 2 }))).toBe(true);
    expect(await cardUsers(CALL_ID)).toEqual([3, 4]);
    // An array, form-encoded (USER_ID[]=4): strings arrive, numbers are meant.
    expect(resultOf(await form('telephony.externalCall.hide', { CALL_ID, USER_ID: [4] }))).toBe(true);
    expect(await cardUsers(CALL_ID)).toEqual([3]);
    // hide with USER_ID omitted → the registered user.
    expect(resultOf(await p.call('telephony.externalCall.hide', { CALL_ID }))).toBe(true);
    expect(await cardUsers(CALL_ID)).toEqual([]);
    // show/hide have no auth-type check (spec §2.0): an incoming webhook may call them too.
    expect(resultOf(await p.webhook('telephony.externalCall.show', { CALL_ID, USER_ID: 4 }))).toBe(true);
    expect(await cardUsers(CALL_ID)).toEqual([4]);
    expect(resultOf(await p.webhook('telephony.externalCall.hide', { CALL_ID, USER_ID: [4] }))).toBe(true);
    expect(await cardUsers(CALL_ID)).toEqual([]);
    // A scalar as a numeric string.
    expect(resultOf(await form('telephony.externalCall.show', { CALL_ID, USER_ID: '2' }))).toBe(true);
    expect(await cardUsers(CALL_ID)).toEqual([2]);

    await finish(CALL_ID, { USER_ID: 3 });
    const logBefore = (await p.inspect<unknown[]>('card-log')).body.length;
    expect(resultOf(await p.call('telephony.externalCall.show', { CALL_ID, USER_ID: 4 }))).toBe(false);
    expect(resultOf(await p.call('telephony.externalCall.hide', { CALL_ID, USER_ID: 2 }))).toBe(false);
    expect(resultOf(await p.call('telephony.externalCall.show', { CALL_ID }))).toBe(false);
    // Nothing was dispatched for the finished call.
    expect((await p.inspect<unknown[]>('card-log')).body.length).toBe(logBefore);
    expect(await cardUsers(CALL_ID)).not.toContain(4);
  });

  it('§9.22 finish with CALL_ID sent as a JSON number → 400 INVALID_ARGUMENT "CALL_ID must be a string"', async () => {
    const { CALL_ID } = await register({ PHONE_NUMBER: freshNumber() });
    expectError(
      await p.call('telephony.externalCall.finish', { CALL_ID: 1773130779, USER_ID: 3, DURATION: 5 }),
      400,
      'INVALID_ARGUMENT',
      'CALL_ID must be a string',
    );
    // A missing CALL_ID is "not a string" too (spec §2.4 errors).
    expectError(
      await p.call('telephony.externalCall.finish', { USER_ID: 3, DURATION: 5 }),
      400,
      'INVALID_ARGUMENT',
      'CALL_ID must be a string',
    );
    // Form-encoded, every value is a string (spec §1.2): a numeric CALL_ID passes the type check.
    expectError(
      await form('telephony.externalCall.finish', { CALL_ID: 1773130779, USER_ID: 3 }),
      400,
      'ERROR_CORE',
      CALL_NOT_FOUND,
    );
    // The refused finish touched nothing: the call is still live and finishes normally.
    expect((await callView(CALL_ID)).finished).toBe(false);
    expect(await finish(CALL_ID, { DURATION: 5 })).toMatchObject({ CALL_ID, CALL_DURATION: 5 });
  });

  it('§9.23 finish of an unknown or already finished CALL_ID → ERROR_CORE Call is not found', async () => {
    expectError(
      await p.call('telephony.externalCall.finish', {
        CALL_ID: 'externalCall.0123456789abcdef0123456789abcdef.1773130779',
        USER_ID: 3,
      }),
      400,
      'ERROR_CORE',
      CALL_NOT_FOUND,
    );
    const { CALL_ID } = await register({ PHONE_NUMBER: freshNumber() });
    await finish(CALL_ID, { DURATION: 10 });
    const again = await p.call('telephony.externalCall.finish', { CALL_ID, USER_ID: 3, DURATION: 10 });
    expectError(again, 400, 'ERROR_CORE', CALL_NOT_FOUND);
    // Still the same on a third try, and by another user.
    expectError(
      await p.call('telephony.externalCall.finish', { CALL_ID, USER_ID: 4 }),
      400,
      'ERROR_CORE',
      CALL_NOT_FOUND,
    );
  });

  it('§9.24 finish without STATUS_CODE: CALL_FAILED_CODE "200" iff DURATION>0 else "304"; CALL_STATUS is 1 iff DURATION>0 regardless of STATUS_CODE', async () => {
    const cases: { params: Json; code: string; status: number; duration: number }[] = [
      { params: { DURATION: 30 }, code: '200', status: 1, duration: 30 },
      { params: { DURATION: '45' }, code: '200', status: 1, duration: 45 },
      { params: { DURATION: 0 }, code: '304', status: 0, duration: 0 },
      { params: {}, code: '304', status: 0, duration: 0 },
      { params: { DURATION: 12, STATUS_CODE: '486' }, code: '486', status: 1, duration: 12 },
      { params: { DURATION: 0, STATUS_CODE: '200' }, code: '200', status: 0, duration: 0 },
      { params: { DURATION: 7, STATUS_CODE: '603-S' }, code: '603-S', status: 1, duration: 7 },
    ];
    for (const c of cases) {
      const { CALL_ID } = await register({ PHONE_NUMBER: freshNumber() });
      const result = await finish(CALL_ID, c.params);
      expect(result, JSON.stringify(c.params)).toMatchObject({
        CALL_FAILED_CODE: c.code,
        CALL_STATUS: c.status,
        CALL_DURATION: c.duration,
      });
    }
  });

  it('§9.25 finish returns INCOMING as the string TYPE, PORTAL_NUMBER = line (or REST_APP:<appId>), EXTERNAL_CALL_ID echoed or null, CALL_VOTE 0, COST_CURRENCY ""', async () => {
    const phone = freshNumber();
    const { CALL_ID } = await register({
      PHONE_NUMBER: phone,
      TYPE: 2,
      LINE_NUMBER: 'line-25',
      EXTERNAL_CALL_ID: 'asterisk-1773130778.25',
    });
    const result = await finish(CALL_ID, { USER_ID: 4, DURATION: 95 });
    expect(Object.keys(result).sort()).toEqual(
      [
        'ID',
        'CALL_ID',
        'EXTERNAL_CALL_ID',
        'PORTAL_USER_ID',
        'PHONE_NUMBER',
        'PORTAL_NUMBER',
        'INCOMING',
        'CALL_DURATION',
        'CALL_START_DATE',
        'CALL_STATUS',
        'CALL_VOTE',
        'COST',
        'COST_CURRENCY',
        'CALL_FAILED_CODE',
        'CALL_FAILED_REASON',
        'REST_APP_ID',
        'REST_APP_NAME',
        'CRM_ACTIVITY_ID',
        'COMMENT',
        'ERRORS',
      ].sort(),
    );
    expect(result).toMatchObject({
      CALL_ID,
      EXTERNAL_CALL_ID: 'asterisk-1773130778.25',
      PORTAL_USER_ID: 4,
      PHONE_NUMBER: phone,
      PORTAL_NUMBER: 'line-25',
      INCOMING: '2',
      CALL_DURATION: 95,
      CALL_STATUS: 1,
      CALL_VOTE: 0,
      COST: 0,
      COST_CURRENCY: '',
      CALL_FAILED_CODE: '200',
      CALL_FAILED_REASON: '',
      COMMENT: null,
    });
    expect(Number.isInteger(result.ID)).toBe(true);
    expect(typeof result.REST_APP_NAME).toBe('string');

    // Every TYPE comes back as a string; without a line PORTAL_NUMBER is REST_APP:<appId>;
    // without EXTERNAL_CALL_ID it is null.
    for (const type of [1, 2, 3, 4, 5]) {
      const reg = await register({ PHONE_NUMBER: freshNumber(), TYPE: type, EXTERNAL_CALL_ID: undefined });
      const fin = await finish(reg.CALL_ID, { DURATION: 3 });
      const appId = fin.REST_APP_ID;
      expect(typeof appId === 'string' || typeof appId === 'number').toBe(true);
      expect(fin).toMatchObject({
        INCOMING: String(type),
        PORTAL_NUMBER: `REST_APP:${String(appId)}`,
        EXTERNAL_CALL_ID: null,
        CALL_VOTE: 0,
        COST_CURRENCY: '',
      });
      expect(String(appId)).toMatch(/^\d+$/);
    }

    // Given values are echoed.
    const voted = await register({ PHONE_NUMBER: freshNumber() });
    expect(
      await finish(voted.CALL_ID, { DURATION: 10, VOTE: 4, COST: 1.5, COST_CURRENCY: 'EUR' }),
    ).toMatchObject({ CALL_VOTE: 4, COST: 1.5, COST_CURRENCY: 'EUR' });
  });

  it('§9.26 finish on a CRM-bound call creates a VOXIMPLANT_CALL activity (ORIGIN_ID VI_<CALL_ID>, responsible = finishing user); unbound: CRM_ACTIVITY_ID null + ERRORS.ACTIVITY_CREATION', async () => {
    // Bound by phone: contact 1.
    const { CALL_ID } = await register({ USER_ID: 3, PHONE_NUMBER: '+79161234567' });
    const result = await finish(CALL_ID, { USER_ID: 4, DURATION: 20 });
    expect(result).toMatchObject({ CRM_ENTITY_TYPE: 'CONTACT', CRM_ENTITY_ID: 1 });
    expect(result).not.toHaveProperty('ERRORS');
    const activityId = result.CRM_ACTIVITY_ID;
    expect(Number.isInteger(activityId)).toBe(true);
    const activity = resultOf<Json>(await p.call('crm.activity.get', { id: activityId }));
    expect(activity).toMatchObject({
      ID: String(activityId),
      TYPE_ID: '2',
      PROVIDER_ID: 'VOXIMPLANT_CALL',
      ORIGIN_ID: `VI_${CALL_ID}`,
      RESPONSIBLE_ID: '4',
      OWNER_TYPE_ID: '3',
      OWNER_ID: '1',
      DIRECTION: '1',
      COMPLETED: 'Y',
    });
    // Also found by ORIGIN_ID (spec §6.3).
    const listed = await p.call('crm.activity.list', { filter: { ORIGIN_ID: `VI_${CALL_ID}` } });
    expect(resultOf<Json[]>(listed).map((a) => a.ID)).toEqual([String(activityId)]);

    // Bound explicitly: company 1 for a number nobody has.
    const explicit = await register({
      USER_ID: 2,
      PHONE_NUMBER: freshNumber(),
      CRM_ENTITY_TYPE: 'COMPANY',
      CRM_ENTITY_ID: 1,
    });
    const explicitFin = await finish(explicit.CALL_ID, { USER_ID: 2, DURATION: 8 });
    expect(explicitFin).toMatchObject({ CRM_ENTITY_TYPE: 'COMPANY', CRM_ENTITY_ID: 1 });
    const explicitActivity = resultOf<Json>(
      await p.call('crm.activity.get', { id: explicitFin.CRM_ACTIVITY_ID }),
    );
    expect(explicitActivity).toMatchObject({
      PROVIDER_ID: 'VOXIMPLANT_CALL',
      ORIGIN_ID: `VI_${explicit.CALL_ID}`,
      RESPONSIBLE_ID: '2',
      OWNER_TYPE_ID: '4',
      OWNER_ID: '1',
    });

    // No CRM binding: nothing matches the number and no lead was created.
    const unbound = await register({ PHONE_NUMBER: freshNumber(), CRM_CREATE: 0 });
    expect(unbound.CRM_ENTITY_TYPE).toBe('');
    const unboundFin = await finish(unbound.CALL_ID, { DURATION: 15 });
    expect(unboundFin.CRM_ACTIVITY_ID).toBeNull();
    expect(unboundFin.ERRORS).toEqual({
      ACTIVITY_CREATION: 'Could not find associated crm entity for the current call',
    });
    expect(unboundFin).not.toHaveProperty('CRM_ENTITY_TYPE');
    expect(unboundFin).not.toHaveProperty('CRM_ENTITY_ID');
  });

  it('§9.27 finish hands a lead auto-created at registration to the finishing user; pre-existing entities keep their responsible', async () => {
    const assigned = async (method: string, id: number): Promise<unknown> =>
      resultOf<Json>(await p.call(method, { id })).ASSIGNED_BY_ID;

    // A lead created by this call: registered by 2, finished by 4.
    const phone = freshNumber();
    const created = await register({ USER_ID: 2, PHONE_NUMBER: phone, CRM_CREATE: 1 });
    const leadId = created.CRM_CREATED_LEAD;
    expect(Number.isInteger(leadId)).toBe(true);
    expect(await assigned('crm.lead.get', leadId!)).toBe('2');
    await finish(created.CALL_ID, { USER_ID: 4, DURATION: 30 });
    expect(await assigned('crm.lead.get', leadId!)).toBe('4');

    // The same lead matched by a later call is pre-existing for that call: unchanged by its finish.
    const later = await register({ USER_ID: 2, PHONE_NUMBER: phone, CRM_CREATE: 1 });
    expect(later).toMatchObject({ CRM_ENTITY_TYPE: 'LEAD', CRM_ENTITY_ID: leadId, CRM_CREATED_LEAD: null });
    await finish(later.CALL_ID, { USER_ID: 3, DURATION: 5 });
    expect(await assigned('crm.lead.get', leadId!)).toBe('4');

    // Seed contact 1 (responsible 3).
    const contactCall = await register({ USER_ID: 2, PHONE_NUMBER: '+79161234567', CRM_CREATE: 1 });
    await finish(contactCall.CALL_ID, { USER_ID: 4, DURATION: 30 });
    expect(await assigned('crm.contact.get', 1)).toBe('3');

    // Seed lead 1 (responsible 2).
    const leadCall = await register({ USER_ID: 3, PHONE_NUMBER: '+79031112233', CRM_CREATE: 1 });
    expect(leadCall).toMatchObject({ CRM_ENTITY_TYPE: 'LEAD', CRM_ENTITY_ID: 1, CRM_CREATED_LEAD: null });
    await finish(leadCall.CALL_ID, { USER_ID: 4, DURATION: 30 });
    expect(await assigned('crm.lead.get', 1)).toBe('2');

    // Seed company 1 (responsible 4), finished by 2.
    const companyCall = await register({ USER_ID: 3, PHONE_NUMBER: '+74951112233', CRM_CREATE: 1 });
    await finish(companyCall.CALL_ID, { USER_ID: 2, DURATION: 30 });
    expect(await assigned('crm.company.get', 1)).toBe('4');
  });

  describe('recordings', () => {
    const wav = wavFile();
    let files: { url: string; close(): Promise<void> };
    beforeAll(async () => {
      files = await startRecordingServer(wav);
    });
    afterAll(() => files.close());

    it('§9.28 attachRecord before finish → 400 ERROR_CORE "Call is not found in the statistic table…" in every mode', async () => {
      const { CALL_ID } = await register({ PHONE_NUMBER: freshNumber() });
      const modes: Json[] = [
        { FILENAME: 'call.mp3' }, // upload-URL mode
        { FILENAME: 'call.wav', FILE_CONTENT: wav.toString('base64') }, // inline content
        { RECORD_URL: `${files.url}/rec.wav` }, // URL mode
        {}, // even with nothing else: the call check comes first
      ];
      for (const mode of modes) {
        const a = await p.call('telephony.externalCall.attachRecord', { CALL_ID, ...mode });
        expectError(a, 400, 'ERROR_CORE', NOT_IN_STATISTICS);
      }
      expectError(
        await p.call('telephony.externalCall.attachRecord', {
          CALL_ID: 'externalCall.0123456789abcdef0123456789abcdef.1773130779',
          FILENAME: 'call.mp3',
          FILE_CONTENT: wav.toString('base64'),
        }),
        400,
        'ERROR_CORE',
        NOT_IN_STATISTICS,
      );
      expect((await callView(CALL_ID)).recordings).toEqual([]);
    });

    it('§9.29 attachRecord errors: bad extension, bad base64, neither RECORD_URL nor FILENAME', async () => {
      const { CALL_ID } = await register({ PHONE_NUMBER: freshNumber() });
      await finish(CALL_ID, { DURATION: 10 });
      const attach = (params: Json): Promise<RestAnswer> =>
        p.call('telephony.externalCall.attachRecord', { CALL_ID, ...params });

      const badExt = 'Wrong file extension. Only wav and mp3 are allowed';
      expectError(
        await attach({ FILENAME: 'x.ogg', FILE_CONTENT: wav.toString('base64') }),
        400,
        'ERROR_CORE',
        badExt,
      );
      expectError(await attach({ FILENAME: 'x.ogg' }), 400, 'ERROR_CORE', badExt);
      expectError(
        await attach({ FILENAME: 'x.mp3', FILE_CONTENT: '@@@ this is not base64 @@@' }),
        400,
        'ERROR_CORE',
        'File content is not properly encoded. Base64 encoding is expected.',
      );
      // The other content-mode rows of spec §2.5's error table.
      expectError(await attach({ FILENAME: '' }), 400, 'ERROR_CORE', 'File name is empty');
      expectError(
        await attach({ FILENAME: 'x.mp3', FILE_CONTENT: '' }),
        400,
        'ERROR_CORE',
        'File content is empty.',
      );
      expectError(
        await attach({}),
        400,
        'ERROR_CORE',
        'Required parameters are not set. Request should contain or URL or FILENAME parameter',
      );
      expect((await callView(CALL_ID)).recordings).toEqual([]);
    });

    it('§9.30 attachRecord: FILENAME only → {uploadUrl, fieldName:"file"} then multipart upload → {FILE_ID}; FILENAME+FILE_CONTENT → {FILE_ID}; RECORD_URL 404 → "Server returns HTTP error code 404"', async () => {
      const { CALL_ID } = await register({ PHONE_NUMBER: freshNumber() });
      await finish(CALL_ID, { DURATION: 10 });
      const attach = (params: Json): Promise<RestAnswer> =>
        p.call('telephony.externalCall.attachRecord', { CALL_ID, ...params });

      // Upload-URL mode.
      const slot = resultOf<{ uploadUrl: string; fieldName: string }>(await attach({ FILENAME: 'up.mp3' }));
      expect(Object.keys(slot).sort()).toEqual(['fieldName', 'uploadUrl']);
      expect(slot.fieldName).toBe('file');
      expect(slot.uploadUrl.startsWith(`${p.url}/rest/`)).toBe(true);
      const fd = new FormData();
      fd.append(slot.fieldName, new Blob([wav], { type: 'audio/mpeg' }), 'up.mp3');
      const uploaded = await fetch(slot.uploadUrl, { method: 'POST', body: fd });
      expect(uploaded.status).toBe(200);
      const uploadBody = (await uploaded.json()) as { result: Json };
      expect(Object.keys(uploadBody.result)).toEqual(['FILE_ID']);
      const uploadedId = uploadBody.result.FILE_ID;
      expect(Number.isInteger(uploadedId)).toBe(true);

      // The upload handler re-checks the extension from the uploaded file's name.
      const badFd = new FormData();
      badFd.append('file', new Blob([wav], { type: 'audio/ogg' }), 'up.ogg');
      const badUpload = await fetch(slot.uploadUrl, { method: 'POST', body: badFd });
      expectError(
        { status: badUpload.status, body: (await badUpload.json()) as Json },
        400,
        'ERROR_CORE',
        'Wrong file extension. Only wav and mp3 are allowed',
      );

      // Inline content.
      const inline = resultOf<Json>(
        await attach({ FILENAME: 'inline.wav', FILE_CONTENT: wav.toString('base64') }),
      );
      expect(Object.keys(inline)).toEqual(['FILE_ID']);
      expect(Number.isInteger(inline.FILE_ID)).toBe(true);

      // URL mode: downloaded synchronously, name taken from the URL path.
      const fromUrl = resultOf<Json>(await attach({ RECORD_URL: `${files.url}/rec.wav` }));
      expect(Object.keys(fromUrl)).toEqual(['FILE_ID']);
      expect(Number.isInteger(fromUrl.FILE_ID)).toBe(true);

      expectError(
        await attach({ RECORD_URL: `${files.url}/missing.wav` }),
        400,
        'ERROR_CORE',
        'Server returns HTTP error code 404',
      );

      const recordings = (await callView(CALL_ID)).recordings;
      expect(recordings).toEqual([
        { fileId: uploadedId, filename: 'up.mp3', size: wav.length, sha256: sha256(wav) },
        { fileId: inline.FILE_ID, filename: 'inline.wav', size: wav.length, sha256: sha256(wav) },
        { fileId: fromUrl.FILE_ID, filename: 'rec.wav', size: wav.length, sha256: sha256(wav) },
      ]);
      expect(new Set(recordings.map((r) => r.fileId)).size).toBe(3);
    });
  });

  it('§9.31 externalLine.add: duplicate → "Line already exists", empty NUMBER → "NUMBER should not be empty", returns {ID:int}; CRM_AUTO_CREATE defaults Y, non-Y stored as N', async () => {
    const add = (params: Json): Promise<RestAnswer> => p.call('telephony.externalLine.add', params);
    const first = resultOf<Json>(await add({ NUMBER: 'l31-a', NAME: 'Main line' }));
    expect(Object.keys(first)).toEqual(['ID']);
    expect(Number.isInteger(first.ID)).toBe(true);
    expectError(await add({ NUMBER: 'l31-a' }), 400, 'ERROR_CORE', 'Line already exists');
    expectError(await add({ NUMBER: 'l31-a', NAME: 'Other' }), 400, 'ERROR_CORE', 'Line already exists');
    for (const empty of [{ NUMBER: '' }, {}, { NUMBER: '   ' }]) {
      expectError(await add(empty), 400, 'ERROR_CORE', 'NUMBER should not be empty');
    }

    const flags: [string, Json, 'Y' | 'N'][] = [
      ['l31-b', {}, 'Y'],
      ['l31-c', { CRM_AUTO_CREATE: 'N' }, 'N'],
      ['l31-d', { CRM_AUTO_CREATE: 'yes' }, 'N'],
      ['l31-e', { CRM_AUTO_CREATE: 1 }, 'N'],
      ['l31-f', { CRM_AUTO_CREATE: 'Y' }, 'Y'],
    ];
    const ids = new Set([first.ID]);
    for (const [number, extra] of flags) {
      const r = resultOf<Json>(await add({ NUMBER: number, ...extra }));
      expect(Number.isInteger(r.ID)).toBe(true);
      ids.add(r.ID);
    }
    expect(ids.size).toBe(flags.length + 1);

    const lines = resultOf<LineView[]>(await p.call('telephony.externalLine.get'));
    expect(lines.filter((l) => l.NUMBER === 'l31-a')).toEqual([
      { NUMBER: 'l31-a', NAME: 'Main line', CRM_AUTO_CREATE: 'Y' },
    ]);
    for (const [number, , stored] of flags) {
      expect(lines.find((l) => l.NUMBER === number)?.CRM_AUTO_CREATE, number).toBe(stored);
    }
  });

  it('§9.32 externalLine.update with only NUMBER → "There are no fields to update"; unknown number → "Could not find line with number <N>"; delete returns []', async () => {
    const added = resultOf<{ ID: number }>(
      await p.call('telephony.externalLine.add', { NUMBER: 'l32', NAME: 'Before' }),
    );
    expectError(
      await p.call('telephony.externalLine.update', { NUMBER: 'l32' }),
      400,
      'ERROR_CORE',
      'There are no fields to update',
    );
    // src order: the fields check comes before the NUMBER check.
    expectError(
      await p.call('telephony.externalLine.update', {}),
      400,
      'ERROR_CORE',
      'There are no fields to update',
    );
    expectError(
      await p.call('telephony.externalLine.update', { NAME: 'x' }),
      400,
      'ERROR_CORE',
      'NUMBER should not be empty',
    );
    expectError(
      await p.call('telephony.externalLine.update', { NUMBER: 'nope-32', NAME: 'x' }),
      400,
      'ERROR_CORE',
      'Could not find line with number nope-32',
    );
    const updated = await p.call('telephony.externalLine.update', {
      NUMBER: 'l32',
      NAME: 'After',
      CRM_AUTO_CREATE: 'no',
    });
    expect(resultOf(updated)).toEqual({ ID: String(added.ID) });
    const line = (): Promise<LineView | undefined> =>
      p
        .call('telephony.externalLine.get')
        .then((a) => resultOf<LineView[]>(a).find((l) => l.NUMBER === 'l32'));
    expect(await line()).toEqual({ NUMBER: 'l32', NAME: 'After', CRM_AUTO_CREATE: 'N' });

    expect(resultOf(await p.call('telephony.externalLine.delete', { NUMBER: 'l32' }))).toEqual([]);
    expect(await line()).toBeUndefined();
    expectError(
      await p.call('telephony.externalLine.delete', { NUMBER: 'l32' }),
      400,
      'ERROR_CORE',
      'Could not find line with number l32',
    );
    expectError(
      await p.call('telephony.externalLine.update', { NUMBER: 'l32', NAME: 'Again' }),
      400,
      'ERROR_CORE',
      'Could not find line with number l32',
    );
  });

  it('§9.33 searchCrmEntities: no PHONE_NUMBER → "PHONE_NUMBER is empty"; unknown → []; hits carry ASSIGNED_BY.ID as a string and a documented TIMEMAN_STATUS', async () => {
    const search = (params: Json): Promise<RestAnswer> =>
      p.call('telephony.externalCall.searchCrmEntities', params);
    expectError(await search({}), 400, 'ERROR_CORE', 'PHONE_NUMBER is empty');
    expectError(await search({ PHONE_NUMBER: '' }), 400, 'ERROR_CORE', 'PHONE_NUMBER is empty');
    expect(resultOf(await search({ PHONE_NUMBER: freshNumber() }))).toEqual([]);

    const expectations: [string, string, number, number, string, string][] = [
      ['+79161234567', 'CONTACT', 1, 3, '102', 'Ivan Petrov'],
      ['+74951112233', 'COMPANY', 1, 4, '103', 'Romashka LLC'],
      ['+79031112233', 'LEAD', 1, 2, '101', 'Lead +79031112233'],
    ];
    for (const [phone, type, id, manager, inner, name] of expectations) {
      const hits = resultOf<Json[]>(await search({ PHONE_NUMBER: phone }));
      expect(hits).toHaveLength(1);
      const hit = hits[0]!;
      expect(hit).toMatchObject({
        CRM_ENTITY_TYPE: type,
        CRM_ENTITY_ID: id,
        ASSIGNED_BY_ID: manager,
        NAME: name,
        ASSIGNED_BY: { ID: String(manager), USER_PHONE_INNER: inner },
      });
      const by = hit.ASSIGNED_BY as Json;
      expect(typeof by.ID).toBe('string');
      expect(TIMEMAN_STATUSES).toContain(by.TIMEMAN_STATUS);
      for (const key of ['WORK_PHONE', 'PERSONAL_PHONE', 'PERSONAL_MOBILE'])
        expect(by[key] === null || typeof by[key] === 'string', key).toBe(true);
    }
  });

  it('§9.34 crm.duplicate.findbycomm: no match → result []; matches → only non-empty keys; more than 20 values → 400', async () => {
    const find = (values: string[]): Promise<RestAnswer> =>
      p.call('crm.duplicate.findbycomm', { type: 'PHONE', values });
    const none = await find([freshNumber()]);
    expect(none.status).toBe(200);
    expect(none.body.result).toEqual([]);
    expect(Array.isArray(none.body.result)).toBe(true);

    expect(resultOf(await find(['+79161234567']))).toEqual({ CONTACT: [1] });
    expect(resultOf(await find(['+79161234567', '+74951112233', freshNumber()]))).toEqual({
      CONTACT: [1],
      COMPANY: [1],
    });
    expect(resultOf(await find(['+79031112233']))).toEqual({ LEAD: [1] });

    const twenty = Array.from({ length: 20 }, () => freshNumber());
    expect(resultOf(await find(twenty))).toEqual([]);
    const tooMany = await find([...twenty, freshNumber()]);
    expect(tooMany.status).toBe(400);
    expect(Object.keys(tooMany.body).sort()).toEqual(['error', 'error_description']);
    expect(typeof tooMany.body.error).toBe('string');
    expect(typeof tooMany.body.error_description).toBe('string');
  });

  it('§9.35 crm.contact.get of a missing id → 400 {"error": "", "error_description": "Not found"}; ids and ASSIGNED_BY_ID are strings', async () => {
    expectError(await p.call('crm.contact.get', { id: 999999 }), 400, '', 'Not found');
    expectError(await p.call('crm.contact.get', { id: 0 }), 400, '', 'ID is not defined or invalid');
    for (const params of [{ id: 1 }, { id: '1' }, { ID: 1 }]) {
      const contact = resultOf<Json>(await p.call('crm.contact.get', params));
      expect(contact).toMatchObject({ ID: '1', NAME: 'Ivan', LAST_NAME: 'Petrov', ASSIGNED_BY_ID: '3' });
      const phones = contact.PHONE as Json[];
      expect(phones).toHaveLength(1);
      expect(phones[0]).toMatchObject({ VALUE: '+79161234567', TYPE_ID: 'PHONE' });
      expect(typeof phones[0]!.ID).toBe('string');
    }
  });

  it('§9.36 user.get with FILTER[UF_PHONE_INNER]: only matching users, ACTIVE boolean, ID string, total; FILTER[ACTIVE]=true excludes fired users', async () => {
    const anna = await p.call('user.get', { FILTER: { UF_PHONE_INNER: '101' } });
    expect(resultOf<Json[]>(anna)).toHaveLength(1);
    expect(resultOf<Json[]>(anna)[0]).toMatchObject({
      ID: '2',
      ACTIVE: true,
      NAME: 'Anna',
      UF_PHONE_INNER: '101',
    });
    expect(anna.body.total).toBe(1);

    // Form-encoded FILTER[UF_PHONE_INNER]=104: the fired user is found without the ACTIVE filter.
    const fired = await form('user.get', { FILTER: { UF_PHONE_INNER: '104' } });
    expect(resultOf<Json[]>(fired)).toHaveLength(1);
    expect(resultOf<Json[]>(fired)[0]).toMatchObject({ ID: '5', ACTIVE: false, UF_PHONE_INNER: '104' });
    expect(fired.body.total).toBe(1);

    for (const send of [form, (m: string, params: Json) => p.call(m, params)]) {
      const gone = await send('user.get', { FILTER: { UF_PHONE_INNER: '104', ACTIVE: 'true' } });
      expect(resultOf(gone)).toEqual([]);
      expect(gone.body.total).toBe(0);
    }
    const active = await p.call('user.get', { FILTER: { ACTIVE: true } });
    const rows = resultOf<Json[]>(active);
    expect(rows.map((u) => u.ID)).toEqual(['1', '2', '3', '4', '6']);
    expect(rows.every((u) => u.ACTIVE === true)).toBe(true);
    expect(active.body.total).toBe(5);
  });

  it('§9.37 event.bind: unknown event → ERROR_EVENT_NOT_FOUND; duplicate → ERROR_CORE "Handler already binded" (configurable); event.get upper-case; event.unbind → {count}', async () => {
    const app = await p.install({ clientId: 'local.t37', clientSecret: 's37' });
    const handler = 'http://127.0.0.1:9/b24/events';
    const bind = (params: Json, token = app.accessToken): Promise<RestAnswer> =>
      p.call('event.bind', params, token);
    const get = async (): Promise<unknown> => resultOf(await p.call('event.get', {}, app.accessToken));

    expectError(
      await bind({ event: 'OnNoSuchEvent', handler }),
      400,
      'ERROR_EVENT_NOT_FOUND',
      'Event not found',
    );
    // An event of a scope the app lacks (UNCONFIRMED; the emulator's documented default).
    const crmOnly = await p.install({ clientId: 'local.t37crm', scopes: 'crm' });
    expectError(
      await bind({ event: 'OnExternalCallStart', handler }, crmOnly.accessToken),
      400,
      'ERROR_EVENT_NOT_FOUND',
      'Event not found',
    );

    expect(resultOf(await bind({ event: 'OnExternalCallStart', handler }))).toBe(true);
    expectError(
      await bind({ event: 'OnExternalCallStart', handler }),
      400,
      'ERROR_CORE',
      'Handler already binded',
    );
    expectError(
      await bind({ event: 'ONEXTERNALCALLSTART', handler }),
      400,
      'ERROR_CORE',
      'Handler already binded',
    );
    expect(await get()).toEqual([{ event: 'ONEXTERNALCALLSTART', handler, auth_type: '0', offline: 0 }]);

    // The duplicate error is UNCONFIRMED: with it off, a repeat bind succeeds and changes nothing.
    expect((await p.inspect('settings', { body: { duplicateBindError: false } })).status).toBe(200);
    try {
      expect(resultOf(await bind({ event: 'OnExternalCallStart', handler }))).toBe(true);
      expect(await get()).toEqual([{ event: 'ONEXTERNALCALLSTART', handler, auth_type: '0', offline: 0 }]);
    } finally {
      await p.inspect('settings', { body: { duplicateBindError: true } });
    }

    expect(resultOf(await bind({ event: 'onExternalCallBackStart', handler }))).toBe(true);
    expect(await get()).toEqual([
      { event: 'ONEXTERNALCALLSTART', handler, auth_type: '0', offline: 0 },
      { event: 'ONEXTERNALCALLBACKSTART', handler, auth_type: '0', offline: 0 },
    ]);
    const unbind = (event: string): Promise<RestAnswer> =>
      p.call('event.unbind', { event, handler }, app.accessToken);
    expect(resultOf(await unbind('OnExternalCallStart'))).toEqual({ count: 1 });
    expect(await get()).toEqual([{ event: 'ONEXTERNALCALLBACKSTART', handler, auth_type: '0', offline: 0 }]);
    // Nothing left to match: {count: 0} (UNCONFIRMED that no error is raised).
    expect(resultOf(await unbind('OnExternalCallStart'))).toEqual({ count: 0 });
  });

  it('§9.38 click-to-call registers the call first (TYPE 1, clicking user, CRM per line CRM_AUTO_CREATE), then POSTs ONEXTERNALCALLSTART form-encoded to the line owner only, without retries', async () => {
    const r = await startReceiver();
    try {
      const a = await p.install({ clientId: 'local.t38a', clientSecret: 's38a' });
      const b = await p.install({ clientId: 'local.t38b', clientSecret: 's38b' });
      for (const [app, path] of [
        [a, '/a'],
        [b, '/b'],
      ] as const) {
        const bound = await p.call(
          'event.bind',
          { event: 'OnExternalCallStart', handler: `${r.url}${path}` },
          app.accessToken,
        );
        expect(resultOf(bound)).toBe(true);
      }
      const addLine = async (app: InstalledApp, NUMBER: string, flag: string): Promise<void> => {
        resultOf(
          await p.call('telephony.externalLine.add', { NUMBER, CRM_AUTO_CREATE: flag }, app.accessToken),
        );
      };
      await addLine(a, 'c2c-38', 'Y');
      await addLine(a, 'c2c-38n', 'N');
      await addLine(b, 'c2c-38b', 'Y');

      // What the portal had registered at the moment the event reached the handler.
      const atPost = new Map<string, CallView | undefined>();
      r.onPost = async (post) => {
        const callId = str(dataOf(post).CALL_ID);
        atPost.set(
          callId,
          (await calls()).find((c) => c.callId === callId),
        );
      };
      const click = async (body: Json): Promise<{ callId: string; deliveries: DeliveryView[] }> => {
        const res = await p.inspect<{ callId: string; deliveries: DeliveryView[] }>('click-to-call', {
          body: { wait: true, ...body },
        });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        return res.body;
      };
      const postFor = (callId: string): Promise<ReceivedPost> => r.next((x) => dataOf(x).CALL_ID === callId);

      // 1. Unknown number on a CRM_AUTO_CREATE=Y line: a lead is created for the clicking user.
      const phone = freshNumber();
      const c1 = await click({ userId: 2, phoneNumber: phone, lineNumber: 'c2c-38' });
      expect(c1.deliveries).toHaveLength(1);
      expect(c1.deliveries[0]).toMatchObject({
        event: 'ONEXTERNALCALLSTART',
        handler: `${r.url}/a`,
        status: 200,
        error: null,
      });
      const registered = atPost.get(c1.callId);
      expect(registered).toMatchObject({
        callId: c1.callId,
        type: 1,
        userId: 2,
        phoneNumber: phone,
        lineNumber: 'c2c-38',
        finished: false,
        crmEntityType: 'LEAD',
      });
      const leadId = registered!.crmCreatedLead;
      expect(Number.isInteger(leadId)).toBe(true);
      expect(registered!.crmEntityId).toBe(leadId);
      expect(resultOf<Json>(await p.call('crm.lead.get', { id: leadId })).ASSIGNED_BY_ID).toBe('2');

      const post = await postFor(c1.callId);
      expect(post.path).toBe('/a');
      expect(post.form.event).toBe('ONEXTERNALCALLSTART');
      expect(str(post.form.event_handler_id)).toMatch(/^\d+$/);
      expect(str(post.form.ts)).toMatch(/^\d+$/);
      expect(dataOf(post)).toMatchObject({
        CALL_ID: c1.callId,
        PHONE_NUMBER: phone,
        PHONE_NUMBER_INTERNATIONAL: phone,
        EXTENSION: '',
        USER_ID: '2',
        CALL_LIST_ID: '0',
        LINE_NUMBER: 'c2c-38',
        IS_MOBILE: '0',
        CRM_ENTITY_TYPE: 'LEAD',
        CRM_ENTITY_ID: String(leadId),
      });
      const auth = authOf(post);
      expect(auth).toMatchObject({
        application_token: a.applicationToken,
        member_id: 'emulator-member-1',
        client_endpoint: `${p.url}/rest/`,
        scope: expect.stringContaining('telephony') as unknown,
      });
      expect(typeof auth.domain).toBe('string');
      expect(typeof auth.server_endpoint).toBe('string');
      expect(typeof auth.status).toBe('string');
      // auth[access_token] is the clicking user's token for app A.
      expect(resultOf<Json>(await p.call('user.current', {}, str(auth.access_token))).ID).toBe('2');
      // The app finishes the CALL_ID it got; it never registers again.
      const done = await finish(c1.callId, { USER_ID: 2, DURATION: 40 }, str(auth.access_token));
      expect(done).toMatchObject({ CALL_ID: c1.callId, INCOMING: '1', PORTAL_NUMBER: 'c2c-38' });

      // 2. CRM_AUTO_CREATE=N: nothing created; call-list id and mobile flag passed through.
      const phone2 = freshNumber();
      const c2 = await click({
        userId: 3,
        phoneNumber: phone2,
        lineNumber: 'c2c-38n',
        callListId: 7,
        isMobile: true,
      });
      expect(atPost.get(c2.callId)).toMatchObject({
        type: 1,
        userId: 3,
        lineNumber: 'c2c-38n',
        crmEntityType: null,
        crmEntityId: null,
        crmCreatedLead: null,
      });
      expect(dataOf(await postFor(c2.callId))).toMatchObject({
        USER_ID: '3',
        CALL_LIST_ID: '7',
        LINE_NUMBER: 'c2c-38n',
        IS_MOBILE: '1',
        CRM_ENTITY_TYPE: '',
      });
      expect(resultOf(await p.call('crm.duplicate.findbycomm', { type: 'PHONE', values: [phone2] }))).toEqual(
        [],
      );

      // 3. A known contact: bound to it, no lead even on a CRM_AUTO_CREATE=Y line.
      const c3 = await click({ userId: 4, phoneNumber: '+79161234567', lineNumber: 'c2c-38' });
      expect(atPost.get(c3.callId)).toMatchObject({
        crmEntityType: 'CONTACT',
        crmEntityId: 1,
        crmCreatedLead: null,
      });
      expect(dataOf(await postFor(c3.callId))).toMatchObject({
        CRM_ENTITY_TYPE: 'CONTACT',
        CRM_ENTITY_ID: '1',
      });

      // Only app A's handler got A's calls.
      expect(r.received.filter((x) => x.path === '/b')).toEqual([]);
      // B's line goes to B only.
      const cb = await click({ userId: 2, phoneNumber: freshNumber(), lineNumber: 'c2c-38b' });
      expect(cb.deliveries.map((d) => d.handler)).toEqual([`${r.url}/b`]);
      const postB = await postFor(cb.callId);
      expect(postB.path).toBe('/b');
      expect(authOf(postB).application_token).toBe(b.applicationToken);

      // 4. A handler answering 500: the delivery is logged as failed and never retried.
      r.status = 500;
      const c4 = await click({ userId: 2, phoneNumber: freshNumber(), lineNumber: 'c2c-38' });
      expect(c4.deliveries).toHaveLength(1);
      expect(c4.deliveries[0]).toMatchObject({ status: 500 });
      expect(c4.deliveries[0]!.error).not.toBeNull();
      r.status = 200;
      const c5 = await click({ userId: 2, phoneNumber: freshNumber(), lineNumber: 'c2c-38' });
      await postFor(c5.callId);
      expect(r.received.filter((x) => dataOf(x).CALL_ID === c4.callId)).toHaveLength(1);
      const log = (await p.inspect<DeliveryView[]>('deliveries')).body.filter(
        (d) => d.event === 'ONEXTERNALCALLSTART' && d.handler === `${r.url}/a`,
      );
      // c1, c2, c3, c4 (500, once), c5.
      expect(log.map((d) => d.status)).toEqual([200, 200, 200, 500, 200]);
    } finally {
      await r.close();
    }
  });

  it('§9.39 events are suppressed until the installation is complete; ONAPPINSTALL delivers auth[refresh_token] and auth[application_token]', async () => {
    const r = await startReceiver();
    try {
      const handler = `${r.url}/events`;
      // A UI app: its installer page binds the handlers, installation completes later (BX24.installFinish()).
      r.onPost = async (post) => {
        if (post.path !== '/install') return;
        const token = str(post.form.AUTH_ID);
        for (const event of ['OnAppInstall', 'OnAppTest']) {
          const bound = await p.call('event.bind', { event, handler }, token);
          expect(resultOf(bound)).toBe(true);
        }
      };
      const app = await p.install({
        clientId: 'local.t39',
        clientSecret: 's39',
        installUrl: `${r.url}/install`,
        installFinish: 'manual',
        callback: 'page',
      });
      const appId = (app as InstalledApp & { id: number }).id;
      const page = await r.next((x) => x.path === '/install');
      expect(page.form).toMatchObject({
        AUTH_ID: app.accessToken,
        REFRESH_ID: app.refreshToken,
        APPLICATION_TOKEN: app.applicationToken,
      });
      expect(resultOf<Json>(await p.call('app.info', {}, app.accessToken)).INSTALLED).toBe(false);

      // Not installed yet: an event raised now goes nowhere.
      expect(resultOf(await p.call('event.test', { marker: 'before' }, app.accessToken))).toBe(true);

      const finished = await p.inspect<{ deliveries: DeliveryView[] }>('apps/local.t39/install-finish', {
        method: 'POST',
      });
      expect(finished.status).toBe(200);
      expect(finished.body.deliveries).toMatchObject([{ event: 'ONAPPINSTALL', handler, status: 200 }]);
      expect(resultOf<Json>(await p.call('app.info', {}, app.accessToken)).INSTALLED).toBe(true);

      const install = await r.next((x) => x.form.event === 'ONAPPINSTALL');
      const auth = authOf(install);
      expect(auth.application_token).toBe(app.applicationToken);
      expect(typeof auth.refresh_token).toBe('string');
      expect(auth.refresh_token).not.toBe('');
      expect(typeof auth.access_token).toBe('string');
      expect(auth.member_id).toBe('emulator-member-1');
      expect(dataOf(install)).toMatchObject({ INSTALLED: 'Y' });
      // The refresh token is a working one.
      const refreshed = await fetch(
        `${p.url}/oauth/token/?${new URLSearchParams({
          grant_type: 'refresh_token',
          client_id: 'local.t39',
          client_secret: 's39',
          refresh_token: str(auth.refresh_token),
        }).toString()}`,
      );
      expect(refreshed.status).toBe(200);

      // Installed: the same event is delivered now; the one raised before never was.
      expect(resultOf(await p.call('event.test', { marker: 'after' }, app.accessToken))).toBe(true);
      const after = await r.next((x) => x.form.event === 'ONAPPTEST');
      expect(dataOf(after).marker).toBe('after');
      expect(r.received.filter((x) => x.form.event === 'ONAPPTEST').map((x) => dataOf(x).marker)).toEqual([
        'after',
      ]);
      const delivered = (await p.inspect<DeliveryView[]>('deliveries')).body.filter((d) => d.appId === appId);
      expect(delivered.map((d) => d.event)).toEqual(['ONAPPINSTALL', 'ONAPPTEST']);

      // A script-only app gets its ONAPPINSTALL-style POST at the install URL, tokens included.
      const scriptOnly = await p.install({
        clientId: 'local.t39s',
        installUrl: `${r.url}/script-install`,
        callback: 'event',
      });
      const scriptPost = await r.next((x) => x.path === '/script-install');
      expect(scriptPost.form.event).toBe('ONAPPINSTALL');
      expect(authOf(scriptPost)).toMatchObject({
        refresh_token: scriptOnly.refreshToken,
        application_token: scriptOnly.applicationToken,
        access_token: scriptOnly.accessToken,
      });
    } finally {
      await r.close();
    }
  });

  it('§9.40 rate limit 2/s burst 50 → 503 QUERY_LIMIT_EXCEEDED, batch counts once; batch: 51st command ERROR_BATCH_LENGTH_EXCEEDED, nested batch refused, $result substitution, halt=1', async () => {
    // --- batch semantics (the shared portal's limit is turned up) ---
    const batch = async (body: Json): Promise<BatchBody> => {
      const a = await p.call('batch', body);
      expect(a.status, JSON.stringify(a.body)).toBe(200);
      return a.body as unknown as BatchBody;
    };
    const cmd51: Record<string, string> = {};
    for (let i = 0; i <= 50; i++) cmd51[`c${i}`] = 'scope';
    const long = await batch({ cmd: cmd51 });
    expect(Object.keys(long.result.result)).toHaveLength(50);
    expect(long.result.result).not.toHaveProperty('c50');
    expect(long.result.result_error).toEqual({
      c50: { error: 'ERROR_BATCH_LENGTH_EXCEEDED', error_description: 'Max batch length exceeded' },
    });

    const nested = await batch({ cmd: { inner: 'batch?cmd[x]=scope', outer: 'scope' } });
    expect(nested.result.result_error).toEqual({
      inner: {
        error: 'ERROR_BATCH_METHOD_NOT_ALLOWED',
        error_description: 'Method is not allowed for batch usage',
      },
    });
    expect(nested.result.result).toHaveProperty('outer');

    const chained = await batch({
      cmd: {
        find: 'crm.duplicate.findbycomm?type=PHONE&values[]=%2B79161234567',
        contact: 'crm.contact.get?id=$result[find][CONTACT][0]',
        manager: 'user.get?FILTER[ID]=$result[contact][ASSIGNED_BY_ID]',
      },
    });
    expect(chained.result.result_error).toEqual([]);
    const chainedResult = chained.result.result as Json;
    expect(chainedResult.find).toEqual({ CONTACT: [1] });
    expect(chainedResult.contact).toMatchObject({ ID: '1', ASSIGNED_BY_ID: '3' });
    expect(chainedResult.manager).toMatchObject([{ ID: '3', NAME: 'Boris', UF_PHONE_INNER: '102' }]);
    expect(chained.result.result_total).toEqual({ manager: 1 });

    const cmd = { a: 'scope', b: 'crm.contact.get?id=999999', c: 'user.current' };
    const halted = await batch({ cmd, halt: 1 });
    expect(Object.keys(halted.result.result)).toEqual(['a']);
    expect(halted.result.result_error).toEqual({ b: { error: '', error_description: 'Not found' } });
    const goOn = await batch({ cmd, halt: 0 });
    expect(Object.keys(goOn.result.result)).toEqual(['a', 'c']);
    expect(goOn.result.result_error).toEqual({ b: { error: '', error_description: 'Not found' } });

    // --- the leaky bucket, with the portal clock frozen so draining is exact ---
    vi.useFakeTimers({ toFake: ['Date'] });
    const rp = await startTestPortal({ settings: { rateLimit: { rate: 2, burst: 50 } } });
    try {
      const clock = rp.emulator.portal.clock;
      const statuses = async (n: number): Promise<number[]> => {
        const out: number[] = [];
        for (let i = 0; i < n; i++) out.push((await rp.call('scope')).status);
        return out;
      };
      const burst = await Promise.all(Array.from({ length: 60 }, () => rp.call('scope')));
      const served = burst.filter((a) => a.status === 200).length;
      // "Served until the counter exceeds 50" — the exact off-by-one is UNCONFIRMED.
      expect(served).toBeGreaterThanOrEqual(50);
      expect(served).toBeLessThanOrEqual(51);
      for (const a of burst.filter((x) => x.status !== 200))
        expectError(a, 503, 'QUERY_LIMIT_EXCEEDED', 'Too many requests');
      expectError(await rp.call('scope'), 503, 'QUERY_LIMIT_EXCEEDED', 'Too many requests');

      // Drains at 2 requests per second (rejected requests do not count: the default).
      clock.advance(1000);
      expect(await statuses(3)).toEqual([200, 200, 503]);
      clock.advance(500);
      expect(await statuses(2)).toEqual([200, 503]);

      // UNCONFIRMED: with countRejected, refused requests keep filling the bucket.
      expect((await rp.inspect('settings', { body: { countRejected: true } })).status).toBe(200);
      expect(await statuses(4)).toEqual([503, 503, 503, 503]); // 50 + 5 refused ones counted
      clock.advance(1000); // 55 - 2 = 53: still over
      expect(await statuses(1)).toEqual([503]);
      expect((await rp.inspect('settings', { body: { countRejected: false } })).status).toBe(200);

      // A batch of 50 commands is one request: 49 more fit into a drained bucket, the 51st does not.
      clock.advance(120_000);
      const cmd50: Record<string, string> = {};
      for (let i = 0; i < 50; i++) cmd50[`k${i}`] = 'scope';
      const big = await rp.call('batch', { cmd: cmd50 });
      expect(big.status).toBe(200);
      expect(Object.keys((big.body as unknown as BatchBody).result.result)).toHaveLength(50);
      expect(await statuses(49)).toEqual(Array.from({ length: 49 }, () => 200));
      expectError(await rp.call('scope'), 503, 'QUERY_LIMIT_EXCEEDED', 'Too many requests');
      // A full bucket refuses a batch as a whole.
      expectError(
        await rp.call('batch', { cmd: { a: 'scope' } }),
        503,
        'QUERY_LIMIT_EXCEEDED',
        'Too many requests',
      );
    } finally {
      await rp.close();
      vi.useRealTimers();
    }
  });

  it('§9.41 OAuth refresh at /oauth/token/: a new pair with the documented fields; bad refresh token → invalid_grant; wrong secret → invalid_client', async () => {
    const app = await p.install({ clientId: 'local.t41', clientSecret: 's41' });
    const token = async (params: Record<string, string>, method = 'GET'): Promise<RestAnswer> => {
      const query = new URLSearchParams({ grant_type: 'refresh_token', client_id: 'local.t41', ...params });
      const res =
        method === 'GET'
          ? await fetch(`${p.url}/oauth/token/?${query.toString()}`)
          : await fetch(`${p.url}/oauth/token/`, {
              method: 'POST',
              headers: { 'content-type': 'application/x-www-form-urlencoded' },
              body: query.toString(),
            });
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      return { status: res.status, body: (await res.json()) as Json };
    };

    const now = Math.floor(p.emulator.portal.clock.now() / 1000);
    const fresh = await token({ client_secret: 's41', refresh_token: app.refreshToken });
    expect(fresh.status).toBe(200);
    const body = fresh.body;
    expect(Object.keys(body).sort()).toEqual(
      [
        'access_token',
        'client_endpoint',
        'domain',
        'expires',
        'expires_in',
        'member_id',
        'refresh_token',
        'scope',
        'server_endpoint',
        'status',
        'user_id',
      ].sort(),
    );
    expect(body).toMatchObject({
      expires_in: 3600,
      domain: 'oauth.bitrix.info',
      member_id: 'emulator-member-1',
      client_endpoint: `${p.url}/rest/`,
      status: 'L',
      user_id: 1,
    });
    expect(String(body.scope).split(',').sort()).toEqual(['crm', 'telephony', 'user']);
    expect(body.server_endpoint).toEqual(expect.stringMatching(/^https?:\/\/.+\/rest\/$/));
    expect(Number.isInteger(body.expires)).toBe(true);
    expect(Math.abs((body.expires as number) - (now + 3600))).toBeLessThanOrEqual(2);
    expect(typeof body.access_token).toBe('string');
    expect(body.access_token).not.toBe(app.accessToken);
    expect(typeof body.refresh_token).toBe('string');
    expect(body.refresh_token).not.toBe(app.refreshToken);

    // The new access token works.
    expect(resultOf<Json>(await p.call('user.current', {}, String(body.access_token))).ID).toBe('1');

    const bad = await token({ client_secret: 's41', refresh_token: 'not-a-refresh-token' });
    expect(bad.body.error).toBe('invalid_grant');
    expect(typeof bad.body.error_description).toBe('string');
    expect(bad.status).toBeGreaterThanOrEqual(400); // exact status UNCONFIRMED
    const wrongSecret = await token({ client_secret: 'wrong', refresh_token: String(body.refresh_token) });
    expect(wrongSecret.body.error).toBe('invalid_client');
    expect(typeof wrongSecret.body.error_description).toBe('string');
    expect(wrongSecret.status).toBeGreaterThanOrEqual(400);

    // UNCONFIRMED (§5.4): the used refresh token is invalidated by default …
    const reused = await token({ client_secret: 's41', refresh_token: app.refreshToken });
    expect(reused.body.error).toBe('invalid_grant');
    // … and keeps working when the portal is set to keep old refresh tokens.
    expect((await p.inspect('settings', { body: { oldRefreshTokenAfterRefresh: 'valid' } })).status).toBe(
      200,
    );
    try {
      const current = String(body.refresh_token);
      const once1 = await token({ client_secret: 's41', refresh_token: current }, 'POST');
      expect(once1.status).toBe(200);
      expect(once1.body.domain).toBe('oauth.bitrix.info');
      const twice = await token({ client_secret: 's41', refresh_token: current }, 'POST');
      expect(twice.status).toBe(200);
    } finally {
      await p.inspect('settings', { body: { oldRefreshTokenAfterRefresh: 'revoked' } });
    }
  });
});

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultSeed } from 'b24-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BitrixClient, type PortalApi } from '../../src/bitrix/index.ts';
import { startHarness, type CallView, type Harness } from './helpers.ts';

/** The typed methods against the emulated portal: parameters out, tolerant typed results back. */
describe('typed methods', () => {
  let h: Harness;
  let api: PortalApi;
  let files: Server;
  let filesUrl: string;
  const mp3 = Buffer.from('ID3\u0004fake mp3 body for the test');

  beforeAll(async () => {
    const seed = defaultSeed();
    // Enough users for three pages of user.get.
    for (let i = 0; i < 110; i++)
      seed.users.push({ id: 100 + i, name: `Agent${i}`, extension: String(500 + i) });
    h = await startHarness({ seed, portalLimit: { rate: 1000, burst: 10_000 } });
    api = h.api;
    files = createServer((req, res) => {
      if (req.url === '/rec/call.mp3') {
        res.writeHead(200, { 'content-type': 'audio/mpeg' });
        res.end(mp3);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await h.close();
    await new Promise((r) => files.close(r));
  });

  const calls = () => h.inspect<CallView[]>('calls');

  it('register finds the CRM contact by number; finish returns the statistics record with quirks smoothed', async () => {
    const reg = await api.externalCall.register({
      userId: 3,
      phoneNumber: '+79161234567',
      type: 'incoming',
      externalCallId: 'm-1',
      lineNumber: 'line-1',
      callStartDate: new Date('2026-03-10T08:19:38Z'),
      show: false,
    });
    expect(reg).toMatchObject({
      crmEntityType: 'CONTACT',
      crmEntityId: 1,
      crmCreatedLead: null,
      crmCreatedEntities: [],
    });
    expect(reg.callId).toMatch(/^externalCall\.[0-9a-f]{32}\.\d+$/);
    const fin = await api.externalCall.finish({ callId: reg.callId, userId: 3, duration: 95, vote: 5 });
    if (fin.status !== 'finished') throw new Error('expected a fresh finish');
    expect(fin.record).toMatchObject({
      callId: reg.callId,
      externalCallId: 'm-1',
      portalUserId: 3,
      portalNumber: 'line-1',
      type: 'incoming',
      duration: 95,
      talked: true,
      vote: 5,
      failedCode: '200',
      crmEntityType: 'CONTACT',
      crmEntityId: 1,
      // The portal sends CALL_START_DATE as {}: read as "unknown", not a crash.
      startDate: null,
    });
    expect(fin.record.crmActivityId).toBeTypeOf('number');
  });

  it('register with crmCreate creates a lead for an unknown number; a finish on a first try of an unknown call is an error', async () => {
    const reg = await api.externalCall.register({
      userId: 2,
      phoneNumber: '+79995550001',
      type: 'incoming',
      externalCallId: 'm-2',
      crmCreate: true,
      crmSource: 'CALL',
      show: false,
    });
    expect(reg.crmEntityType).toBe('LEAD');
    expect(reg.crmCreatedLead).toBe(reg.crmEntityId);
    expect(reg.crmCreatedEntities).toEqual([{ entityType: 'LEAD', entityId: reg.crmCreatedLead }]);
    const missed = await api.externalCall.finish({ callId: reg.callId, userId: 2, statusCode: '304' });
    expect(missed).toMatchObject({ status: 'finished', record: { failedCode: '304', talked: false } });
    await expect(
      api.externalCall.finish({ callId: 'externalCall.ffffffffffffffffffffffffffffffff.1', userId: 2 }),
    ).rejects.toMatchObject({ code: 'PORTAL_ERROR', portalError: 'ERROR_CORE' });
  });

  it('show and hide take one user or several; false for a call that is gone', async () => {
    const reg = api.externalCall.register({
      userId: 2,
      phoneNumber: '+79995550002',
      type: 'incoming',
      externalCallId: 'm-3',
    });
    expect(await api.externalCall.show({ callId: reg, userIds: [3, 4] })).toBe(true);
    expect(await api.externalCall.hide({ callId: reg, userIds: 3 })).toBe(true);
    const cards = await h.inspect<{ userId: number; callId: string }[]>('cards');
    const { callId } = await reg;
    expect(cards.filter((c) => c.callId === callId).map((c) => c.userId)).toEqual([2, 4]);
    await api.externalCall.finish({ callId, userId: 2 });
    expect(await api.externalCall.show({ callId, userIds: 2 })).toBe(false);
  });

  it('attachRecord in all three modes: by URL (batchable), base64, and the two-step upload', async () => {
    const reg = await api.externalCall.register({
      userId: 2,
      phoneNumber: '+79995550003',
      type: 'outgoing',
      externalCallId: 'm-4',
      show: false,
    });
    await api.externalCall.finish({ callId: reg.callId, userId: 2, duration: 3 });
    h.mark();
    const byUrl = await api.externalCall.attachRecordUrl({
      callId: reg.callId,
      recordUrl: `${filesUrl}/rec/call.mp3`,
    });
    const inline = await api.externalCall.attachRecordContent({
      callId: reg.callId,
      filename: 'b.mp3',
      content: mp3,
    });
    const uploaded = await api.externalCall.uploadRecord({
      callId: reg.callId,
      filename: 'c.wav',
      content: mp3,
    });
    expect([byUrl.fileId, inline.fileId, uploaded.fileId].every((id) => id > 0)).toBe(true);
    const call = (await calls()).find((c) => c.callId === reg.callId);
    expect(call?.recordings.map((r) => [r.filename, r.size])).toEqual([
      ['call.mp3', mp3.length],
      ['b.mp3', mp3.length],
      ['c.wav', mp3.length],
    ]);
    expect(h.requests.map((r) => r.method)).toEqual([
      'telephony.externalcall.attachrecord',
      'telephony.externalcall.attachrecord',
      'telephony.externalcall.attachrecord',
      'upload',
    ]);
    // An upload whose first step fails reports that step's error, not a dependency failure.
    await expect(
      api.externalCall.uploadRecord({ callId: 'externalCall.x.1', filename: 'd.mp3', content: mp3 }),
    ).rejects.toMatchObject({ code: 'PORTAL_ERROR', method: 'telephony.externalCall.attachRecord' });
  });

  it('searchCrmEntities returns each match with its manager', async () => {
    const found = await api.externalCall.searchCrmEntities('+79161234567');
    expect(found).toEqual([
      expect.objectContaining({
        entityType: 'CONTACT',
        entityId: 1,
        assignedById: 3,
        assignedBy: expect.objectContaining({
          id: 3,
          userPhoneInner: '102',
          timemanStatus: 'OPENED',
        }) as unknown,
      }),
    ]);
    expect(await api.externalCall.searchCrmEntities('+70000000000')).toEqual([]);
  });

  it('external lines: add, update, get, delete', async () => {
    const { id } = await api.externalLine.add({ number: '74950000001', name: 'Main', crmAutoCreate: false });
    expect(id).toBeGreaterThan(0);
    expect(await api.externalLine.update({ number: '74950000001', name: 'Support' })).toEqual({ id });
    expect(await api.externalLine.get()).toContainEqual({
      number: '74950000001',
      name: 'Support',
      crmAutoCreate: false,
    });
    await api.externalLine.delete('74950000001');
    expect((await api.externalLine.get()).map((l) => l.number)).not.toContain('74950000001');
    await expect(api.externalLine.add({ number: '' })).rejects.toMatchObject({ code: 'PORTAL_ERROR' });
  });

  it('crm get returns typed records (ids as numbers) and null for "Not found"; findByComm tolerates []', async () => {
    const contact = await api.crm.getContact(1);
    expect(contact).toMatchObject({
      kind: 'contact',
      id: 1,
      assignedById: 3,
      name: 'Ivan',
      lastName: 'Petrov',
    });
    expect(contact?.phones[0]?.value).toBe('+79161234567');
    expect(contact?.createdAt).toBeInstanceOf(Date);
    expect(await api.crm.getCompany(1)).toMatchObject({ kind: 'company', assignedById: 4 });
    expect(await api.crm.getLead(1)).toMatchObject({ kind: 'lead', assignedById: 2 });
    expect(await api.crm.getDeal(1)).toMatchObject({ kind: 'deal', contactId: 1, closed: false });
    expect(await api.crm.getContact(999)).toBeNull();
    expect(await api.crm.findByComm({ type: 'PHONE', values: ['+79161234567', '+74951112233'] })).toEqual({
      lead: [],
      contact: [1],
      company: [1],
    });
    expect(await api.crm.findByComm({ type: 'PHONE', values: ['+70000000000'] })).toEqual({
      lead: [],
      contact: [],
      company: [],
    });
  });

  it('user.get pages by 50 with start/next; all() walks every page; byExtension maps an extension', async () => {
    const first = await api.user.get({ filter: { ACTIVE: true } });
    expect(first.users).toHaveLength(50);
    expect(first.next).toBe(50);
    expect(first.total).toBe(115);
    const all = await api.user.all({ filter: { ACTIVE: true } });
    expect(all).toHaveLength(115);
    expect(new Set(all.map((u) => u.id)).size).toBe(115);
    const anna = await api.user.byExtension('101');
    expect(anna).toMatchObject({ id: 2, name: 'Anna', extension: '101', active: true, departments: [1] });
    expect(await api.user.byExtension('104')).toBeNull(); // Dmitri is not active
    expect((await api.user.get({ filter: { ID: 6 } })).users[0]?.extension).toBeNull();
  });

  it('event.bind, event.get, event.unbind; app.info', async () => {
    const handler = 'https://bridge.example.com/b24/events';
    expect(await api.event.bind({ event: 'OnExternalCallStart', handler })).toBe(true);
    expect(await api.event.get()).toContainEqual({
      event: 'ONEXTERNALCALLSTART',
      handler,
      authType: 0,
      offline: false,
    });
    // A repeated bind is not repeat-safe: the portal says so, the caller decides.
    await expect(api.event.bind({ event: 'OnExternalCallStart', handler })).rejects.toMatchObject({
      code: 'PORTAL_ERROR',
      portalDescription: 'Handler already binded',
    });
    expect(await api.event.unbind({ event: 'OnExternalCallStart', handler })).toBe(1);
    expect(await api.event.unbind({ event: 'OnExternalCallStart', handler })).toBe(0);
    const info = await api.app.info();
    expect(info).toMatchObject({
      code: 'local.bridge.1',
      status: 'L',
      installed: true,
      paymentExpired: false,
    });
  });

  it('any method untyped through call(), in the read lane', async () => {
    const raw = await api.call('crm.deal.list', { filter: { CONTACT_ID: 1 } });
    expect(raw.total).toBe(1);
    expect(Array.isArray(raw.result)).toBe(true);
  });

  it('an incoming webhook works for what webhooks may call, and gets ACCESS_DENIED for the rest', async () => {
    const client = new BitrixClient();
    const hook = await client.addPortal({
      memberId: 'webhook-portal',
      auth: { kind: 'webhook', url: `${h.emulator.url}/rest/1/emulator` },
      rateLimit: { rate: 1000, burst: 10_000 },
    });
    try {
      expect((await hook.user.byExtension('102'))?.id).toBe(3);
      const denied = await hook.externalCall
        .register({ userId: 2, phoneNumber: '+79995550009', type: 'incoming', externalCallId: 'wh-1' })
        .then(
          () => null,
          (e: unknown) => e as Error,
        );
      expect(denied).toMatchObject({ code: 'ACCESS_DENIED', portalError: 'WRONG_AUTH_TYPE' });
      // The webhook's secret is part of its URL; it never appears in an error.
      expect(`${denied?.message} ${JSON.stringify(denied)}`).not.toContain('emulator/');
    } finally {
      client.close();
    }
  });
});

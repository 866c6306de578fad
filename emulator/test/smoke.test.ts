import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPortal, type TestPortal } from './helpers.ts';

describe('emulator smoke', () => {
  let portal: TestPortal;
  beforeAll(async () => {
    portal = await startTestPortal();
  });
  afterAll(() => portal.close());

  it('answers user.get through the seed webhook', async () => {
    const res = await portal.webhook('user.get', { FILTER: { UF_PHONE_INNER: '101' } });
    expect(res.status).toBe(200);
    expect(res.body.result).toMatchObject([{ ID: '2', NAME: 'Anna', UF_PHONE_INNER: '101', ACTIVE: true }]);
  });

  it('registers and finishes a call through OAuth and shows it in the inspection API', async () => {
    const reg = await portal.call('telephony.externalcall.register', {
      USER_ID: 3,
      PHONE_NUMBER: '+79161234567',
      TYPE: 2,
      LINE_NUMBER: 'line-1',
    });
    expect(reg.status).toBe(200);
    const callId = (reg.body.result as { CALL_ID: string }).CALL_ID;
    const cards = await portal.inspect<{ userId: number; callId: string }[]>('cards');
    expect(cards.body).toContainEqual({ userId: 3, callId, phoneNumber: '+79161234567' });
    const fin = await portal.call('telephony.externalcall.finish', {
      CALL_ID: callId,
      USER_ID: 3,
      DURATION: 42,
    });
    expect(fin.body.result).toMatchObject({ CALL_ID: callId, CALL_DURATION: 42, CALL_FAILED_CODE: '200' });
    const calls = await portal.inspect<Record<string, unknown>[]>('calls');
    expect(calls.body.find((c) => c.callId === callId)).toMatchObject({
      finished: true,
      finishedBy: 3,
      duration: 42,
      crmEntityType: 'CONTACT',
      crmEntityId: 1,
    });
  });
});

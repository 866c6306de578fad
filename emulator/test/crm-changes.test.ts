import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, startTestPortal, type Receiver, type TestPortal } from './helpers.ts';

/**
 * CRM records changed through REST, as a person editing the CRM would: the records change, the
 * phone search finds them by their new numbers, and every bound handler hears of it with
 * ONCRM<TYPE>ADD/UPDATE/DELETE carrying `data[FIELDS][ID]` (the docs' shape: the id only).
 */
describe('CRM changes and their events', () => {
  let portal: TestPortal;
  let receiver: Receiver;
  beforeAll(async () => {
    portal = await startTestPortal();
    receiver = await startReceiver();
    for (const event of ['ONCRMCONTACTADD', 'ONCRMCONTACTUPDATE', 'ONCRMCONTACTDELETE', 'ONCRMLEADUPDATE']) {
      const bound = await portal.call('event.bind', { event, handler: `${receiver.url}/crm` });
      expect(bound.status, JSON.stringify(bound.body)).toBe(200);
    }
  });
  afterAll(async () => {
    await receiver.close();
    await portal.close();
  });

  const search = async (phone: string) =>
    (await portal.call('telephony.externalCall.searchCrmEntities', { PHONE_NUMBER: phone })).body.result as {
      CRM_ENTITY_TYPE: string;
      CRM_ENTITY_ID: number;
      ASSIGNED_BY_ID: number;
      ASSIGNED_BY: { ID: string; TIMEMAN_STATUS: string; USER_PHONE_INNER: string | null };
    }[];

  it('a new responsible and a new number: the record, the phone search and the event all say so', async () => {
    const updated = await portal.call('crm.contact.update', {
      id: 1,
      fields: { ASSIGNED_BY_ID: 4, PHONE: [{ VALUE: '+79160000777', VALUE_TYPE: 'MOBILE' }] },
    });
    expect(updated).toMatchObject({ status: 200, body: { result: true } });
    const event = await receiver.next((p) => p.form.event === 'ONCRMCONTACTUPDATE');
    expect(event.form).toMatchObject({
      event: 'ONCRMCONTACTUPDATE',
      data: { FIELDS: { ID: '1' } },
      auth: {
        application_token: portal.app.applicationToken,
        member_id: 'emulator-member-1',
        scope: 'telephony,crm,user',
      },
    });
    const contact = (await portal.call('crm.contact.get', { id: 1 })).body.result as {
      ASSIGNED_BY_ID: string;
      PHONE: { VALUE: string }[];
    };
    expect(contact.ASSIGNED_BY_ID).toBe('4');
    expect(contact.PHONE.map((p) => p.VALUE)).toEqual(['+79161234567', '+79160000777']);
    const [hit] = await search('+7 916 000-07-77');
    expect(hit).toMatchObject({ CRM_ENTITY_TYPE: 'CONTACT', CRM_ENTITY_ID: 1, ASSIGNED_BY_ID: 4 });
    expect(hit?.ASSIGNED_BY).toMatchObject({ ID: '4', TIMEMAN_STATUS: 'OPENED', USER_PHONE_INNER: '103' });
  });

  it('a phone removed (DELETE=Y) is no longer found; the workday of the responsible shows in the search', async () => {
    const contact = (await portal.call('crm.contact.get', { id: 1 })).body.result as {
      PHONE: { ID: string; VALUE: string }[];
    };
    const extra = contact.PHONE.find((p) => p.VALUE === '+79160000777');
    await portal.call('crm.contact.update', { id: 1, fields: { PHONE: [{ ID: extra?.ID, DELETE: 'Y' }] } });
    expect(await search('+79160000777')).toEqual([]);
    const closed = await portal.inspect('users/4', { body: { timemanStatus: 'CLOSED' } });
    expect(closed).toMatchObject({ status: 200, body: { id: 4 } });
    expect((await search('+79161234567'))[0]?.ASSIGNED_BY.TIMEMAN_STATUS).toBe('CLOSED');
    const bad = await portal.inspect('users/4', { body: { timemanStatus: 'ASLEEP' } });
    expect(bad.status).toBe(400);
    await portal.inspect('users/4', { body: { timemanStatus: 'OPENED' } });
  });

  it('add and delete raise their events; a record that is gone says so', async () => {
    const added = await portal.call('crm.contact.add', {
      fields: { NAME: 'Olga', PHONE: [{ VALUE: '+79035550001', VALUE_TYPE: 'WORK' }], ASSIGNED_BY_ID: 2 },
    });
    expect(added.status).toBe(200);
    const id = added.body.result as number;
    expect(typeof id).toBe('number');
    expect((await receiver.next((p) => p.form.event === 'ONCRMCONTACTADD')).form.data).toEqual({
      FIELDS: { ID: String(id) },
    });
    expect((await search('+79035550001'))[0]).toMatchObject({ CRM_ENTITY_ID: id, ASSIGNED_BY_ID: 2 });
    expect((await portal.call('crm.contact.delete', { id })).body).toMatchObject({ result: true });
    expect((await receiver.next((p) => p.form.event === 'ONCRMCONTACTDELETE')).form.data).toEqual({
      FIELDS: { ID: String(id) },
    });
    expect(await search('+79035550001')).toEqual([]);
    expect(await portal.call('crm.contact.get', { id })).toMatchObject({
      status: 400,
      body: { error: '', error_description: 'Not found' },
    });
    expect(await portal.call('crm.contact.update', { id, fields: { NAME: 'x' } })).toMatchObject({
      status: 400,
      body: { error: '', error_description: 'Contact is not found' },
    });
    expect(await portal.call('crm.contact.delete', { id })).toMatchObject({
      status: 400,
      body: { error: 'ERROR_CORE', error_description: 'Element not found' },
    });
    expect(await portal.call('crm.contact.update', { id: 0 })).toMatchObject({
      status: 400,
      body: { error_description: 'ID is not defined or invalid.' },
    });
    expect(await portal.call('crm.lead.update', { id: 1, fields: { ASSIGNED_BY_ID: 999 } })).toMatchObject({
      status: 400,
    });
  });

  it('a change nobody bound is raised to nobody; one made through a webhook reaches the app all the same', async () => {
    const before = receiver.received.length;
    await portal.webhook('crm.company.update', { id: 1, fields: { ASSIGNED_BY_ID: 2 } });
    await portal.webhook('crm.lead.update', { id: 1, fields: { ASSIGNED_BY_ID: 3 } });
    const lead = await receiver.next((p) => p.form.event === 'ONCRMLEADUPDATE');
    expect(lead.form.data).toEqual({ FIELDS: { ID: '1' } });
    expect(receiver.received.slice(before).map((p) => p.form.event)).toEqual(['ONCRMLEADUPDATE']);
  });
});

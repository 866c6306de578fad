import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startReceiver, startTestPortal, type Receiver, type TestPortal } from './helpers.ts';

interface OfflineRow {
  ID: string;
  TIMESTAMP_X: string;
  EVENT_NAME: string;
  EVENT_DATA: Record<string, unknown>;
  EVENT_ADDITIONAL: Record<string, unknown>;
  MESSAGE_ID: string;
  PROCESS_ID?: string;
  ERROR?: string;
}
interface GetResult {
  process_id: string | null;
  events: OfflineRow[];
}

/**
 * Offline events: an app bound with event_type=offline has its events stored in a queue of its own
 * instead of posted to a URL; it reads them with event.offline.get (clear, limit, process_id,
 * filter), marks failures with event.offline.error, peeks with event.offline.list, and may be woken
 * by ONOFFLINEEVENT at most once per minTimeout. With unreachableApp, no handler URL is ever reached.
 */
describe('offline events', () => {
  let portal: TestPortal;
  let receiver: Receiver;
  beforeAll(async () => {
    portal = await startTestPortal();
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver.close();
    await portal.close();
  });
  beforeEach(async () => {
    await portal.inspect('reset', { body: {} });
    const app = await portal.install({ clientId: 'local.offline.1', clientSecret: 's' });
    token = app.accessToken;
    clientId = app.clientId;
  });
  let token = '';
  let clientId = '';
  const call = (method: string, params: Record<string, unknown> = {}) => portal.call(method, params, token);
  const get = async (params: Record<string, unknown> = {}): Promise<GetResult> => {
    const res = await call('event.offline.get', params);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.result as GetResult;
  };
  const click = async (phoneNumber: string): Promise<string> => {
    const res = await portal.inspect<{ callId: string }>('click-to-call', {
      body: { wait: true, userId: 2, phoneNumber },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.callId;
  };
  const bindOffline = async (event: string) => {
    const res = await call('event.bind', { event, event_type: 'offline' });
    expect(res, JSON.stringify(res.body)).toMatchObject({ status: 200, body: { result: true } });
  };

  it('only an administrator may bind offline; event.get shows the binding with offline=1', async () => {
    const opened = await portal.inspect<{ form: Record<string, string> }>(`apps/${clientId}/open`, {
      body: { userId: 2 },
    });
    const userToken = opened.body.form.AUTH_ID ?? '';
    const denied = await portal.call(
      'event.bind',
      { event: 'ONEXTERNALCALLSTART', event_type: 'offline' },
      userToken,
    );
    expect(denied).toMatchObject({ status: 403, body: { error: 'ACCESS_DENIED' } });
    await bindOffline('ONEXTERNALCALLSTART');
    const bound = await call('event.get');
    expect(bound.body.result).toEqual([
      { event: 'ONEXTERNALCALLSTART', handler: '', auth_type: '0', offline: 1 },
    ]);
  });

  it('a click lands in the queue with its data; get with clear=1 (default) takes it out', async () => {
    await bindOffline('ONEXTERNALCALLSTART');
    const callId = await click('+79161234567');
    const first = await get();
    expect(first.process_id).toBeNull();
    expect(first.events).toHaveLength(1);
    expect(first.events[0]).toMatchObject({
      EVENT_NAME: 'ONEXTERNALCALLSTART',
      EVENT_DATA: { CALL_ID: callId, USER_ID: expect.anything() as unknown },
      EVENT_ADDITIONAL: { user_id: '2' },
    });
    expect(first.events[0]?.TIMESTAMP_X).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
    expect((await get()).events).toEqual([]);
  });

  it('clear=0 reserves for a process: others do not see the records, the process reads them again, clear removes them', async () => {
    await bindOffline('ONEXTERNALCALLSTART');
    await click('+79161234567');
    await click('+79161234568');
    await click('+79161234569');
    const a = await get({ clear: 0, process_id: 'proc-a', limit: 2 });
    expect(a.process_id).toBe('proc-a');
    expect(a.events).toHaveLength(2);
    const b = await get({ clear: 0, process_id: 'proc-b' });
    expect(b.events).toHaveLength(1);
    expect(b.events[0]?.ID).not.toBe(a.events[0]?.ID);
    const again = await get({ clear: 0, process_id: 'proc-a' });
    expect(again.events.map((e) => e.ID)).toEqual(a.events.map((e) => e.ID));
    const anonymous = await get({ clear: 0 });
    expect(anonymous.events).toEqual([]);
    expect(anonymous.process_id).toMatch(/^[0-9a-f]{32}$/);
    const cleared = await call('event.offline.clear', {
      process_id: 'proc-a',
      message_id: [a.events[0]?.MESSAGE_ID],
    });
    expect(cleared.body.result).toBe(true);
    const listed = (await call('event.offline.list')).body.result as OfflineRow[];
    expect(listed.map((e) => e.ID)).toEqual([a.events[1]?.ID, b.events[0]?.ID]);
    expect(listed.map((e) => e.PROCESS_ID)).toEqual(['proc-a', 'proc-b']);
    const missing = await call('event.offline.clear', {});
    expect(missing.status).toBe(400);
  });

  it('error marks a record: get skips it unless error=1, list shows ERROR=1', async () => {
    await bindOffline('ONEXTERNALCALLSTART');
    await click('+79161234567');
    const taken = await get({ clear: 0, process_id: 'p' });
    const messageId = taken.events[0]?.MESSAGE_ID;
    expect(
      (await call('event.offline.error', { process_id: 'p', message_id: [messageId] })).body.result,
    ).toBe(true);
    expect((await get({ process_id: 'p' })).events).toEqual([]);
    const listed = (await call('event.offline.list', { filter: { ERROR: 1 } })).body.result as OfflineRow[];
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ MESSAGE_ID: messageId, ERROR: '1', PROCESS_ID: 'p' });
    const withErrors = await get({ process_id: 'p', error: 1 });
    expect(withErrors.events.map((e) => e.MESSAGE_ID)).toEqual([messageId]);
    expect((await call('event.offline.list')).body.result).toEqual([]);
  });

  it('filters by EVENT_NAME and ID with the operator before the field; CRM changes keep the latest per record', async () => {
    await bindOffline('ONEXTERNALCALLSTART');
    await bindOffline('ONCRMCONTACTUPDATE');
    await click('+79161234567');
    for (const name of ['A', 'B']) {
      const res = await call('crm.contact.update', { id: 1, fields: { NAME: name } });
      expect(res.status).toBe(200);
    }
    const all = (await call('event.offline.list')).body.result as OfflineRow[];
    expect(all.map((e) => e.EVENT_NAME)).toEqual(['ONEXTERNALCALLSTART', 'ONCRMCONTACTUPDATE']);
    const crm = await get({ filter: { '=EVENT_NAME': 'ONCRMCONTACTUPDATE' }, clear: 0, process_id: 'x' });
    expect(crm.events.map((e) => e.EVENT_DATA)).toEqual([{ FIELDS: { ID: '1' } }]);
    const firstId = Number(all[0]?.ID);
    const later = await get({ filter: { '>ID': firstId }, process_id: 'x' });
    expect(later.events.map((e) => e.EVENT_NAME)).toEqual(['ONCRMCONTACTUPDATE']);
    const bad = await call('event.offline.get', { filter: { '~HANDLER': 'x' } });
    expect(bad.status).toBe(400);
  });

  it('ONOFFLINEEVENT wakes the app at once, then at most once per minTimeout', async () => {
    await bindOffline('ONEXTERNALCALLSTART');
    const bound = await call('event.bind', {
      event: 'ONOFFLINEEVENT',
      handler: `${receiver.url}/wake`,
      options: { minTimeout: 1 },
    });
    expect(bound.status).toBe(200);
    await click('+79161234567');
    const first = await receiver.next((p) => p.form.event === 'ONOFFLINEEVENT');
    const firstAt = Date.now();
    expect(first.form).toMatchObject({
      data: { type: 'add', event: 'ONEXTERNALCALLSTART', handler: `${receiver.url}/wake`, minTimeout: '1' },
    });
    await click('+79161234568');
    await click('+79161234569');
    await receiver.next((p) => p.form.event === 'ONOFFLINEEVENT' && p !== first);
    const secondAt = Date.now();
    // The two later clicks came within the timeout: one grouped notification, no sooner than it.
    expect(secondAt - firstAt).toBeGreaterThanOrEqual(900);
    const more = await portal.inspect<{ event: string }[]>('deliveries');
    expect(more.body.filter((d) => d.event === 'ONOFFLINEEVENT')).toHaveLength(2);
  });

  it('unreachableApp refuses every delivery to a handler URL; offline events still queue', async () => {
    await portal.inspect('settings', { body: { unreachableApp: true } });
    await bindOffline('ONEXTERNALCALLSTART');
    const online = await call('event.bind', { event: 'ONEXTERNALCALLSTART', handler: `${receiver.url}/x` });
    expect(online.status).toBe(200);
    const res = await portal.inspect<{ deliveries: { status: number | null; error: string | null }[] }>(
      'click-to-call',
      { body: { wait: true, userId: 2, phoneNumber: '+79161234567' } },
    );
    expect(res.body.deliveries).toEqual([
      expect.objectContaining({ status: null, error: 'ECONNREFUSED' }) as unknown,
    ]);
    expect((await get()).events).toHaveLength(1);
    const installed = await portal.install({
      clientId: 'local.offline.2',
      clientSecret: 's',
      installUrl: `${receiver.url}/install`,
    });
    expect(installed.installCallback).toEqual({ status: null, error: 'ECONNREFUSED' });
  });
});

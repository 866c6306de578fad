/**
 * Events replayed or kept and sent late. Every event carries `ts`, but nothing signs it: an event
 * older than the freshness window is refused, and a replay is recognised by what it asks for (its
 * CALL_ID, or its data), not by its `ts`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  nowTs,
  pbxCommands,
  postForm,
  startOffice,
  until,
  type EmulatedPortal,
  type Office,
} from './office.ts';

describe('stale and replayed events', () => {
  let office: Office;
  let portal: EmulatedPortal;

  const event = (name: string, data: Record<string, string>, ts: string | undefined) =>
    postForm(`${office.bridge.url}/bitrix/events`, {
      event: name,
      ...(ts === undefined ? {} : { ts }),
      data,
      auth: { member_id: portal.memberId, application_token: portal.app!.applicationToken },
    });

  type Command = { type: string; number?: string };
  const taken: Command[] = [];
  /** Originations to `number` the PBX was asked for, once at least one is there. */
  const originations = (number: string) =>
    until(`the origination to ${number}`, async () => {
      taken.push(...((await pbxCommands(office.bridge)) as Command[]));
      const mine = taken.filter((c) => c.type === 'originate' && c.number === number);
      return mine.length > 0 ? mine : undefined;
    });

  beforeAll(async () => {
    office = await startOffice({
      // The demo office's lines: a callback on Sales rings its queue.
      configure: (doc) => ({
        ...doc,
        engine: { defaultUserId: 1, recording: { maxWaitSec: 0, hideGraceSec: 0 } },
      }),
    });
    portal = office.portals[0]!;
  });
  afterAll(async () => {
    await office.close();
  });

  it('an event older than the window (10 minutes by default), or without ts, is refused: the PBX dials nothing', async () => {
    const data = { CALL_ID: 'externalCall.stale.1', USER_ID: '2', PHONE_NUMBER: '+79160001111' };
    const hourAgo = String(Math.floor(Date.now() / 1000) - 3600);
    for (const ts of [hourAgo, undefined]) {
      const res = await event('ONEXTERNALCALLSTART', data, ts);
      expect(res.status).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'EVENT_NOT_FRESH' } });
    }
    expect(await pbxCommands(office.bridge)).toEqual([]);
  });

  it('a callback sent again with a new ts is a replay: one callback, one origination', async () => {
    const data = { PHONE_NUMBER: '+79035551234', LINE_NUMBER: '+74950000001', TEXT: '', VOICE: '' };
    const first = await event('ONEXTERNALCALLBACKSTART', data, nowTs());
    expect(first.json()).toMatchObject({ ok: true, result: 'done' });
    const again = await event('ONEXTERNALCALLBACKSTART', data, String(Number(nowTs()) + 7));
    expect(again.json()).toMatchObject({ ok: true, result: 'duplicate' });
    expect(await originations('+79035551234')).toHaveLength(1);
  });

  it('a click-to-call sent again with a new ts is a replay too (its CALL_ID)', async () => {
    const { callId } = (
      await portal.control<{ callId: string }>('click-to-call', {
        userId: 3,
        phoneNumber: '+79160002222',
        wait: true,
      })
    ).body;
    const again = await event(
      'ONEXTERNALCALLSTART',
      { CALL_ID: callId, USER_ID: '3', PHONE_NUMBER: '+79160002222' },
      String(Number(nowTs()) + 30),
    );
    expect(again.json()).toMatchObject({ ok: true, result: 'duplicate' });
    expect(await originations('+79160002222')).toHaveLength(1);
  });
});

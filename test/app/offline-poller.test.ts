import { describe, expect, it } from 'vitest';
import {
  initialPollState,
  nextReadInMs,
  OfflinePoller,
  parseOfflineResult,
  toBitrixEvent,
  type PollSettings,
} from '../../src/app/offline/index.ts';
import { ServerError } from '../../src/http/index.ts';

const settings: PollSettings = { pollLiveMs: 1_000, pollIdleMs: 10_000, activeSec: 300 };
const T = 1_800_000_000_000;

describe('offline queue reads: when', () => {
  it('reads at once first, at the idle pace when nothing happens, at the live pace with calls or lately', () => {
    const s = initialPollState();
    expect(nextReadInMs(s, T, settings)).toBe(0);
    const idle = { ...s, lastReadAt: T };
    expect(nextReadInMs(idle, T, settings)).toBe(10_000);
    expect(nextReadInMs(idle, T + 4_000, settings)).toBe(6_000);
    expect(nextReadInMs({ ...idle, liveCalls: 1 }, T, settings)).toBe(1_000);
    expect(nextReadInMs({ ...idle, lastActivityAt: T - 299_000 }, T, settings)).toBe(1_000);
    expect(nextReadInMs({ ...idle, lastActivityAt: T - 300_000 }, T, settings)).toBe(10_000);
    expect(nextReadInMs({ ...idle, lastReadAt: T - 20_000 }, T, settings)).toBe(0);
  });

  it('drains a backlog at the live pace; failures double the pause up to the idle pace', () => {
    const s = { ...initialPollState(), lastReadAt: T };
    expect(nextReadInMs({ ...s, backlog: true }, T, settings)).toBe(1_000);
    expect(nextReadInMs({ ...s, liveCalls: 2, failures: 1 }, T, settings)).toBe(2_000);
    expect(nextReadInMs({ ...s, liveCalls: 2, failures: 3 }, T, settings)).toBe(8_000);
    expect(nextReadInMs({ ...s, liveCalls: 2, failures: 30 }, T, settings)).toBe(10_000);
  });

  it('keeps the live pace within 2 s with the defaults while active', () => {
    const defaults: PollSettings = { pollLiveMs: 1_000, pollIdleMs: 5_000, activeSec: 300 };
    const s = { ...initialPollState(), lastReadAt: T, lastActivityAt: T };
    expect(nextReadInMs(s, T, defaults)).toBeLessThanOrEqual(2_000);
  });
});

describe('offline queue records', () => {
  const result = {
    process_id: 'p1',
    events: [
      {
        ID: '7',
        TIMESTAMP_X: '2027-01-15T10:00:00+03:00',
        EVENT_NAME: 'onexternalcallstart',
        EVENT_DATA: { CALL_ID: 'externalCall.1', USER_ID: 2, PHONE_NUMBER: '+79161234567', CALL_LIST_ID: 5 },
        EVENT_ADDITIONAL: { user_id: '2' },
        MESSAGE_ID: 'm7',
      },
    ],
  };

  it('become the BitrixEvent the push route builds: the portal asked, form strings, ts from the queue time', () => {
    const { processId, records } = parseOfflineResult(result);
    expect(processId).toBe('p1');
    const [record] = records;
    expect(record).toMatchObject({ id: '7', messageId: 'm7', eventName: 'ONEXTERNALCALLSTART' });
    const e = toBitrixEvent(record!, { memberId: 'member-1', domain: 'portal.example.com' }, T);
    expect(e.event).toBe('ONEXTERNALCALLSTART');
    expect({ ...e.data }).toEqual({
      CALL_ID: 'externalCall.1',
      USER_ID: '2',
      PHONE_NUMBER: '+79161234567',
      CALL_LIST_ID: '5',
    });
    expect(e.ts).toBe(Date.parse('2027-01-15T10:00:00+03:00') / 1000);
    expect(e.auth).toMatchObject({
      memberId: 'member-1',
      domain: 'portal.example.com',
      applicationToken: '',
    });
  });

  it('anything else is refused with a stable code', () => {
    expect(() => parseOfflineResult({ events: [{ ID: 1 }] })).toThrow(
      expect.objectContaining({ code: 'OFFLINE_RECORD_INVALID' }) as Error,
    );
    expect(() => parseOfflineResult('nope')).toThrow(
      expect.objectContaining({ code: 'OFFLINE_RECORD_INVALID' }) as Error,
    );
  });
});

describe('offline queue reads: what is cleared, marked, kept', () => {
  it('handled records are cleared, refused ones marked as errors, passing failures kept reserved', async () => {
    const calls: { method: string; params: Record<string, unknown> }[] = [];
    const record = (n: number, name: string) => ({
      ID: String(n),
      TIMESTAMP_X: '2027-01-15T10:00:00+03:00',
      EVENT_NAME: name,
      EVENT_DATA: { N: n },
      MESSAGE_ID: `m${n}`,
    });
    const api = {
      call: (method: string, params: Record<string, unknown> = {}) => {
        calls.push({ method, params });
        const result =
          method === 'event.offline.get'
            ? { process_id: 'proc', events: [record(1, 'A'), record(2, 'B'), record(3, 'C')] }
            : true;
        return Promise.resolve({ result });
      },
    };
    const warnings: string[] = [];
    const poller = new OfflinePoller({
      api: api as never,
      portal: () => ({ memberId: 'm', domain: null }),
      processId: 'proc',
      settings,
      handle: (e) => {
        if (e.event === 'B') return Promise.reject(new ServerError('INVALID_EVENT', 400, 'bad'));
        if (e.event === 'C')
          return Promise.reject(Object.assign(new Error('db down'), { code: 'STORE_DOWN' }));
        return Promise.resolve();
      },
      warn: (m) => warnings.push(m),
      now: () => T,
    });
    const report = await poller.readOnce();
    expect(report).toEqual({ fetched: 3, handled: 1, failed: 1, kept: 1 });
    expect(calls).toEqual([
      { method: 'event.offline.get', params: { clear: 0, process_id: 'proc', limit: 50 } },
      { method: 'event.offline.clear', params: { process_id: 'proc', message_id: ['m1'] } },
      { method: 'event.offline.error', params: { process_id: 'proc', message_id: ['m2'] } },
    ]);
    expect(poller.requests).toBe(3);
    expect(warnings.join('\n')).toMatch(/B 2 refused \(INVALID_EVENT\)/);
    expect(warnings.join('\n')).toMatch(/C 3 not handled yet \(STORE_DOWN\)/);
  });
});

/**
 * Hostile input at the public endpoints: numbers that are not phone numbers (a bare CR that would
 * cut the live board's event stream, HTML that would go into the CRM or to the PBX as a number),
 * and bodies Bitrix24 never sends (JSON with nulls, nesting thousands deep). Each is refused with a
 * 4xx naming the problem, logged as one short warning, never a 500 or a stack trace.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_PASSWORD,
  nowTs,
  parsedLogs,
  pbxCommands,
  pbxEvents,
  postForm,
  postJson,
  requestFrom,
  startOffice,
  type Office,
} from './office.ts';

/** Reads a server-sent event stream for a while and splits it as a browser does (CR, LF, CRLF). */
function readStream(
  url: string,
  cookie: string,
  untilText: string,
): Promise<{ type: string; data: string }[]> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { cookie } }, (res) => {
      let raw = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        raw += c;
        if (raw.includes(untilText)) {
          req.destroy();
          // Events as an EventSource sees them: their type, and their `data:` lines joined by \n.
          const events = raw
            .split(/\r\n\r\n|\n\n|\r\r/)
            .map((block) => {
              const lines = block.split(/\r\n|\r|\n/);
              const type =
                lines
                  .filter((l) => l.startsWith('event:'))
                  .at(-1)
                  ?.slice(6)
                  .trim() ?? 'message';
              const data = lines
                .filter((l) => l.startsWith('data:'))
                .map((l) => l.slice(5).trimStart())
                .join('\n');
              return { type, data };
            })
            .filter((e) => e.data !== '');
          resolve(events);
        }
      });
    });
    req.on('error', (e) => {
      if ((e as { code?: string }).code !== 'ECONNRESET') reject(e);
    });
    req.end();
  });
}

describe('hostile input', () => {
  let office: Office;
  let cookie: string;
  const at = () => new Date().toISOString();

  beforeAll(async () => {
    office = await startOffice();
    const res = await requestFrom('127.0.0.1', `${office.bridge.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ password: ADMIN_PASSWORD }).toString(),
    });
    cookie = String(res.headers['set-cookie']).split(';')[0]!;
  });
  afterAll(async () => {
    await office.close();
  });

  it('a caller number with a bare CR, or HTML, is refused with 400 naming the field; nothing is stored', async () => {
    const bad = [
      // After a bare CR the rest is a line of the event stream of its own: here, another event type.
      ['+79161234567\revent: hijacked\rdata: x', '/from'],
      ['+79161234567\rdata: <img src=x onerror=alert(1)>', '/from'],
      ['<b>+7916</b>', '/from'],
      ['+7 916 123\n45', '/from'],
    ] as const;
    for (const [from, path] of bad) {
      const res = await pbxEvents(office.bridge, {
        type: 'call.started',
        callId: 'bad-number',
        direction: 'inbound',
        from,
        to: '101',
        at: at(),
      });
      expect(res.status).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: 'INVALID_VALUE', path } });
    }
    const to = await pbxEvents(office.bridge, {
      type: 'call.started',
      callId: 'bad-number',
      direction: 'outbound',
      from: '101',
      to: '"><script>alert(1)</script>',
    });
    expect(to.json()).toMatchObject({ error: { code: 'INVALID_VALUE', path: '/to' } });
    const route = await postJson(
      `${office.bridge.url}/pbx/v1/route`,
      { callId: 'bad-route', from: 'x\ry', to: '101' },
      { authorization: 'Bearer demo-token' },
    );
    expect(route.status).toBe(400);
  });

  it('the live board keeps one well-formed event per change', async () => {
    const call = await pbxEvents(office.bridge, [
      {
        type: 'call.started',
        callId: 'board-1',
        direction: 'inbound',
        from: '+79165550101',
        to: '101',
        at: at(),
      },
      { type: 'call.ringing', callId: 'board-1', extensions: ['101'], at: at() },
    ]);
    expect(call.status).toBe(202);
    const events = await readStream(`${office.bridge.url}/board/stream`, cookie, '+79165550101');
    // Every event is the board's: no caller's number turned one into another type.
    expect(events.map((e) => e.type)).toEqual(events.map(() => 'board'));
    const last = events.at(-1)?.data ?? '';
    expect(last).toContain('board-1');
    expect(last).not.toMatch(/<img|<script|\r/);
    expect((last.match(/<tr/g) ?? []).length).toBe((last.match(/<\/tr>/g) ?? []).length);
  });

  it('a click-to-call whose number is HTML is refused, even with the genuine token; the PBX dials nothing', async () => {
    const portal = office.portals[0]!;
    const res = await postForm(`${office.bridge.url}/bitrix/events`, {
      event: 'ONEXTERNALCALLSTART',
      ts: nowTs(),
      data: { CALL_ID: 'externalCall.html.1', USER_ID: '2', PHONE_NUMBER: '<script>alert(1)</script>' },
      auth: { member_id: portal.memberId, application_token: portal.app!.applicationToken },
    });
    expect(res.status).toBe(400);
    const { error } = res.json<{ error: { code: string; message: string } }>();
    expect(error.code).toBe('INVALID_EVENT');
    expect(error.message).toContain('PHONE_NUMBER');
    expect(await pbxCommands(office.bridge)).toEqual([]);
  });

  it('JSON bodies at the Bitrix24 endpoints (auth: null, 5,000-deep data) are refused with 415, not a 500', async () => {
    let deep = '1';
    for (let i = 0; i < 5000; i++) deep = `{"a":${deep}}`;
    const bodies = [
      JSON.stringify({ event: 'ONAPPTEST', auth: null }),
      JSON.stringify({ event: 'ONEXTERNALCALLSTART', data: null, auth: { member_id: null } }),
      `{"event":"ONAPPTEST","data":${deep}}`,
    ];
    for (const path of ['/bitrix/events', '/bitrix/install', '/bitrix/app', '/bitrix/app/actions/drop'])
      for (const body of bodies) {
        const res = await postJson(`${office.bridge.url}${path}`, body);
        expect(res.status).toBe(415);
        expect(typeof res.json<{ error: { code: unknown } }>().error.code).toBe('string');
      }
  });

  it('refused requests before authentication log one short warning each: no error, no stack', () => {
    const lines = parsedLogs(office.logs);
    expect(lines.filter((l) => typeof l.level === 'number' && l.level >= 50)).toEqual([]);
    expect(office.logs.join('\n')).not.toMatch(/"stack"|at .*\.ts:\d+/);
    const refused = lines.filter((l) => l.msg === 'request refused');
    expect(refused.length).toBeGreaterThanOrEqual(12);
    for (const l of refused) {
      expect(l.level).toBe(40);
      expect(Object.keys(l).sort()).toEqual(expect.arrayContaining(['code', 'status', 'route', 'from']));
      expect(l).not.toHaveProperty('err');
    }
  });
});

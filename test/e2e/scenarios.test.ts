import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendEvents, startDemoProcess, stopProcess, waitFor } from './processes.ts';

/**
 * Scenarios 2a, 2b, 3, 5 and 6 through the HTTP API alone, with the bridge as a real process
 * (`b24-bridge demo --no-simulator`, the emulator in it): the test plays the PBX, and judges by the
 * emulator's `/_emulator/` state. S4 (click-to-call) needs the portal's events (test/e2e/bitrix-app.test.ts).
 */

interface EmulatorCall {
  callId: string;
  externalCallId: string | null;
  userId: number;
  shown: boolean;
  finished: boolean;
  finishedBy: number | null;
  duration: number | null;
  statusCode: string | null;
  recordings: { filename: string; size: number }[];
}
interface Card {
  userId: number;
  callId: string;
}
interface Command {
  commandId: string;
  type: string;
  callId: string;
  extension: string;
}

let child: ChildProcess;
let bridgeUrl = '';
let emulatorUrl = '';
const auth = { authorization: 'Bearer demo-token' };
const base = Date.now();
let n = 0;

async function inspect<T>(path: string): Promise<T> {
  const res = await fetch(`${emulatorUrl}/_emulator/${path}`);
  return (await res.json()) as T;
}

async function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${bridgeUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify(body),
  });
}

async function send(events: unknown): Promise<void> {
  const res = await sendEvents(bridgeUrl, events);
  expect(res.status, await res.clone().text()).toBe(202);
}

/** A call of the test's PBX: its id, and `at` times in seconds from its start. */
function newCall(name: string): { callId: string; at: (sec: number) => string; start: number } {
  n += 1;
  const start = base + n * 3_600_000;
  return {
    callId: `e2e-${name}-${String(base)}`,
    at: (sec) => new Date(start + sec * 1000).toISOString(),
    start,
  };
}

const cardUsers = async (): Promise<number[]> =>
  (await inspect<Card[]>('cards')).map((c) => c.userId).sort((a, b) => a - b);

async function callOf(callId: string, start: number): Promise<EmulatorCall | undefined> {
  const calls = await inspect<EmulatorCall[]>(
    `calls?externalCallId=${encodeURIComponent(`${callId}@${start}`)}`,
  );
  return calls[0];
}

const finished = (callId: string, start: number): Promise<EmulatorCall> =>
  waitFor(`${callId} finished`, async () => {
    const call = await callOf(callId, start);
    return call?.finished === true ? call : undefined;
  });

const noCards = (): Promise<true> =>
  waitFor('no card left', async () => ((await cardUsers()).length === 0 ? true : undefined));

describe('the demo as a process: scenarios 2, 3, 5, 6 over the PBX API', () => {
  beforeAll(async () => {
    ({ child, bridgeUrl, emulatorUrl } = await startDemoProcess([
      '--no-simulator',
      '--port',
      '0',
      '--emulator-port',
      '0',
    ]));
  });

  afterAll(() => stopProcess(child));

  it('S2a: an unknown caller on Sales rings 101, 102, 103 at once; the answer hides the others', async () => {
    const { callId, at, start } = newCall('s2a');
    const from = '+79990000001';
    await send({
      type: 'call.started',
      callId,
      direction: 'inbound',
      from,
      to: '+74950000001',
      line: '+74950000001',
      at: at(0),
    });
    const route = await post('/pbx/v1/route', { callId, from, to: '+74950000001', line: '+74950000001' });
    const { plan } = (await route.json()) as { plan: { extensions: string[] }[] };
    expect(plan[0]?.extensions.sort()).toEqual(['101', '102', '103']);
    await send({ type: 'call.ringing', callId, extensions: ['101', '102', '103'], at: at(1) });
    await waitFor('cards for users 2, 3, 4', async () => {
      const users = await cardUsers();
      return users.join() === '2,3,4' ? true : undefined;
    });
    await send({ type: 'call.answered', callId, extension: '102', at: at(5) });
    await waitFor('the card of user 3 only', async () =>
      (await cardUsers()).join() === '3' ? true : undefined,
    );
    await send([
      { type: 'call.ended', callId, reason: 'completed', at: at(35) },
      { type: 'recording.ready', callId, url: 'https://pbx.example.com/r/s2a.mp3', at: at(36) },
    ]);
    expect(await finished(callId, start)).toMatchObject({ finishedBy: 3, duration: 30, statusCode: '200' });
    await noCards();
  });

  it('S2b: Support hunts 101 then 102, the card moving with the ringing', async () => {
    const { callId, at, start } = newCall('s2b');
    const from = '+79990000002';
    await send({
      type: 'call.started',
      callId,
      direction: 'inbound',
      from,
      to: '+74950000002',
      line: '+74950000002',
      at: at(0),
    });
    const route = await post('/pbx/v1/route', { callId, from, to: '+74950000002', line: '+74950000002' });
    const { plan } = (await route.json()) as { plan: { extensions: string[]; timeoutSec: number }[] };
    expect(plan.map((s) => s.extensions.join())).toEqual(['101', '102', '103']);
    expect(plan[0]?.timeoutSec).toBe(5);
    // The PBX follows the plan; the `at` times say 5 s passed, without the test waiting them.
    await send({ type: 'call.ringing', callId, extensions: ['101'], at: at(1) });
    await waitFor('the card of user 2', async () => ((await cardUsers()).join() === '2' ? true : undefined));
    await send([
      { type: 'call.ring_stopped', callId, extensions: ['101'], at: at(6) },
      { type: 'call.ringing', callId, extensions: ['102'], at: at(6) },
    ]);
    await waitFor('the card moved to user 3', async () =>
      (await cardUsers()).join() === '3' ? true : undefined,
    );
    await send({ type: 'call.answered', callId, extension: '102', at: at(8) });
    await send([
      { type: 'call.ended', callId, reason: 'completed', at: at(20) },
      { type: 'recording.ready', callId, url: 'https://pbx.example.com/r/s2b.mp3', at: at(21) },
    ]);
    expect(await finished(callId, start)).toMatchObject({ finishedBy: 3, duration: 12 });
    await noCards();
  });

  it('S3: a known caller on Sales is transferred to Boris (102), who gets the card', async () => {
    const { callId, at, start } = newCall('s3');
    const from = '+79161234567';
    await send({
      type: 'call.started',
      callId,
      direction: 'inbound',
      from,
      to: '+74950000001',
      line: '+74950000001',
      at: at(0),
    });
    await post('/pbx/v1/route', { callId, from, to: '+74950000001', line: '+74950000001' });
    // The responsible manager is found in the CRM after the register: the transfer comes from an
    // outbox step of its own, and reaches the PBX at the long poll.
    const transfer = await waitFor('the transfer command', async () => {
      const res = await fetch(`${bridgeUrl}/pbx/v1/commands?wait=1`, { headers: auth });
      const list = (await res.json()) as Command[];
      return list.find((c) => c.callId === callId && c.type === 'transfer');
    });
    expect(transfer.extension).toBe('102');
    const ack = await post(`/pbx/v1/commands/${transfer.commandId}/ack`, { status: 'done' });
    expect(ack.status).toBe(204);
    await send({ type: 'call.ringing', callId, extensions: ['102'], at: at(2) });
    await waitFor('the card of user 3', async () => ((await cardUsers()).join() === '3' ? true : undefined));
    await send({ type: 'call.answered', callId, extension: '102', at: at(4) });
    await send([
      { type: 'call.ended', callId, reason: 'completed', at: at(64) },
      { type: 'recording.ready', callId, url: 'https://pbx.example.com/r/s3.mp3', at: at(65) },
    ]);
    expect(await finished(callId, start)).toMatchObject({ finishedBy: 3, duration: 60 });
    await noCards();
  });

  it('S5: the card goes at hang-up, the finish waits for the uploaded recording, which is attached', async () => {
    const { callId, at, start } = newCall('s5');
    await send([
      { type: 'call.started', callId, direction: 'inbound', from: '+79990000005', to: '101', at: at(0) },
      { type: 'call.ringing', callId, extensions: ['101'], at: at(1) },
      { type: 'call.answered', callId, extension: '101', at: at(3) },
    ]);
    await waitFor('the card of user 2', async () => ((await cardUsers()).join() === '2' ? true : undefined));
    await send({ type: 'call.ended', callId, reason: 'completed', at: at(23) });
    await noCards();
    const before = await waitFor('the registered call', () => callOf(callId, start));
    expect(before.finished).toBe(false);
    const content = Buffer.from('ID3 a tiny recording of the S5 call');
    await send({
      type: 'recording.ready',
      callId,
      contentBase64: content.toString('base64'),
      filename: 's5.mp3',
      at: at(30),
    });
    const call = await waitFor('the finish with the recording', async () => {
      const c = await callOf(callId, start);
      return c?.finished === true && c.recordings.length > 0 ? c : undefined;
    });
    expect(call).toMatchObject({ finishedBy: 2, duration: 20 });
    expect(call.recordings[0]?.size).toBe(content.byteLength);
  });

  it('S6: a call during an outage is logged afterwards with SHOW=0 and never shown', async () => {
    await fetch(`${emulatorUrl}/_emulator/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ outage: 'refuse' }),
    });
    const { callId, at, start } = newCall('s6');
    try {
      await send([
        { type: 'call.started', callId, direction: 'inbound', from: '+79990000006', to: '101', at: at(0) },
        { type: 'call.ringing', callId, extensions: ['101'], at: at(1) },
        { type: 'call.answered', callId, extension: '101', at: at(2) },
        { type: 'call.ended', callId, reason: 'completed', at: at(17) },
        { type: 'recording.ready', callId, url: 'https://pbx.example.com/r/s6.mp3', at: at(18) },
      ]);
      // The bridge has tried and found the link down (the call is not there yet).
      await waitFor('the link down', async () => {
        const health = (await (await fetch(`${bridgeUrl}/healthz`)).json()) as {
          portals: { link: string }[];
        };
        return health.portals[0]?.link === 'down' ? true : undefined;
      });
    } finally {
      await fetch(`${emulatorUrl}/_emulator/faults`, { method: 'DELETE' });
    }
    const call = await finished(callId, start).catch(async () => finishedSlow(callId, start));
    expect(call).toMatchObject({ shown: false, finishedBy: 2, duration: 15 });
    expect(await cardUsers()).toEqual([]);
  });
});

/** The outbox probes a down link with a growing delay: give the recovery a longer bound. */
const finishedSlow = (callId: string, start: number): Promise<EmulatorCall> =>
  waitFor(
    `${callId} finished after the outage`,
    async () => {
      const call = await callOf(callId, start);
      return call?.finished === true ? call : undefined;
    },
    30_000,
  );

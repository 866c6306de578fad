import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendEvents, startDemoProcess, stopProcess, waitFor } from './processes.ts';

/**
 * Scenario 1 through the HTTP API alone, with the bridge as a real process (`b24-bridge demo
 * --no-simulator`, the emulator in it): a call to extension 101 shows the card to Anna (user 2),
 * hides it at hang-up, and is finished by her with the duration of the PBX's `at` times once the
 * recording arrives.
 */

interface EmulatorCall {
  externalCallId: string | null;
  userId: number;
  finished: boolean;
  finishedBy: number | null;
  duration: number | null;
  statusCode: string | null;
}
interface Card {
  userId: number;
  callId: string;
}

let child: ChildProcess;
let bridgeUrl = '';
let emulatorUrl = '';

async function inspect<T>(path: string): Promise<T> {
  const res = await fetch(`${emulatorUrl}/_emulator/${path}`);
  return (await res.json()) as T;
}

const send = (events: unknown): Promise<Response> => sendEvents(bridgeUrl, events);

describe('the demo as a process: scenario 1 over the PBX API', () => {
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

  it('shows the card to user 2, hides it, and finishes the call with its recording', async () => {
    const start = Date.parse('2026-03-10T12:00:00.000Z');
    const iso = (offsetSec: number): string => new Date(start + offsetSec * 1000).toISOString();
    const callId = `e2e-s1-${Date.now()}`;
    const started = await send([
      { type: 'call.started', callId, direction: 'inbound', from: '+79161234567', to: '101', at: iso(0) },
      { type: 'call.ringing', callId, extensions: ['101'], at: iso(1) },
    ]);
    expect(started.status).toBe(202);
    expect(await started.json()).toEqual({ accepted: 2 });

    await waitFor('the card of user 2', async () => {
      const cards = await inspect<Card[]>('cards');
      return cards.find((c) => c.userId === 2);
    });

    expect((await send({ type: 'call.answered', callId, extension: '101', at: iso(4) })).status).toBe(202);
    expect((await send({ type: 'call.ended', callId, reason: 'completed', at: iso(46) })).status).toBe(202);
    // A repeated event is harmless.
    expect((await send({ type: 'call.ended', callId, reason: 'completed', at: iso(46) })).status).toBe(202);
    const recording = await send({
      type: 'recording.ready',
      callId,
      url: 'https://pbx.example.com/recordings/e2e-s1.mp3',
      at: iso(50),
    });
    expect(recording.status).toBe(202);

    const call = await waitFor('the finished call', async () => {
      const calls = await inspect<EmulatorCall[]>(
        `calls?externalCallId=${encodeURIComponent(`${callId}@${start}`)}`,
      );
      const found = calls[0];
      return found?.finished === true ? found : undefined;
    });
    expect(call).toMatchObject({ userId: 2, finishedBy: 2, duration: 42, statusCode: '200' });
    await waitFor('the card to be gone', async () => {
      const cards = await inspect<Card[]>('cards');
      return cards.length === 0 ? true : undefined;
    });
  });
});

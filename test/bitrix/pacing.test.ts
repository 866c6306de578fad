import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { RequestEvent } from '../../src/bitrix/index.ts';
import { startHarness, waitFor, type Harness } from './helpers.ts';

interface CardLogEntry {
  at: number;
  action: 'show' | 'hide';
  userId: number;
  callId: string;
}

const methods = (r: RequestEvent): string[] => r.commands.map((c) => c.method.split('.').pop() ?? '');

/**
 * The client's pacing against the emulated portal: a card goes the moment it is decided, work
 * without one waits for bigger batches and keeps off the card reserve.
 */
describe('pacing: cards never wait behind logging', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('a finish held while the portal is busy: its hide leaves at once, the finish after it', async () => {
    h = await startHarness();
    const { api, client, memberId } = h;
    // Ten requests: the bucket is busy (idle is below a tenth of the burst).
    for (let i = 0; i < 10; i++) await api.app.info();
    const call = await api.externalCall.register({
      userId: 2,
      phoneNumber: '+79990002211',
      type: 'incoming',
      externalCallId: 'held-finish',
    });
    const sent: RequestEvent[] = [];
    client.on('request', (r) => sent.push(r));
    const cardsBefore = (await h.inspect<CardLogEntry[]>('card-log')).length;

    // Something else going on (a slow read in flight): a finish now would be held.
    await h.faults({ latencyMs: 200 });
    const read = api.app.info();
    await waitFor(client, 'request', (r) => r.memberId === memberId);
    const first = waitFor(client, 'request', (r) => r.memberId === memberId);
    const finish = api.externalCall.finish({ callId: call.callId, userId: 2, duration: 30 });
    const [hide]: [RequestEvent] = await first;
    expect(methods(hide)).toEqual(['hide']);
    await read;
    await h.clearFaults();
    // Once nothing else is going on, the held finish has nothing to wait for: it goes.
    expect(await finish).toMatchObject({ status: 'finished' });
    const log = (await h.inspect<CardLogEntry[]>('card-log')).slice(cardsBefore);
    expect(log[0]).toMatchObject({ action: 'hide', userId: 2, callId: call.callId });
    expect(sent.map(methods)).toEqual([['info'], ['hide'], ['finish']]);
  });

  it('work without a card waits off the reserve; a card goes at once and takes it along', async () => {
    // The client's mirror: 17 usable places (20 less 3), the top 4 for cards only.
    h = await startHarness({ clientLimit: { rate: 2, burst: 20 } });
    const { api, client, memberId } = h;
    // Up to the reserve: a read more must wait until the level is 12 again (half a second or more).
    while (client.state(memberId).bucketLevel < 12.5) await api.app.info();
    const sent: RequestEvent[] = [];
    client.on('request', (r) => sent.push(r));
    const read = api.app.info();
    await nextTurn();
    await nextTurn();
    expect(sent).toEqual([]);
    expect(client.state(memberId).byLane.read).toBe(1);

    const call = api.externalCall.register({
      userId: 2,
      phoneNumber: '+79990002212',
      type: 'incoming',
      externalCallId: 'reserve-card',
    });
    await Promise.all([call, read]);
    expect(sent.map(methods)).toEqual([['register', 'info']]);
  });
});

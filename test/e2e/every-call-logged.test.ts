import type { Simulator } from 'b24-pbx-simulator';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { captureMessages, FakeAmi } from '../pbx/asterisk/fake-ami.ts';
import { entryCounts, installedBridge, waitFor, type InstalledBridge } from './processes.ts';
import {
  asteriskPbx,
  cardLogOf,
  cardsUp,
  failedEntriesOf,
  finishedCall,
  freshCapture,
  linkedidOf,
  officePbx,
  picksUp,
  portalCallsOf,
  portalLatency,
  slow,
  SUPPORT,
} from './office.ts';

/**
 * Every inbound call from outside ends in exactly one record in Bitrix24, whatever happened on the
 * PBX, and no default user is configured: a call that rang nobody is logged to the dialled
 * extension's user, or else to the portal's installer (Admin, user 1). Real processes, the portal
 * 400 ms late; once through the PBX API (the simulator rings the plans the bridge returns), once
 * through the Asterisk adapter replaying AMI captures.
 */
const engine = {
  recording: { maxWaitSec: 0, hideGraceSec: 0 },
} as const;

/** The one record of a PBX call, finished, once nothing is left to deliver. */
async function oneRecord(t: InstalledBridge, pbxCallId: string) {
  const call = await finishedCall(t.emulator, pbxCallId);
  await waitFor('the outbox settled', () => {
    const counts = entryCounts(t.setup.sqlitePath);
    return Promise.resolve((counts.pending ?? 0) + (counts.in_flight ?? 0) === 0 ? counts : undefined);
  });
  expect(await portalCallsOf(t.emulator, pbxCallId)).toHaveLength(1);
  expect(failedEntriesOf(t.setup.sqlitePath, pbxCallId)).toEqual([]);
  await waitFor('no card left', async () => ((await cardsUp(t.emulator)).length === 0 ? true : undefined));
  return call;
}

describe('every inbound call is logged, through the PBX API', () => {
  const t = installedBridge('b24-logged-', { config: { engine } });
  let pbx: Simulator | undefined;
  beforeAll(async () => {
    await portalLatency(t.emulator, 400);
  });
  afterEach(async () => {
    await pbx?.stop();
    pbx = undefined;
  });

  /** Calls that keep these phones busy for `sec` (answered at once); resolved when they are over. */
  async function occupy(sim: Simulator, extensions: string[], sec: number): Promise<() => Promise<void>> {
    const answered = new Set<string>();
    const onDelivered = (events: readonly { type: string; extension?: string }[]): void => {
      for (const e of events) if (e.type === 'call.answered' && e.extension) answered.add(e.extension);
    };
    sim.events.on('events.delivered', onDelivered);
    const calls = extensions.map((to, i) =>
      sim.placeCall({ from: `+7999000100${String(i)}`, to, talkSec: sec, patienceSec: 60 }),
    );
    await waitFor('the phones busy', () =>
      Promise.resolve(extensions.every((e) => answered.has(e)) ? true : undefined),
    );
    sim.events.off('events.delivered', onDelivered);
    return async () => {
      await Promise.all(calls);
    };
  }

  it('a busy extension: registered without a card, finished 486 for the extension’s user', async () => {
    pbx = await officePbx(t.setup.url, [picksUp('103', 0.2)]);
    const done = await occupy(pbx, ['103'], 4);
    const result = await pbx.placeCall({ from: '+79990002001', to: '103', patienceSec: 30 });
    expect(result).toMatchObject({ reason: 'busy', answeredBy: null });
    const call = await oneRecord(t, result.callId);
    expect(call).toMatchObject({ userId: 4, finishedBy: 4, statusCode: '486', shown: false, duration: 0 });
    await done();
  });

  it('every queue member busy: the plan is empty, one missed record for the installer', async () => {
    pbx = await officePbx(t.setup.url, [picksUp('101', 0.2), picksUp('102', 0.2), picksUp('103', 0.2)]);
    const done = await occupy(pbx, ['101', '102', '103'], 5);
    const result = await pbx.placeCall({ from: '+79990002002', to: SUPPORT, patienceSec: 30 });
    expect(result.answeredBy).toBeNull();
    const call = await oneRecord(t, result.callId);
    expect(call).toMatchObject({ finishedBy: 1, statusCode: '304', shown: false });
    await done();
  });

  it('the caller hangs up before anything rings: one missed record, no card', async () => {
    pbx = await officePbx(t.setup.url, [slow('101'), slow('102'), slow('103')]);
    const result = await pbx.placeCall({ from: '+79990002003', to: SUPPORT, patienceSec: 0 });
    expect(result).toMatchObject({ reason: 'cancelled', answeredBy: null });
    const call = await oneRecord(t, result.callId);
    expect(call).toMatchObject({ finishedBy: 1, statusCode: '304', shown: false });
  });

  it('the caller gives up waiting in the queue: one missed record for the member who rang last', async () => {
    pbx = await officePbx(t.setup.url, [slow('101'), slow('102'), slow('103')]);
    const result = await pbx.placeCall({ from: '+79990002004', to: SUPPORT, patienceSec: 3 });
    expect(result).toMatchObject({ reason: 'cancelled', answeredBy: null });
    const call = await oneRecord(t, result.callId);
    expect(call).toMatchObject({ finishedBy: 2, statusCode: '304', shown: true });
    // Anna's card while her phone rang; down when it stopped (the finish hides it once more).
    const log = (await cardLogOf(t.emulator, call.callId)).map((e) => `${e.action} ${e.userId}`);
    expect(log.slice(0, 2)).toEqual(['show 2', 'hide 2']);
    expect(log.filter((e) => e.startsWith('show'))).toEqual(['show 2']);
  });
});

describe('every inbound call is logged, through the Asterisk adapter', () => {
  let ami: FakeAmi;
  beforeAll(async () => {
    ami = await FakeAmi.start();
  });
  afterAll(async () => {
    await ami.close();
  });
  const t = installedBridge('b24-logged-ami-', {
    config: () => ({
      engine: {
        ...engine,
        // The queue capture's members.
        directory: [
          { extension: '201', userId: 2 },
          { extension: '202', userId: 3 },
          { extension: '203', userId: 4 },
        ],
      },
      pbx: [...asteriskPbx(ami.port)],
    }),
  });
  beforeAll(async () => {
    await waitFor('the AMI login', () => Promise.resolve(ami.logins > 0 ? true : undefined));
    await portalLatency(t.emulator, 400);
  });

  let run = 3000;
  const fresh = (messages: string[]): string[] => freshCapture(messages, (run += 1));
  const idOf = linkedidOf;
  /** Hangup of every channel the messages opened (what Asterisk sends when the caller gives up). */
  const hangups = (messages: string[], cause = '16'): string[] =>
    messages
      .filter((m) => m.startsWith('Event: Newchannel'))
      .reverse()
      .map((m) => {
        const get = (k: string): string => new RegExp(`^${k}: (.*)$`, 'm').exec(m)?.[1] ?? '';
        return [
          'Event: Hangup',
          'Privilege: call,all',
          `Channel: ${get('Channel')}`,
          'ChannelStateDesc: Ring',
          `Uniqueid: ${get('Uniqueid')}`,
          `Linkedid: ${get('Linkedid')}`,
          `Cause: ${cause}`,
          'Cause-txt: Normal Clearing',
        ].join('\r\n');
      });

  it('12, the busy extension: one record, 486, for the extension’s user, no card', async () => {
    const messages = fresh(captureMessages('12-inbound-busy'));
    ami.send(messages);
    const call = await oneRecord(t, idOf(messages));
    expect(call).toMatchObject({ userId: 4, finishedBy: 4, statusCode: '486', shown: false });
  });

  it('a caller held in the dialplan who hangs up before anything rings: one missed record', async () => {
    const capture = fresh(captureMessages('13-inbound-redirect'));
    const held = capture.slice(
      0,
      capture.findIndex((m) => m.includes('Message: Redirect successful')),
    );
    ami.send([...held, ...hangups(held)]);
    const call = await oneRecord(t, idOf(held));
    expect(call).toMatchObject({ finishedBy: 1, statusCode: '304', shown: false });
  });

  it('a queue whose members are all busy, the caller giving up: one missed record', async () => {
    const capture = fresh(captureMessages('03-queue-ringall'));
    // The caller joins the queue; no member is free, so none is called.
    const joined = capture.slice(0, capture.findIndex((m) => m.startsWith('Event: QueueCallerJoin')) + 1);
    const abandon = [
      'Event: QueueCallerAbandon',
      'Privilege: agent,all',
      /^Channel: .*$/m.exec(joined.at(-1) ?? '')?.[0] ?? '',
      /^Uniqueid: .*$/m.exec(joined.at(-1) ?? '')?.[0] ?? '',
      /^Linkedid: .*$/m.exec(joined.at(-1) ?? '')?.[0] ?? '',
      'Queue: support',
      'Position: 1',
      'OriginalPosition: 1',
      'HoldTime: 8',
    ].join('\r\n');
    ami.send([...joined, abandon, ...hangups(joined)]);
    const call = await oneRecord(t, idOf(joined));
    expect(call).toMatchObject({ finishedBy: 1, statusCode: '304', shown: false });
  });

  it('a queue abandoned while its members ring: one missed record, every card down', async () => {
    const capture = fresh(captureMessages('03-queue-ringall'));
    const ringing = capture.slice(
      0,
      capture.findIndex(
        (m) =>
          m.startsWith('Event: DialEnd') &&
          m.includes('DialStatus: ANSWER') &&
          m.includes('Local/202@sim-phones'),
      ),
    );
    ami.send([...ringing, ...hangups(ringing)]);
    const call = await oneRecord(t, idOf(ringing));
    expect(call).toMatchObject({ statusCode: '304' });
    expect([2, 3, 4]).toContain(call.finishedBy);
    const log = await cardLogOf(t.emulator, call.callId);
    expect(new Set(log.filter((e) => e.action === 'show').map((e) => e.userId))).toEqual(new Set([2, 3, 4]));
  });
});

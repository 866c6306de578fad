import { describe, expect, it } from 'vitest';
import { defaultReconnectPolicy } from '../../../src/pbx/asterisk/client.ts';
import { delay } from '../../../src/retry/index.ts';
import { deviceMap } from '../../../src/pbx/asterisk/devices.ts';
import { AmiCallMapper, type MappedEvent } from '../../../src/pbx/asterisk/mapper.ts';
import { captureFrames, line, mapCapture, simDevices } from './helpers.ts';

const byCall = (events: MappedEvent[]): Map<string, string[]> => {
  const out = new Map<string, string[]>();
  for (const e of events) out.set(e.callId, [...(out.get(e.callId) ?? []), line(e)]);
  return out;
};

const CALLER = '+79161234567';

describe('each capture maps to the normalized events of what happened', () => {
  it('01 direct call answered', () => {
    const { events, mapper } = mapCapture('01-inbound-direct');
    expect(events.map(line)).toEqual([
      `started inbound ${CALLER} → 101`,
      'ringing 101',
      'answered 101',
      'ended completed',
    ]);
    expect(new Set(events.map((e) => e.callId))).toEqual(new Set(['1795475626.0']));
    expect(mapper.liveCalls).toBe(0);
  });

  it('02 recorded call: the MixMonitor file once the call is over', () => {
    const { events } = mapCapture('02-inbound-recorded');
    expect(events.map(line)).toEqual([
      `started inbound ${CALLER} → 102`,
      'ringing 102',
      'answered 102',
      'ended completed',
      'recording 20261123-231357-79161234567-102-1795475637.5.wav',
    ]);
  });

  it('03 ringall queue: all ring, one answers, the others stop', () => {
    const { events } = mapCapture('03-queue-ringall');
    expect(events.map(line)).toEqual([
      `started inbound ${CALLER} → 600`,
      'ringing 201',
      'ringing 202',
      'ringing 203',
      'answered 202',
      'ring_stopped 201 203',
      'ended completed',
      'recording 20261123-231408-79161234567-600-1795475648.9.wav',
    ]);
  });

  it('03 in route mode: the Dial events alone give the same calls', () => {
    expect(mapCapture('03-queue-ringall', undefined, 'route').events.map(line)).toEqual(
      mapCapture('03-queue-ringall').events.map(line),
    );
  });

  it('05 rrmemory queue: two calls, one member at a time', () => {
    const calls = byCall(mapCapture('05-queue-rrmemory').events);
    expect([...calls.values()]).toEqual([
      [
        `started inbound ${CALLER} → 602`,
        'ringing 201',
        'ring_stopped 201',
        'ringing 202',
        'answered 202',
        'ended completed',
      ],
      [
        `started inbound ${CALLER} → 602`,
        'ringing 203',
        'ring_stopped 203',
        'ringing 201',
        'ring_stopped 201',
        'ringing 202',
        'answered 202',
        'ended completed',
      ],
    ]);
  });

  it("07 click-to-call: reported under the command's call id, answered when the far end answers", () => {
    const { events } = mapCapture('07-click-to-call', (m) =>
      m.expectOriginate({
        channelId: 'c2c-0001-a',
        callId: 'engine-call-1',
        extension: '101',
        number: '+74957654321',
      }),
    );
    expect(events.map(line)).toEqual([
      'started outbound 101 → +74957654321',
      'ringing 101',
      'answered 101',
      'ended completed',
      'recording 20261123-231511-101-74957654321-c2c-0001-a.wav',
    ]);
    expect(new Set(events.map((e) => e.callId))).toEqual(new Set(['engine-call-1']));
  });

  it('07 without an Originate of ours: an outbound call of 101 all the same', () => {
    const lines = mapCapture('07-click-to-call').events.map(line);
    expect(lines[0]).toBe('started outbound 101 → +74957654321');
    expect(lines).toContain('answered 101');
    expect(lines).not.toContain('ringing 101');
  });

  it('10 caller hangs up while it rings: cancelled', () => {
    expect(mapCapture('10-inbound-missed-caller-hangup').events.map(line)).toEqual([
      `started inbound ${CALLER} → 104`,
      'ringing 104',
      'ring_stopped 104',
      'ended cancelled',
    ]);
  });

  it('11 nobody answers until the Dial timeout: no_answer', () => {
    expect(mapCapture('11-inbound-noanswer-timeout').events.map(line)).toEqual([
      `started inbound ${CALLER} → 104`,
      'ringing 104',
      'ring_stopped 104',
      'ended no_answer',
    ]);
  });

  it('12 busy extension: busy, and no card ever shown', () => {
    expect(mapCapture('12-inbound-busy').events.map(line)).toEqual([
      `started inbound ${CALLER} → 103`,
      'ended busy',
    ]);
  });

  it('13 redirected caller: the new phone rings and answers (the adapter adds the transfer itself)', () => {
    const { events } = mapCapture('13-inbound-redirect');
    expect(events.map(line)).toEqual([
      `started inbound ${CALLER} → 200`,
      'ringing 102',
      'answered 102',
      'ended completed',
    ]);
  });

  it('16 attended transfer: the target rings inside the call while it is answered, then takes it', () => {
    const { events, mapper } = mapCapture('16-attended-transfer');
    expect(events.map(line)).toEqual([
      `started inbound ${CALLER} → 101`,
      'ringing 101',
      'answered 101',
      // The consultation's channels carry the call's Linkedid: the target's ringing is the call's.
      'ringing 102',
      'answered 102',
      'transferred 102',
      'answered 102',
      'ended completed',
    ]);
    expect(new Set(events.map((e) => e.callId))).toEqual(new Set(['1795476100.70']));
    expect(mapper.liveCalls).toBe(0);
  });

  it("15 status actions' answers change nothing: the call as in 03", () => {
    const lines = mapCapture('15-status-actions-during-call').events.map(line);
    expect(lines[0]).toBe(`started inbound ${CALLER} → 600`);
    expect(lines.filter((l) => l.startsWith('started'))).toHaveLength(1);
    expect(lines).toContain('answered 202');
    expect(lines.at(-1)).toBe('ended completed');
  });
});

describe('what the captures do not show', () => {
  const frame = (f: Record<string, string>) => f;
  const chan = (name: string, uniqueid: string, linkedid: string, extra: Record<string, string> = {}) =>
    frame({ Channel: name, Uniqueid: uniqueid, Linkedid: linkedid, ...extra });

  function run(frames: Record<string, string>[]): string[] {
    const mapper = new AmiCallMapper({ devices: deviceMap(simDevices) });
    const out: MappedEvent[] = [];
    for (const f of frames) mapper.push(f, 1000, out);
    return out.map(line);
  }

  const trunk = chan('PJSIP/trunk-00000001', '1.1', '1.1', { CallerIDNum: CALLER, Exten: '+74950000001' });
  const phone101 = chan('PJSIP/101-00000002', '1.2', '1.1');
  const phone102 = chan('PJSIP/102-00000003', '1.3', '1.1');

  it('a blind transfer by the agent: transferred, then the new phone', () => {
    expect(
      run([
        { Event: 'Newchannel', ...trunk, ChannelStateDesc: 'Ring' },
        { Event: 'Newchannel', ...phone101, ChannelStateDesc: 'Down' },
        {
          Event: 'DialBegin',
          ...trunk,
          DestChannel: phone101.Channel!,
          DestUniqueid: '1.2',
          DestLinkedid: '1.1',
        },
        { Event: 'Newstate', ...phone101, ChannelStateDesc: 'Ringing' },
        {
          Event: 'DialEnd',
          ...trunk,
          DestChannel: phone101.Channel!,
          DestUniqueid: '1.2',
          DialStatus: 'ANSWER',
        },
        {
          Event: 'BlindTransfer',
          Result: 'Success',
          TransfererChannel: phone101.Channel!,
          TransfereeChannel: trunk.Channel!,
          TransfereeLinkedid: '1.1',
          Extension: '102',
        },
        { Event: 'Hangup', ...phone101, Cause: '16' },
        { Event: 'Newchannel', ...phone102, ChannelStateDesc: 'Down' },
        { Event: 'Newstate', ...phone102, ChannelStateDesc: 'Ringing' },
        {
          Event: 'DialEnd',
          ...trunk,
          DestChannel: phone102.Channel!,
          DestUniqueid: '1.3',
          DialStatus: 'ANSWER',
        },
        { Event: 'Hangup', ...phone102, Cause: '16' },
        { Event: 'Hangup', ...trunk, Cause: '16' },
      ]),
    ).toEqual([
      `started inbound ${CALLER} → +74950000001`,
      'ringing 101',
      'answered 101',
      'transferred 102',
      'ringing 102',
      'answered 102',
      'ended completed',
    ]);
  });

  it("an attended transfer: the consultation call ends, the caller's call moves to the target", () => {
    const consult101 = chan('PJSIP/101-00000004', '2.1', '2.1', { Exten: '102' });
    const consult102 = chan('PJSIP/102-00000005', '2.2', '2.1');
    const lines = run([
      { Event: 'Newchannel', ...trunk, ChannelStateDesc: 'Ring' },
      { Event: 'Newchannel', ...phone101, ChannelStateDesc: 'Down' },
      {
        Event: 'DialEnd',
        ...trunk,
        DestChannel: phone101.Channel!,
        DestUniqueid: '1.2',
        DialStatus: 'ANSWER',
      },
      { Event: 'Newchannel', ...consult101, ChannelStateDesc: 'Ring' },
      {
        Event: 'DialBegin',
        ...consult101,
        DestChannel: consult102.Channel!,
        DestUniqueid: '2.2',
        DestLinkedid: '2.1',
        DestExten: '102',
      },
      {
        Event: 'DialEnd',
        ...consult101,
        DestChannel: consult102.Channel!,
        DestUniqueid: '2.2',
        DialStatus: 'ANSWER',
      },
      {
        Event: 'AttendedTransfer',
        Result: 'Success',
        TransfereeLinkedid: '1.1',
        TransferTargetChannel: consult102.Channel!,
      },
      { Event: 'Hangup', ...phone101 },
      { Event: 'Hangup', ...consult101 },
      { Event: 'Hangup', ...consult102, Linkedid: '1.1' },
      { Event: 'Hangup', ...trunk },
    ]);
    expect(lines.slice(0, 3)).toEqual([
      `started inbound ${CALLER} → +74950000001`,
      'answered 101',
      'started outbound 101 → 102',
    ]);
    // The target was already on the line: the call is answered there at once.
    expect(lines[lines.indexOf('transferred 102') + 1]).toBe('answered 102');
    expect(lines.filter((l) => l.startsWith('ended'))).toEqual(['ended completed', 'ended completed']);
  });

  it('a phone dialling a feature code (*97, its voicemail) is no call: nothing is reported', () => {
    const phone = chan('PJSIP/101-0000000c', '4.1', '4.1', { Exten: '*97', CallerIDNum: '101' });
    expect(
      run([
        { Event: 'Newchannel', ...phone, ChannelStateDesc: 'Ring' },
        { Event: 'Newstate', ...phone, ChannelStateDesc: 'Up' },
        { Event: 'Hangup', ...phone, Cause: '16' },
      ]),
    ).toEqual([]);
  });

  it("a Redirect to a queue member who rings: the queue's dial to them ends without a ring_stopped", () => {
    const mapper = new AmiCallMapper({ devices: deviceMap(simDevices) });
    const out: MappedEvent[] = [];
    const frames = captureFrames('03-queue-ringall');
    // Up to the moment all three members ring (before 202 answers).
    const to202 = (f: (typeof frames)[number]) =>
      String(f.DestChannel ?? '').startsWith('Local/202@sim-phones');
    const answered = frames.findIndex((f) => f.Event === 'DialEnd' && f.DialStatus === 'ANSWER' && to202(f));
    for (const f of frames.slice(0, answered)) mapper.push(f, 1000, out);
    out.push(...mapper.transferred('1795475648.8', '202', 2000));
    // Asterisk cancels the queue's dials; the redirected caller's new dial rings 202.
    const leg202 = frames.find((f) => f.Event === 'DialBegin' && to202(f));
    mapper.push({ ...leg202, Event: 'DialEnd', DialStatus: 'CANCEL' }, 2001, out);
    mapper.push(
      {
        Event: 'Hangup',
        Channel: leg202?.DestChannel ?? '',
        Uniqueid: leg202?.DestUniqueid ?? '',
        Linkedid: '1795475648.8',
      },
      2002,
      out,
    );
    expect(out.map(line)).toEqual([
      `started inbound ${CALLER} → 600`,
      'ringing 201',
      'ringing 202',
      'ringing 203',
      'ring_stopped 201',
      'ring_stopped 203',
      'transferred 202',
    ]);
  });

  it('a desk phone dialling out: outbound, the number its channel dialled, answered when the far end is', () => {
    const phone = chan('PJSIP/101-0000000a', '3.1', '3.1', { Exten: '84951234567', CallerIDNum: '101' });
    const trunkOut = chan('PJSIP/trunk-0000000b', '3.2', '3.1', { Exten: 's' });
    expect(
      run([
        { Event: 'Newchannel', ...phone, ChannelStateDesc: 'Ring' },
        { Event: 'Newchannel', ...trunkOut, ChannelStateDesc: 'Down' },
        {
          Event: 'DialBegin',
          ...phone,
          DestChannel: trunkOut.Channel!,
          DestUniqueid: '3.2',
          DestLinkedid: '3.1',
          DestExten: 's',
          DialString: 'trunk/84951234567',
        },
        { Event: 'Newstate', ...trunkOut, ChannelStateDesc: 'Ringing' },
        {
          Event: 'DialEnd',
          ...phone,
          DestChannel: trunkOut.Channel!,
          DestUniqueid: '3.2',
          DialStatus: 'ANSWER',
        },
        { Event: 'BridgeEnter', ...phone, BridgeNumChannels: '2' },
        { Event: 'Hangup', ...trunkOut, Cause: '16' },
        { Event: 'Hangup', ...phone, Cause: '16' },
      ]),
    ).toEqual(['started outbound 101 → 84951234567', 'answered 101', 'ended completed']);
  });

  it('a far end that is busy: an outbound call ended busy', () => {
    const phone = chan('PJSIP/101-0000000c', '4.1', '4.1', { Exten: '84951234567' });
    const trunkOut = chan('PJSIP/trunk-0000000d', '4.2', '4.1');
    expect(
      run([
        { Event: 'Newchannel', ...phone, ChannelStateDesc: 'Ring' },
        {
          Event: 'DialBegin',
          ...phone,
          DestChannel: trunkOut.Channel!,
          DestUniqueid: '4.2',
          DestLinkedid: '4.1',
        },
        {
          Event: 'DialEnd',
          ...phone,
          DestChannel: trunkOut.Channel!,
          DestUniqueid: '4.2',
          DialStatus: 'BUSY',
        },
        { Event: 'Hangup', ...trunkOut, Cause: '17' },
        { Event: 'Hangup', ...phone, Cause: '17' },
      ]),
    ).toEqual(['started outbound 101 → 84951234567', 'ended busy']);
  });

  it('a queue caller who gives up: cancelled', () => {
    expect(
      run([
        { Event: 'Newchannel', ...trunk, ChannelStateDesc: 'Ring' },
        { Event: 'QueueCallerJoin', ...trunk, Queue: 'support' },
        { Event: 'AgentCalled', ...trunk, Interface: 'PJSIP/101', DestChannel: phone101.Channel! },
        { Event: 'QueueCallerAbandon', ...trunk, Queue: 'support' },
        { Event: 'Hangup', ...trunk, Cause: '16' },
      ]),
    ).toEqual([`started inbound ${CALLER} → +74950000001`, 'ringing 101', 'ended cancelled']);
  });

  it("a failed Originate (the phone is unreachable): started and ended failed, under the engine's id", () => {
    const mapper = new AmiCallMapper({ devices: deviceMap(simDevices) });
    mapper.expectOriginate({
      channelId: 'b24-x',
      actionId: 'a-1',
      callId: 'c-1',
      extension: '101',
      number: '+7495',
    });
    const out = mapper.push(
      { Event: 'OriginateResponse', ActionID: 'a-1', Response: 'Failure', Reason: '0' },
      5,
    );
    expect(out.map(line)).toEqual(['started outbound 101 → +7495', 'ended failed']);
    expect(out.every((e) => e.callId === 'c-1')).toBe(true);
  });

  it("connected mid-call: a phone's event does not make the call outbound; the channel list does it right", () => {
    const mapper = new AmiCallMapper({ devices: deviceMap(simDevices) });
    const out: MappedEvent[] = [];
    const marker = mapper.beginResync();
    mapper.push({ Event: 'Newstate', ...phone101, ChannelStateDesc: 'Up' }, 1000, out);
    expect(out).toEqual([]);
    out.push(
      ...mapper.endResync(
        marker,
        [
          {
            Event: 'CoreShowChannel',
            ...phone101,
            ChannelStateDesc: 'Up',
            BridgeId: 'b1',
            Duration: '00:00:10',
          },
          {
            Event: 'CoreShowChannel',
            ...trunk,
            ChannelStateDesc: 'Up',
            BridgeId: 'b1',
            Duration: '00:00:12',
          },
        ],
        20_000,
      ),
    );
    mapper.push({ Event: 'Hangup', ...phone101 }, 30_000, out);
    mapper.push({ Event: 'Hangup', ...trunk }, 30_000, out);
    expect(out.map(line)).toEqual([
      `started inbound ${CALLER} → +74950000001`,
      'answered 101',
      'ended completed',
    ]);
    expect(out[0]?.at).toBe(8_000);
  });

  it("the PBX's own time when events carry it (timestampevents = yes), else the arrival time", () => {
    const mapper = new AmiCallMapper({ devices: deviceMap(simDevices) });
    const out = mapper.push({ Event: 'Newchannel', ...trunk, Timestamp: '1795475626.123456' }, 5);
    mapper.push({ Event: 'Hangup', ...trunk }, 9_000, out);
    expect(out.map((e) => e.at)).toEqual([1_795_475_626_123, 9_000]);
  });

  it('late events of a call that is over bring nothing back', () => {
    const lines = run([
      { Event: 'Newchannel', ...trunk, ChannelStateDesc: 'Ring' },
      { Event: 'Hangup', ...trunk, Cause: '16' },
      { Event: 'Newstate', ...trunk, ChannelStateDesc: 'Up' },
      { Event: 'BridgeEnter', ...phone101 },
    ]);
    expect(lines).toEqual([`started inbound ${CALLER} → +74950000001`, 'ended no_answer']);
  });
});

describe('recording paths', () => {
  it("keep FreePBX's day folders, flatten the rest, and refuse a way out of the directory", async () => {
    const { recordingPath } = await import('../../../src/pbx/asterisk/recordings.ts');
    expect(recordingPath('/var/spool/asterisk/monitor/2026/11/24/in-101-x.wav')).toBe(
      '2026/11/24/in-101-x.wav',
    );
    expect(recordingPath('/var/spool/asterisk/monitor/x.wav')).toBe('x.wav');
    expect(recordingPath('/tmp/rec/x.wav')).toBe('x.wav');
    expect(recordingPath('x.wav')).toBe('x.wav');
    expect(recordingPath('/var/spool/asterisk/monitor/../../../etc/passwd')).toBeNull();
    expect(recordingPath('/var/spool/asterisk/monitor/')).toBeNull();
  });
});

describe('reconnect policy', () => {
  it('waits longer after each failed reconnect, up to the cap, within the jitter', () => {
    const policy = { ...defaultReconnectPolicy, minDelayMs: 100, maxDelayMs: 1_000, factor: 2, jitter: 0.2 };
    // Reconnect n (0 = the first after a drop) is attempt n + 1 of the shared policy.
    const retryDelay = (p: typeof policy, n: number, random: () => number): number => delay(p, n + 1, random);
    expect([0, 1, 2, 3, 4, 10].map((n) => retryDelay(policy, n, () => 0.5))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
    expect(retryDelay(policy, 0, () => 0)).toBe(80);
    expect(retryDelay(policy, 0, () => 1)).toBe(120);
  });
});

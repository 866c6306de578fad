import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from './clock.ts';
import { startFakeBridge, timeline, type FakeBridge } from './fake-bridge.ts';
import { startSimulator, type Simulator, type SimulatorOptions } from './simulator.ts';
import { demoLines } from './settings.ts';

const KNOWN = '+79161234567';
const UNKNOWN = '+79169990000';

let bridge: FakeBridge;
let clock: ManualClock;
let sim: Simulator;
let start: number;

async function boot(options: Partial<SimulatorOptions> = {}): Promise<void> {
  sim = await startSimulator({
    bridgeUrl: bridge.url,
    token: 'demo-token',
    clock,
    seed: 7,
    agents: [
      { extension: '101', answerProbability: 1, answerAfterSec: 3 },
      { extension: '102', answerProbability: 1, answerAfterSec: 5 },
      { extension: '103', answerProbability: 0, answerAfterSec: 1 },
    ],
    talkSec: 60,
    recordingDelaySec: 2,
    callerPatienceSec: 90,
    originatePickupSec: 2,
    callee: { answerProbability: 1, answerAfterSec: 4 },
    commands: false,
    ...options,
  });
}

/** Moves the simulator's clock, letting every HTTP round trip finish before the next timer fires. */
const run = (sec: number) => clock.advance(sec * 1000, () => sim.idle());
const seen = () => timeline(bridge.events, start);

beforeEach(async () => {
  bridge = await startFakeBridge();
  clock = new ManualClock();
  start = clock.now();
});

afterEach(async () => {
  await sim.stop();
  await bridge.close();
  expect(bridge.invalid).toEqual([]);
});

describe('inbound calls execute the bridge’s plan', () => {
  it('S1: a call to an extension rings it, is answered, ends, and its recording follows', async () => {
    await boot();
    const call = sim.placeCall({ callId: 'c1', from: KNOWN, to: '101' });
    await run(120);
    const result = await call;
    expect(bridge.routeRequests).toEqual([{ type: 'route.requested', callId: 'c1', from: KNOWN, to: '101' }]);
    expect(seen()).toEqual([
      `0 c1 call.started inbound ${KNOWN} -> 101`,
      '0 c1 call.ringing 101',
      '3 c1 call.answered 101',
      '63 c1 call.ended completed',
      '65 c1 recording.ready url',
    ]);
    expect(result).toMatchObject({ reason: 'completed', answeredBy: '101', answeredAt: start + 3000 });
    expect(sim.stats()).toMatchObject({
      callsStarted: 1,
      callsActive: 0,
      callsAnswered: 1,
      busyExtensions: [],
    });
  });

  it('S2a: a simultaneous queue where the second agent answers stops the others', async () => {
    await boot({
      agents: [
        { extension: '101', answerProbability: 0, answerAfterSec: 1 },
        { extension: '102', answerProbability: 1, answerAfterSec: 5 },
        { extension: '103', answerProbability: 1, answerAfterSec: 8 },
      ],
    });
    bridge.plan = () => [{ extensions: ['101', '102', '103'], timeoutSec: 20 }];
    const call = sim.placeCall({ callId: 'q1', from: UNKNOWN, to: demoLines.sales });
    await run(120);
    await call;
    expect(bridge.routeRequests[0]).toMatchObject({ line: demoLines.sales });
    expect(seen()).toEqual([
      `0 q1 call.started inbound ${UNKNOWN} -> ${demoLines.sales} line ${demoLines.sales}`,
      '0 q1 call.ringing 101,102,103',
      '5 q1 call.answered 102',
      '5 q1 call.ring_stopped 101,103',
      '65 q1 call.ended completed',
      '67 q1 recording.ready url',
    ]);
  });

  it('S2b: a sequential queue moves on when the first agent does not answer', async () => {
    await boot({
      agents: [
        { extension: '101', answerProbability: 0, answerAfterSec: 1 },
        { extension: '102', answerProbability: 1, answerAfterSec: 2 },
        { extension: '103', answerProbability: 1, answerAfterSec: 1 },
      ],
    });
    bridge.plan = () => ['101', '102', '103'].map((e) => ({ extensions: [e], timeoutSec: 5 }));
    const call = sim.placeCall({ callId: 's1', from: UNKNOWN, to: demoLines.support });
    await run(120);
    await call;
    expect(seen()).toEqual([
      `0 s1 call.started inbound ${UNKNOWN} -> ${demoLines.support} line ${demoLines.support}`,
      '0 s1 call.ringing 101',
      '5 s1 call.ring_stopped 101',
      '5 s1 call.ringing 102',
      '7 s1 call.answered 102',
      '67 s1 call.ended completed',
      '69 s1 recording.ready url',
    ]);
  });

  it('a caller who hangs up while the phones ring cancels the call, without a recording', async () => {
    await boot({
      agents: [
        { extension: '101', answerProbability: 1, answerAfterSec: 10 },
        { extension: '102', answerProbability: 0, answerAfterSec: 1 },
      ],
    });
    bridge.plan = () => [{ extensions: ['101', '102'], timeoutSec: 20 }];
    const call = sim.placeCall({ callId: 'h1', from: UNKNOWN, to: demoLines.sales, patienceSec: 4 });
    await run(60);
    expect(await call).toMatchObject({ reason: 'cancelled', answeredBy: null, recordingUrl: null });
    expect(seen()).toEqual([
      `0 h1 call.started inbound ${UNKNOWN} -> ${demoLines.sales} line ${demoLines.sales}`,
      '0 h1 call.ringing 101,102',
      '4 h1 call.ring_stopped 101,102',
      '4 h1 call.ended cancelled',
    ]);
  });

  it('a busy agent does not ring for a second call; a plan of busy agents ends busy', async () => {
    await boot();
    const first = sim.placeCall({ callId: 'b1', from: KNOWN, to: '101' });
    await run(10);
    const second = sim.placeCall({ callId: 'b2', from: UNKNOWN, to: '101' });
    await run(1);
    expect(await second).toMatchObject({ reason: 'busy' });
    await run(120);
    await first;
    expect(seen().filter((line) => line.includes(' b2 '))).toEqual([
      `10 b2 call.started inbound ${UNKNOWN} -> 101`,
      '10 b2 call.ended busy',
    ]);
  });
});

describe('commands from the long poll', () => {
  it('transfer: the answered call moves to the new extension, and the command is acked', async () => {
    await boot({ commands: { waitSec: 1 } });
    bridge.plan = () => [{ extensions: ['101'], timeoutSec: 20 }];
    const call = sim.placeCall({ callId: 't1', from: KNOWN, to: demoLines.sales });
    await run(10);
    const acked = once(sim.events, 'command.acked');
    bridge.queueCommand({ commandId: 'cmd-1', type: 'transfer', callId: 't1', extension: '102' });
    await acked;
    await run(120);
    expect(await call).toMatchObject({ reason: 'completed', answeredBy: '102' });
    expect(seen()).toEqual([
      `0 t1 call.started inbound ${KNOWN} -> ${demoLines.sales} line ${demoLines.sales}`,
      '0 t1 call.ringing 101',
      '3 t1 call.answered 101',
      '10 t1 call.transferred 102',
      '10 t1 call.ringing 102',
      '15 t1 call.answered 102',
      '63 t1 call.ended completed',
      '65 t1 recording.ready url',
    ]);
    expect(bridge.acks).toEqual([{ commandId: 'cmd-1', ack: { status: 'done' } }]);
  });

  it('transfer of a ringing call (S3) stops the plan and rings the responsible manager', async () => {
    await boot({ commands: { waitSec: 1 } });
    bridge.plan = () => [{ extensions: ['103'], timeoutSec: 20 }];
    const call = sim.placeCall({ callId: 't2', from: KNOWN, to: demoLines.sales });
    await run(1);
    const acked = once(sim.events, 'command.acked');
    bridge.queueCommand({ commandId: 'cmd-2', type: 'transfer', callId: 't2', extension: '102' });
    await acked;
    await run(120);
    await call;
    expect(seen().slice(1, 6)).toEqual([
      '0 t2 call.ringing 103',
      '1 t2 call.ring_stopped 103',
      '1 t2 call.transferred 102',
      '1 t2 call.ringing 102',
      '6 t2 call.answered 102',
    ]);
  });

  it('originate (click-to-call): rings the agent, dials the number, reports under the given callId', async () => {
    await boot({ commands: { waitSec: 1 } });
    const ended = once(sim.events, 'call.ended');
    const acked = once(sim.events, 'command.acked');
    bridge.queueCommand({
      commandId: 'cmd-3',
      type: 'originate',
      callId: 'c2c-1',
      extension: '101',
      number: '+79031112233',
    });
    await acked;
    await run(120);
    await ended;
    expect(seen()).toEqual([
      '0 c2c-1 call.started outbound 101 -> +79031112233',
      '0 c2c-1 call.ringing 101',
      '6 c2c-1 call.answered 101',
      '66 c2c-1 call.ended completed',
      '68 c2c-1 recording.ready url',
    ]);
    expect(bridge.acks).toEqual([{ commandId: 'cmd-3', ack: { status: 'done' } }]);
  });

  it('a repeated command is acked again but not carried out twice; a bad one is acked failed', async () => {
    await boot({ commands: { waitSec: 1 } });
    const originate = {
      commandId: 'cmd-4',
      type: 'originate',
      callId: 'c2c-2',
      extension: '102',
      number: '+74951112233',
    } as const;
    let acks = 0;
    sim.events.on('command.acked', () => acks++);
    bridge.queueCommand(originate);
    bridge.queueCommand(originate);
    bridge.queueCommand({ commandId: 'cmd-5', type: 'transfer', callId: 'nope', extension: '101' });
    while (acks < 3) await once(sim.events, 'command.acked');
    expect(bridge.acks).toEqual([
      { commandId: 'cmd-4', ack: { status: 'done' } },
      { commandId: 'cmd-4', ack: { status: 'done' } },
      { commandId: 'cmd-5', ack: { status: 'failed', reason: 'no call nope in progress' } },
    ]);
    expect(sim.stats().callsStarted).toBe(1);
  });
});

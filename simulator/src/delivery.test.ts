import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from './clock.ts';
import { startFakeBridge, timeline, type FakeBridge } from './fake-bridge.ts';
import { demoLines, knownCallers } from './settings.ts';
import { startSimulator, type Simulator, type SimulatorOptions } from './simulator.ts';
import type { SimulatorEventMap } from './types.ts';
import type { ApiEvent } from '../../src/pbx/webhook/index.ts';

let bridge: FakeBridge;
let clock: ManualClock;
let sim: Simulator;
let start: number;

async function boot(options: Partial<SimulatorOptions> = {}): Promise<void> {
  sim = await startSimulator({
    bridgeUrl: bridge.url,
    token: 'demo-token',
    clock,
    agents: [{ extension: '101', answerProbability: 1, answerAfterSec: 3 }],
    talkSec: 60,
    recordingDelaySec: 2,
    callerPatienceSec: 90,
    commands: false,
    ...options,
  });
}

const run = (sec: number) => clock.advance(sec * 1000, () => sim.idle());

const S1 = (id: string) => [
  `0 ${id} call.started inbound +79161234567 -> 101`,
  `0 ${id} call.ringing 101`,
  `3 ${id} call.answered 101`,
  `63 ${id} call.ended completed`,
  `65 ${id} recording.ready url`,
];

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

describe('recordings', () => {
  it('are served by the simulator as a valid WAV at the URL of recording.ready', async () => {
    await boot();
    const call = sim.placeCall({ callId: 'r/1', from: '+79161234567', to: '101' });
    await run(120);
    const { recordingUrl } = await call;
    const ready = bridge.events.find((e) => e.type === 'recording.ready');
    expect(ready).toMatchObject({ url: recordingUrl, filename: 'r_1.wav' });
    expect(recordingUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/recordings\/r%2F1\.wav$/);
    const response = await fetch(recordingUrl!);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('audio/wav');
    const file = Buffer.from(await response.arrayBuffer());
    expect(file.subarray(0, 4).toString('ascii')).toBe('RIFF');
    expect(file.subarray(8, 12).toString('ascii')).toBe('WAVE');
    expect(file.readUInt32LE(4)).toBe(file.length - 8);
    expect(sim.stats().recordingsFetched).toBe(1);
    expect((await fetch(`${sim.recordingsUrl}/recordings/other.wav`)).status).toBe(404);
  });
});

describe('delivery', () => {
  it('repeats events the bridge could not store (503) until they arrive, once each, in order', async () => {
    await boot();
    const retries: SimulatorEventMap['bridge.retry'][0][] = [];
    sim.events.on('bridge.retry', (retry) => retries.push(retry));
    bridge.failNext(2);
    const call = sim.placeCall({ callId: 'd1', from: '+79161234567', to: '101' });
    await run(120);
    await call;
    expect(timeline(bridge.events, start)).toEqual(S1('d1'));
    expect(retries.map((r) => [r.request, r.attempt, r.problem])).toEqual([
      ['events', 1, 'HTTP 503'],
      ['events', 2, 'HTTP 503'],
    ]);
    expect(sim.stats()).toMatchObject({ retries: 2, rejected: 0, eventsDelivered: 5, eventsQueued: 0 });
  });

  it('sends every event on its own when batching is off', async () => {
    await boot({ delivery: { batch: false } });
    const call = sim.placeCall({ callId: 'd2', from: '+79161234567', to: '101' });
    await run(120);
    await call;
    expect(timeline(bridge.events, start)).toEqual(S1('d2'));
    expect(bridge.eventRequests).toBe(5);
  });

  it('surfaces a wrong token (401) as a rejection and does not repeat the request', async () => {
    await boot({ token: 'wrong-token' });
    const rejections: SimulatorEventMap['bridge.rejected'][0][] = [];
    const retries: SimulatorEventMap['bridge.retry'][0][] = [];
    sim.events.on('bridge.rejected', (r) => rejections.push(r));
    sim.events.on('bridge.retry', (r) => retries.push(r));
    const call = sim.placeCall({ callId: 'd3', from: '+79161234567', to: '101' });
    await run(120);
    // The PBX still works without the bridge: its own fallback plan rings the extension dialled.
    expect(await call).toMatchObject({ reason: 'completed', answeredBy: '101' });
    expect(bridge.events).toEqual([]);
    const eventRejections = rejections.filter((r) => r.request === 'events');
    expect(eventRejections.length).toBe(bridge.eventRequests);
    expect(eventRejections.every((r) => r.status === 401 && r.body.includes('UNAUTHORIZED'))).toBe(true);
    expect(rejections.filter((r) => r.request === 'route').map((r) => r.status)).toEqual([401]);
    expect(retries).toEqual([]);
    expect(sim.stats()).toMatchObject({ retries: 0, eventsDelivered: 0, eventsQueued: 0 });
    expect(sim.stats().rejected).toBe(bridge.eventRequests);
  });
});

describe('steadyStream', () => {
  it('produces a valid, complete stream of every kind of call for the demo', async () => {
    await boot({
      agents: [
        { extension: '101', answerProbability: 0.8, answerAfterSec: [2, 6] },
        { extension: '102', answerProbability: 0.7, answerAfterSec: [3, 8] },
        { extension: '103', answerProbability: 0.6, answerAfterSec: [4, 10] },
      ],
      talkSec: [20, 90],
      callerPatienceSec: [20, 40],
      recordingDelaySec: [2, 8],
    });
    // The demo's routing, roughly: Sales rings the responsible manager or everyone, Support in turn.
    bridge.plan = (request) => {
      if (request.line === demoLines.support)
        return ['101', '102', '103'].map((e) => ({ extensions: [e], timeoutSec: 5 }));
      if (request.line === demoLines.sales)
        return (knownCallers as readonly string[]).includes(request.from)
          ? [{ extensions: ['102'], timeoutSec: 20 }]
          : [{ extensions: ['101', '102', '103'], timeoutSec: 20 }];
      return [{ extensions: [request.to], timeoutSec: 30 }];
    };
    const stream = sim.steadyStream({ callsPerMinute: 6, seed: 3 });
    await run(20 * 60);
    stream.stop();
    await run(5 * 60);
    const stats = sim.stats();
    expect(stream.placed).toBeGreaterThan(30);
    expect(stats).toMatchObject({ callsActive: 0, eventsQueued: 0, busyExtensions: [] });
    expect(stats.callsEnded).toBe(stream.placed);
    const byCall = new Map<string, ApiEvent[]>();
    for (const event of bridge.events) byCall.set(event.callId, [...(byCall.get(event.callId) ?? []), event]);
    expect(byCall.size).toBe(stream.placed);
    const kinds = new Set<string>();
    for (const events of byCall.values()) {
      const types = events.map((e) => e.type);
      expect(types[0]).toBe('call.started');
      const ended = types.indexOf('call.ended');
      expect(ended).toBeGreaterThan(0);
      expect(types.includes('call.answered')).toBe(types.at(-1) === 'recording.ready');
      const first = events[0];
      if (first?.type === 'call.started')
        kinds.add(first.direction === 'outbound' ? 'outbound' : (first.line ?? 'direct'));
    }
    expect([...kinds].sort()).toEqual([demoLines.sales, demoLines.support, 'direct', 'outbound'].sort());
  });
});

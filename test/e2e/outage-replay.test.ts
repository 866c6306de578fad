import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  entryCounts,
  freePort,
  installBridge,
  linkOf,
  pbxCall,
  sendEvents,
  startBridgeProcess,
  startEmulatorProcess,
  stop,
  tempDir,
  waitFor,
  writeBridgeConfig,
  type EmulatorCall,
  type EmulatorProcess,
  type RequestLogEntry,
  type Spawned,
} from './processes.ts';

/**
 * Calls during an outage (scenario 6), with the emulator and the bridge as separate processes: 500 calls happen
 * while the portal refuses every connection; when it is back, each is logged as register SHOW=0
 * with its real start + finish, none ever shown as a card, in at most 20 requests.
 */
describe('scenario 6 as processes: 500 calls during a full outage, then recovery', () => {
  const tmp = tempDir('b24-e2e-outage-');
  let emulator: EmulatorProcess;
  let bridge: Spawned | undefined;
  let bridgeUrl = '';
  let sqlitePath = '';

  beforeAll(async () => {
    emulator = await startEmulatorProcess();
    const setup = writeBridgeConfig(emulator.url, tmp.dir, await freePort());
    bridge = await startBridgeProcess(setup);
    bridgeUrl = setup.url;
    sqlitePath = setup.sqlitePath;
    await installBridge(emulator, setup);
  });

  afterAll(async () => {
    await stop(bridge);
    await stop(emulator);
    tmp.cleanup();
  });

  it('logs every call with its start, duration and user, without a card, in ≤ 20 requests', async () => {
    const t0 = performance.now();
    await emulator.control('faults', { outage: 'refuse' });
    // Two hours ago, 10 s apart: every call has its own start, and is long over when it is sent.
    const base = Math.floor((Date.now() - 2 * 3600_000) / 1000) * 1000;
    const calls = Array.from({ length: 500 }, (_, n) => pbxCall('outage', n, base + n * 10_000));
    // Ten calls to a request, each call's four events in order: what a PBX with a backlog sends.
    for (let i = 0; i < calls.length; i += 10) {
      const events = calls.slice(i, i + 10).flatMap((c) => [...c.begin, ...c.end]);
      const res = await sendEvents(bridgeUrl, events);
      expect(res.status, await res.clone().text()).toBe(202);
      expect(await res.json()).toEqual({ accepted: 40 });
    }
    const fed = performance.now();
    await waitFor('the bridge to see the link down', async () =>
      (await linkOf(bridgeUrl)) === 'down' ? true : undefined,
    );
    // The outage outlasts the client's own tries: every operation it was handed has come back to
    // the outbox, which alone decides what an ended call still needs (no card).
    await waitFor(
      'no outbox entry left in flight',
      () => Promise.resolve((entryCounts(sqlitePath).in_flight ?? 0) === 0 ? true : undefined),
      30_000,
    );
    expect(await emulator.inspect<EmulatorCall[]>('calls')).toHaveLength(0);

    // The link comes back: from here on, every request the portal sees counts.
    const mark = (await emulator.inspect<RequestLogEntry[]>('requests')).length;
    await emulator.control('faults', { outage: null });
    const recoveredAt = performance.now();
    const seen = await waitFor(
      'all 500 calls finished in the portal',
      async () => {
        const list = await emulator.inspect<EmulatorCall[]>('calls');
        return list.length >= 500 && list.every((c) => c.finished) ? list : undefined;
      },
      45_000,
    );
    const doneAt = performance.now();
    await waitFor('the bridge to see the link up', async () =>
      (await linkOf(bridgeUrl)) === 'up' ? true : undefined,
    );
    const requests = (await emulator.inspect<RequestLogEntry[]>(`requests?since=${mark}`)).filter(
      (r) => r.method !== 'app.info',
    );

    expect(seen).toHaveLength(500);
    expect(new Set(seen.map((c) => c.externalCallId)).size).toBe(500);
    const byExternal = new Map(seen.map((c) => [c.externalCallId, c]));
    for (const call of calls) {
      const got = byExternal.get(call.externalCallId);
      expect(got, call.callId).toBeDefined();
      expect(got).toMatchObject({
        shown: false,
        finished: true,
        userId: call.userId,
        finishedBy: call.userId,
        duration: call.durationSec,
        statusCode: '200',
      });
      expect(Date.parse(got?.startDate ?? ''), call.callId).toBe(call.startedAt);
    }
    // No card, ever: no user's screen showed one, not even for a moment. (The card log still has
    // a hide per call: `finish` takes down its user's card, shown or not, and the log says so.)
    const cardLog = await emulator.inspect<{ action: string }[]>('card-log');
    expect(cardLog.filter((e) => e.action === 'show')).toEqual([]);
    expect(requests.length).toBeLessThanOrEqual(20);
    expect(requests.every((r) => r.batch && r.status === 200)).toBe(true);
    console.log(
      `e2e outage replay: ${requests.length} requests after recovery (${requests
        .map((r) => r.commands.length)
        .join(
          ',',
        )} commands, ${cardLog.length} card-log hides by finish); feeding 2000 events ${Math.round(fed - t0)} ms, ` +
        `recovery ${Math.round(doneAt - recoveredAt)} ms`,
    );
  }, 90_000);
});

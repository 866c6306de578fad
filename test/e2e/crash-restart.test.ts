import { describe, expect, it } from 'vitest';
import {
  installedBridge,
  pbxCall,
  sendEvents,
  startBridgeProcess,
  stop,
  waitFor,
  type EmulatorCall,
  type RequestLogEntry,
} from './processes.ts';

/**
 * Crash safety: the bridge process is killed with SIGKILL at random moments while a PBX
 * reports 200 calls, and started again on the same SQLite file each time. The PBX repeats every
 * request it did not get a 202 for (as the API asks); repeated events carry the same `at`, so the
 * bridge steps them once. The portal must end with exactly 200 finished calls, none twice.
 */
describe('crash safety as processes: SIGKILL during 200 calls', () => {
  const t = installedBridge('b24-e2e-crash-');

  it('ends with exactly 200 finished calls, no duplicate, whatever the kills', async () => {
    const started = performance.now();
    const base = Math.floor((Date.now() - 3600_000) / 1000) * 1000;
    const calls = Array.from({ length: 200 }, (_, n) => pbxCall('crash', n, base + n * 10_000));
    let kills = 0;
    let repeats = 0;
    let accepted = 0;
    let restarting: Promise<void> | null = null;
    // The next kill comes after a random number of acknowledged requests (10–40 of the 400).
    const nextGap = (): number => 10 + Math.floor(Math.random() * 30);
    let killAt = nextGap();

    const killAndRestart = async (): Promise<void> => {
      // A few ms later still: the kill lands in the middle of other requests and deliveries.
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 30)));
      await stop(t.bridge, 'SIGKILL');
      kills += 1;
      t.bridge = await startBridgeProcess(t.setup);
    };

    /** The PBX's side: a request is sent until the t.bridge acknowledges it with 202. */
    const deliver = async (events: unknown[]): Promise<void> => {
      const deadline = Date.now() + 60_000;
      for (let attempt = 0; ; attempt++) {
        if (attempt > 0) repeats += 1;
        try {
          const res = await sendEvents(t.setup.url, events);
          if (res.status === 202) {
            await res.body?.cancel();
            break;
          }
          // Anything but 202 is "not stored": a 503 of a store, or a portal not connected yet.
          expect([503, 502], await res.text()).toContain(res.status);
        } catch {
          // Refused or reset: the t.bridge is down. It comes back; the PBX tries again.
        }
        if (Date.now() > deadline) throw new Error('the t.bridge did not come back within 60 s');
        await (restarting ?? new Promise((r) => setTimeout(r, 25)));
      }
      accepted += 1;
      if (accepted >= killAt && restarting === null) {
        killAt = accepted + nextGap();
        restarting = killAndRestart().finally(() => (restarting = null));
      }
    };

    // Four PBX trunks at once, each call reported at its two moments: started + ringing (the card
    // is live), then answered + ended.
    const queue = [...calls];
    const trunk = async (): Promise<void> => {
      for (let call = queue.shift(); call !== undefined; call = queue.shift()) {
        await deliver(call.begin);
        await deliver(call.end);
      }
    };
    await Promise.all([trunk(), trunk(), trunk(), trunk()]);
    // Read through a function: the closures above assign it, which narrowing cannot see.
    const restartUnderway = (): Promise<void> | null => restarting;
    await restartUnderway();
    const fedAt = performance.now();

    const seen = await waitFor(
      'all 200 calls finished in the portal',
      async () => {
        const list = await t.emulator.inspect<EmulatorCall[]>('calls');
        return list.length >= 200 && list.every((c) => c.finished) ? list : undefined;
      },
      30_000,
    );
    const doneAt = performance.now();

    expect(seen).toHaveLength(200);
    expect(new Set(seen.map((c) => c.externalCallId)).size).toBe(200);
    const byExternal = new Map(seen.map((c) => [c.externalCallId, c]));
    for (const call of calls) {
      expect(byExternal.get(call.externalCallId), call.callId).toMatchObject({
        finished: true,
        userId: call.userId,
        finishedBy: call.userId,
        duration: call.durationSec,
        statusCode: '200',
      });
    }
    // A finish repeated after a kill meets a finished call: the portal refuses it ("not found"),
    // it finishes nothing twice. Count those, and that every call's finish went through once.
    const requests = await t.emulator.inspect<RequestLogEntry[]>('requests');
    const finishRepeats = requests
      .flatMap((r) => r.commandErrors.concat(r.batch ? [] : r.error === null ? [] : [r.error]))
      .filter((e) => /not found/i.test(e)).length;
    expect(kills).toBeGreaterThanOrEqual(5);
    console.log(
      `e2e crash: ${kills} SIGKILLs, ${repeats} PBX repeats, ${finishRepeats} finish repeats refused ` +
        `as already finished; feeding ${Math.round(fedAt - started)} ms, settling ${Math.round(
          doneAt - fedAt,
        )} ms`,
    );
  }, 90_000);
});

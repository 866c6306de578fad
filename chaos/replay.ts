/** The outage replay (S6), timed from outside: how long the portal waits for what it missed. */
import { pbxCallIdOf, type PortalCall } from './compare.ts';
import type { ChaosOptions } from './options.ts';
import type { EmulatorProcess } from './processes.ts';
import type { Traffic } from './traffic.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Times the outage replay: once the portal is back, polls its calls every second until each call
 * that had ended (recording included) before the outage ended has a finished portal call.
 */
export function timeReplay(
  emulator: EmulatorProcess,
  traffic: Traffic,
  elapsedMs: () => number,
  options: ChaosOptions,
): { seconds(): Promise<number | null> } {
  const endMs = (options.outageAtSec + options.outageSec) * 1000;
  let result: number | null = null;
  const state = { stopped: false };
  /** Read through a function: `seconds()` sets it, which narrowing cannot see. */
  const stopped = (): boolean => state.stopped;
  const done = (async () => {
    while (!stopped() && elapsedMs() < endMs) await sleep(250);
    const t0 = performance.now();
    // The PBX's record: the calls over before the portal came back (on the run's clock).
    const startMs = performance.timeOrigin + performance.now() - elapsedMs();
    const waiting = [...traffic.calls.values()].filter(
      (c) =>
        c.result !== null && c.result.endedAt - startMs < endMs && (c.scenario !== 'S4' || c.clickDelivered),
    );
    while (!stopped()) {
      const finished = new Set<string>();
      for (const c of await emulator.get<PortalCall[]>('calls').catch(() => [])) {
        if (!c.finished) continue;
        finished.add(`c2c.${c.callId}`);
        if (c.externalCallId !== null) finished.add(pbxCallIdOf(c.externalCallId));
      }
      if (waiting.every((c) => finished.has(c.callId))) {
        result = Math.round((performance.now() - t0) / 100) / 10;
        return;
      }
      await sleep(1000);
    }
  })();
  return {
    async seconds() {
      // Whatever is not done by the end of the run never will be.
      state.stopped = true;
      await done;
      return result;
    },
  };
}

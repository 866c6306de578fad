/**
 * SIGKILL of the bridge every ~N seconds (±30 %, so kills land at every moment of a call's life),
 * each followed by a restart on the same port and SQLite file: at once, or after `down.sec` (the
 * bridge dead meanwhile; `down.meanwhile` is told when it died and when it starts again).
 */
import type { Random } from 'b24-pbx-simulator';
import type { BridgeProcess } from './processes.ts';

export interface KillLoop {
  /** Stops killing; resolves once a restart under way is done (the bridge runs again). */
  stop(): Promise<void>;
  readonly errors: string[];
}

export function startKillLoop(
  bridge: BridgeProcess,
  everySec: number,
  random: Random,
  down: { sec?: number; meanwhile?: (moment: 'killed' | 'restarting') => void } = {},
): KillLoop {
  const errors: string[] = [];
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let restarting: Promise<void> | null = null;
  const schedule = (): void => {
    if (stopped || everySec <= 0) return;
    const ms = everySec * 1000 * (0.7 + 0.6 * random.next());
    timer = setTimeout(() => {
      restarting = bridge
        .killAndRestart({
          ms: (down.sec ?? 0) * 1000,
          ...(down.meanwhile ? { meanwhile: down.meanwhile } : {}),
        })
        .catch((e: unknown) => void errors.push(String(e)))
        .finally(() => {
          restarting = null;
          schedule();
        });
    }, ms);
  };
  schedule();
  return {
    errors,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await restarting;
    },
  };
}

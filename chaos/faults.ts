/**
 * The portal's faults over the run, through the emulator's fault API: from the start 5xx, latency
 * and short-lived tokens; one outage (every connection refused); and now and then a burst in which
 * the portal's bucket shrinks so the bridge meets QUERY_LIMIT_EXCEEDED. `stop()` clears them all.
 */
import type { ChaosOptions } from './options.ts';
import type { EmulatorProcess } from './processes.ts';

export interface FaultLogEntry {
  atSec: number;
  what: string;
}

export interface FaultSchedule {
  readonly log: readonly FaultLogEntry[];
  /** Whether the portal is down now (clicks in the CRM do not happen then). */
  outageNow(): boolean;
  /** Whether a given moment (ms since the run's start) fell in the outage. */
  inOutage(atMs: number): boolean;
  limitBursts(): number;
  stop(): Promise<void>;
}

export function startFaults(
  emulator: EmulatorProcess,
  options: ChaosOptions,
  elapsedMs: () => number,
): FaultSchedule {
  const log: FaultLogEntry[] = [];
  const timers: NodeJS.Timeout[] = [];
  let outage = false;
  let bursts = 0;
  const outageFrom = options.outageAtSec * 1000;
  const outageTo = outageFrom + options.outageSec * 1000;

  const apply = (what: string, body: Record<string, unknown>): Promise<void> =>
    emulator.post('faults', body).then(
      () => void log.push({ atSec: Math.round(elapsedMs() / 100) / 10, what }),
      (e: unknown) =>
        void log.push({ atSec: Math.round(elapsedMs() / 100) / 10, what: `FAILED ${what}: ${String(e)}` }),
    );
  const at = (sec: number, fn: () => void): void => {
    timers.push(setTimeout(fn, Math.max(0, sec * 1000 - elapsedMs())));
  };

  void apply(
    `errorRate ${options.errorRate}, latency ${options.latencyMs} ms, token life ${options.tokenTtlSec || 'normal'} s`,
    {
      errorRate: options.errorRate,
      latencyMs: options.latencyMs,
      expireTokens: options.tokenTtlSec > 0 ? options.tokenTtlSec : false,
    },
  );
  if (options.outageSec > 0) {
    at(options.outageAtSec, () => {
      outage = true;
      void apply('outage: connections refused', { outage: 'refuse' });
    });
    at(options.outageAtSec + options.outageSec, () => {
      outage = false;
      void apply('outage over', { outage: null });
    });
  }
  if (options.limitEverySec > 0 && options.limitSec > 0) {
    for (let sec = options.limitEverySec / 2; sec < options.feedSec; sec += options.limitEverySec) {
      // A burst inside the outage would meet no request: skip it.
      if (sec * 1000 >= outageFrom - options.limitSec * 1000 && sec * 1000 < outageTo) continue;
      at(sec, () => {
        bursts++;
        void apply('QUERY_LIMIT burst: bucket 1/s, burst 2', { rateLimit: { rate: 1, burst: 2 } });
      });
      at(sec + options.limitSec, () => void apply('bucket back to 2/s, burst 50', { rateLimit: null }));
    }
  }

  return {
    log,
    outageNow: () => outage,
    inOutage: (atMs) => options.outageSec > 0 && atMs >= outageFrom && atMs < outageTo,
    limitBursts: () => bursts,
    async stop() {
      for (const t of timers) clearTimeout(t);
      outage = false;
      await emulator.post('faults', {}, 'DELETE');
      log.push({ atSec: Math.round(elapsedMs() / 100) / 10, what: 'all faults cleared' });
    },
  };
}

/**
 * The retention sweep: recordings older than the retention go, at start and then every hour. A
 * sweep that fails is told and tried again at the next tick; it never stops the bridge.
 */
import type { RecordingStore } from './store.ts';

interface RetentionOptions {
  retentionMs: number;
  intervalMs?: number | undefined;
  now?: (() => number) | undefined;
  onSwept?: ((deleted: number) => void) | undefined;
  onError?: ((error: unknown) => void) | undefined;
}

interface Retention {
  /** One sweep now; answers how many recordings it deleted. */
  sweep(): Promise<number>;
  stop(): void;
}

export function keepRecordings(store: RecordingStore, o: RetentionOptions): Retention {
  const now = o.now ?? Date.now;
  let running: Promise<number> | null = null;
  const sweep = (): Promise<number> => {
    running ??= store
      .deleteStoredBefore(now() - o.retentionMs)
      .then((deleted) => {
        if (deleted > 0) o.onSwept?.(deleted);
        return deleted;
      })
      .finally(() => {
        running = null;
      });
    return running;
  };
  const tick = (): void => {
    sweep().catch((e: unknown) => o.onError?.(e));
  };
  tick();
  const timer = setInterval(tick, o.intervalMs ?? 3_600_000);
  timer.unref();
  return { sweep, stop: () => clearInterval(timer) };
}

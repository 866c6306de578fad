/** Exponential backoff with jitter, on the simulator's clock so tests can skip the waiting. */
import type { Random } from './random.ts';

export interface BackoffOptions {
  /** The first wait (default 500 ms). */
  readonly baseMs?: number;
  /** The longest wait (default 30 s). */
  readonly maxMs?: number;
}

/** The wait before attempt `attempt + 1`, ±20 %: many PBX ports must not hammer the bridge in step. */
export function backoffMs(attempt: number, options: BackoffOptions, random: Random): number {
  const base = options.baseMs ?? 500;
  const max = options.maxMs ?? 30_000;
  const plain = Math.min(max, base * 2 ** Math.min(attempt, 20));
  return Math.round(plain * (0.8 + 0.4 * random.next()));
}

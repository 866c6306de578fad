/**
 * Backoff as data, shared by every part that tries again (the Bitrix24 client, the outbox, the
 * AMI client, the command router): one policy type and one pure function, so a pause is read the
 * same way everywhere and tested once. No I/O: the random source is an argument.
 */

export interface RetryPolicy {
  /** The pause before the first repeat (attempt 1). */
  readonly minDelayMs: number;
  /** The ceiling of the plain pause (`around` may pass it by its random share). */
  readonly maxDelayMs: number;
  /** Growth per attempt: attempt n waits `minDelayMs · factor^(n-1)` before jitter. */
  readonly factor: number;
  /** 0…1: the share of each pause drawn at random, so many clients recovering do not go in step. */
  readonly jitter: number;
  /**
   * Where the random share goes: `below` takes it off the pause (never longer than the plain
   * delay, the usual "equal jitter"); `around` spreads it evenly on both sides.
   */
  readonly spread: 'below' | 'around';
}

/** The plain exponential pauses, no jitter: for callers that want them exact. */
export const exactPolicy = (minDelayMs: number, maxDelayMs: number, factor = 2): RetryPolicy => ({
  minDelayMs,
  maxDelayMs,
  factor,
  jitter: 0,
  spread: 'below',
});

/**
 * The pause before try `attempt + 1` (attempt ≥ 1 is the number of failures so far; below 1
 * counts as 1), in whole milliseconds. `random` returns 0 ≤ x < 1.
 */
export function delay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const n = Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : 1;
  const max = Math.max(0, policy.maxDelayMs);
  // Capped before the power runs away: a factor above 1 reaches any ceiling within ~1,100 steps.
  const plain = Math.min(
    max,
    Math.max(0, policy.minDelayMs) * Math.max(1, policy.factor) ** Math.min(n - 1, 1_100),
  );
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  const r = Math.min(1, Math.max(0, random()));
  const value =
    policy.spread === 'around'
      ? plain * (1 - jitter) + 2 * plain * jitter * r
      : plain * (1 - jitter) + plain * jitter * r;
  return Math.max(0, Math.round(value));
}

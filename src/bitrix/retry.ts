import { delay, type RetryPolicy } from '../retry/index.ts';
import { retryRules, type RetryRule } from './error-policy.ts';
import type { ErrorCode } from './errors.ts';

/**
 * When an operation is tried again, as data (after undici's RetryHandler: which failures, how many
 * times, exponential backoff between a floor and a ceiling). Whether a *particular* operation may be
 * repeated after a failure that may have reached the portal is a property of its method (see
 * methods.ts); this table only says which failures are worth another try at all.
 */
export interface ClientRetryPolicy extends RetryPolicy {
  /** Tries per operation for failures that count (network, timeouts, 5xx). */
  maxAttempts: number;
  /**
   * Repeats for failures where the portal ran nothing and told us when to come back (rate limit,
   * expired token, operating-time limit). They do not use up `maxAttempts`, but are bounded too.
   */
  maxWaits: number;
  /** Wait for a method blocked by OPERATION_TIME_LIMIT when the portal gave no reset time. */
  operatingFallbackMs: number;
  /** Per error code: try again or not, and whether the try counts against `maxAttempts`. */
  codes: Readonly<Record<ErrorCode, RetryRule>>;
}

export type { RetryRule } from './error-policy.ts';

export const defaultRetryPolicy: ClientRetryPolicy = {
  maxAttempts: 5,
  maxWaits: 50,
  minDelayMs: 500,
  maxDelayMs: 30_000,
  factor: 2,
  // Share of each delay that is random, taken off it: between half the delay and the delay.
  jitter: 0.5,
  spread: 'below',
  operatingFallbackMs: 60_000,
  // Per code from the one error table (error-policy.ts); an override changes only the codes it names.
  codes: retryRules,
};

/** Changes to the default policy; `codes` lists only the codes whose rule changes. */
export type RetryOverrides = Partial<Omit<ClientRetryPolicy, 'codes'>> & {
  codes?: Partial<Record<ErrorCode, RetryRule>>;
};

export function retryPolicy(overrides: RetryOverrides = {}): ClientRetryPolicy {
  return {
    ...defaultRetryPolicy,
    ...overrides,
    codes: { ...defaultRetryPolicy.codes, ...(overrides.codes ?? {}) },
  };
}

/**
 * Delay before try number `failures + 1`: the shared `delay` (exponential from the floor, capped,
 * part of it random so that many portals recovering together do not hit them in lockstep).
 */
export const backoffMs = (policy: RetryPolicy, failures: number, random: () => number): number =>
  delay(policy, failures, random);

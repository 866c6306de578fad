import type { ErrorCode } from './errors.ts';

/**
 * When an operation is tried again, as data (after undici's RetryHandler: which failures, how many
 * times, exponential backoff between a floor and a ceiling). Whether a *particular* operation may be
 * repeated after a failure that may have reached the portal is a property of its method (see
 * methods.ts); this table only says which failures are worth another try at all.
 */
export interface RetryPolicy {
  /** Tries per operation for failures that count (network, timeouts, 5xx). */
  maxAttempts: number;
  /**
   * Repeats for failures where the portal ran nothing and told us when to come back (rate limit,
   * expired token, operating-time limit). They do not use up `maxAttempts`, but are bounded too.
   */
  maxWaits: number;
  /** Backoff floor and ceiling, and the growth factor per consecutive failure. */
  minDelayMs: number;
  maxDelayMs: number;
  factor: number;
  /** Share of each delay that is random (0: none, 1: anywhere between 0 and the delay). */
  jitter: number;
  /** Wait for a method blocked by OPERATION_TIME_LIMIT when the portal gave no reset time. */
  operatingFallbackMs: number;
  /** Per error code: try again or not, and whether the try counts against `maxAttempts`. */
  codes: Readonly<Record<ErrorCode, RetryRule>>;
}

export type RetryRule = 'attempt' | 'wait' | 'never';

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 5,
  maxWaits: 50,
  minDelayMs: 500,
  maxDelayMs: 30_000,
  factor: 2,
  jitter: 0.5,
  operatingFallbackMs: 60_000,
  codes: {
    NETWORK: 'attempt',
    TIMEOUT: 'attempt',
    SERVER_ERROR: 'attempt',
    BAD_RESPONSE: 'attempt',
    RATE_LIMITED: 'wait',
    OPERATION_TIME_LIMIT: 'wait',
    TOKEN_EXPIRED: 'wait',
    // Refused credentials get one refresh inside the client; beyond that a repeat changes nothing.
    AUTH_FAILED: 'never',
    NEEDS_REINSTALL: 'never',
    ACCESS_DENIED: 'never',
    PORTAL_ERROR: 'never',
    DEPENDENCY_FAILED: 'never',
    INVALID_REQUEST: 'never',
    CLOSED: 'never',
  },
};

/** Changes to the default policy; `codes` lists only the codes whose rule changes. */
export type RetryOverrides = Partial<Omit<RetryPolicy, 'codes'>> & {
  codes?: Partial<Record<ErrorCode, RetryRule>>;
};

export function retryPolicy(overrides: RetryOverrides = {}): RetryPolicy {
  return {
    ...defaultRetryPolicy,
    ...overrides,
    codes: { ...defaultRetryPolicy.codes, ...(overrides.codes ?? {}) },
  };
}

/**
 * Delay before try number `failures + 1`: exponential from the floor, capped, with part of it
 * random so that many clients (or many portals of one bridge) recovering together do not hit the
 * portal in lockstep. `random` is injected so tests are deterministic.
 */
export function backoffMs(policy: RetryPolicy, failures: number, random: () => number): number {
  const exp = policy.minDelayMs * policy.factor ** Math.max(0, failures - 1);
  const delay = Math.min(policy.maxDelayMs, exp);
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  return Math.round(delay * (1 - jitter) + delay * jitter * random());
}

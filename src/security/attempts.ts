/**
 * Counting attempts per key (a client address, "everyone") within a window, with a lockout once a
 * key has used up its attempts: login throttling counts failures, the install endpoint counts
 * requests. State stays behind `AttemptLimiter` so it can move into the shared store later (several
 * instances behind one balancer must count together).
 */

export type AttemptVerdict = { allowed: true } | { allowed: false; retryAfterMs: number };

export interface AttemptLimiter {
  /** Whether `key` may try now; when not, how long until it may. Counts nothing. */
  check(key: string, now: number): AttemptVerdict;
  /** Counts one attempt of `key`; the one that reaches the limit starts the lockout. */
  record(key: string, now: number): void;
  /** Forgets `key` (a successful login clears its address's failures). */
  reset(key: string): void;
}

interface AttemptLimits {
  /** Attempts allowed within `windowMs`. */
  max: number;
  windowMs: number;
  /** How long a key that used them up is refused. */
  lockoutMs: number;
}

interface KeyState {
  /** When the attempts within the window were made, oldest first (at most `max`). */
  at: number[];
  lockedUntil: number;
}

/** At most this many keys are tracked: a flood of addresses must not grow memory without end. */
const MAX_KEYS = 10_000;

export class MemoryAttemptLimiter implements AttemptLimiter {
  private readonly keys = new Map<string, KeyState>();

  constructor(private readonly limits: AttemptLimits) {}

  check(key: string, now: number): AttemptVerdict {
    const state = this.keys.get(key);
    if (!state) return { allowed: true };
    if (state.lockedUntil > now) return { allowed: false, retryAfterMs: state.lockedUntil - now };
    return { allowed: true };
  }

  record(key: string, now: number): void {
    let state = this.keys.get(key);
    if (state && state.lockedUntil !== 0 && state.lockedUntil <= now) state = undefined;
    state ??= { at: [], lockedUntil: 0 };
    const since = now - this.limits.windowMs;
    state.at = state.at.filter((t) => t > since);
    state.at.push(now);
    if (state.at.length >= this.limits.max) {
      state.lockedUntil = now + this.limits.lockoutMs;
      state.at = [];
    }
    // Re-inserted: the map's order is the order of last use, so the stalest key goes first.
    this.keys.delete(key);
    this.keys.set(key, state);
    while (this.keys.size > MAX_KEYS) {
      const oldest = this.keys.keys().next();
      if (oldest.done === true) break;
      this.keys.delete(oldest.value);
    }
  }

  reset(key: string): void {
    this.keys.delete(key);
  }
}

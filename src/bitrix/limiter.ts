/**
 * Client-side mirrors of the portal's two limits (spec §1.6), so that the portal normally never
 * has to refuse us.
 */
import { drained, waitToFit } from '../kit/index.ts';

export interface RateLimit {
  /** Requests per second the portal's bucket drains (2, or 5 on enterprise plans). */
  rate: number;
  /** Requests the bucket holds before the portal refuses (50, or 250). */
  burst: number;
}

export const standardPlan: RateLimit = { rate: 2, burst: 50 };

/**
 * The portal's leaky bucket, as the portal keeps it: every request adds one, the level drains at
 * `rate` per second, a request is refused while the level is at `burst`. We keep `headroom`
 * requests below that: whether the portal counts its limit inclusively is unconfirmed, and our
 * count starts when we send while the portal counts on arrival.
 */
export class LeakyBucket {
  private level = 0;
  private last: number | null = null;

  constructor(
    private limit: RateLimit,
    private readonly headroom = 1,
  ) {}

  get capacity(): number {
    return Math.max(1, this.limit.burst - this.headroom);
  }

  setLimit(limit: RateLimit): void {
    this.limit = limit;
  }

  /** Milliseconds until one more request fits (0: now), `inFlight` requests not yet counted. */
  waitMs(now: number, inFlight = 0): number {
    this.drain(now);
    return waitToFit(this.level, inFlight + 1, this.capacity, this.limit.rate);
  }

  take(now: number): void {
    this.drain(now);
    this.level += 1;
  }

  /**
   * The portal said QUERY_LIMIT_EXCEEDED: its bucket is full, whatever we counted (other apps on
   * the same portal and server share it). Believe the portal.
   */
  fill(now: number): void {
    this.drain(now);
    this.level = Math.max(this.level, this.limit.burst);
  }

  current(now: number): number {
    this.drain(now);
    return this.level;
  }

  private drain(now: number): void {
    if (this.last !== null && now > this.last) {
      this.level = drained(this.level, now - this.last, this.limit.rate);
    }
    if (this.last === null || now > this.last) this.last = now;
  }
}

/**
 * The portal's bucket kept where several bridge instances see it (a row in PostgreSQL), so that
 * together they never send more than the portal allows: each request takes a place in it before
 * it leaves, besides the instance's own `LeakyBucket`. The shared bucket runs on one clock (the
 * database's), since the instances' clocks may differ.
 */
export interface SharedBudget {
  /**
   * Takes one request for the portal if the shared bucket has room below `burst - headroom`:
   * resolves 0, or, leaving the bucket as it was, how many milliseconds until it may have room.
   */
  take(memberId: string, limit: RateLimit, headroom: number): Promise<number>;
  /** The portal said QUERY_LIMIT_EXCEEDED: the shared bucket is full, for every instance. */
  fill(memberId: string, limit: RateLimit): Promise<void>;
}

/**
 * Methods whose operating-time budget is spent (429 OPERATION_TIME_LIMIT): they wait until the
 * portal's `operating_reset_at`, while other methods carry on (the budget is per method).
 */
export class OperatingLimits {
  /** Per method: when its oldest budget minute expires, as seen in the last good answer. */
  private readonly resetAt = new Map<string, number>();
  private readonly blockedUntil = new Map<string, number>();

  constructor(private readonly fallbackMs: number) {}

  /**
   * Remembers `time.operating_reset_at` of a successful answer. The portal's clock may differ from
   * ours, so the reset moment is kept relative to the portal's own `time.finish`.
   */
  observe(method: string, now: number, time: { operating_reset_at?: unknown; finish?: unknown }): void {
    const reset = time.operating_reset_at;
    const finish = time.finish;
    if (typeof reset !== 'number' || typeof finish !== 'number') return;
    this.resetAt.set(method, now + Math.max(0, reset - finish) * 1000);
  }

  /** The method was refused; returns how long it is blocked. */
  block(method: string, now: number): number {
    const known = this.resetAt.get(method);
    const until = known !== undefined && known > now ? known : now + this.fallbackMs;
    this.blockedUntil.set(method, until);
    return until - now;
  }

  /** Milliseconds the method still waits (0: free). */
  waitMs(method: string, now: number): number {
    const until = this.blockedUntil.get(method);
    if (until === undefined) return 0;
    if (until <= now) {
      this.blockedUntil.delete(method);
      return 0;
    }
    return until - now;
  }
}

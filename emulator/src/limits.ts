import { errors } from './errors.ts';

/**
 * The portal's request-intensity limit: a leaky bucket that every REST request fills by one and that
 * drains at `rate` per second; past `burst` requests get QUERY_LIMIT_EXCEEDED (spec §1.6).
 */
export class LeakyBucket {
  private level = 0;
  private last = 0;
  private highest = 0;

  /** Throws QUERY_LIMIT_EXCEEDED when the bucket is full. */
  take(now: number, rate: number, burst: number, countRejected: boolean): void {
    this.drain(now, rate);
    if (this.level >= burst) {
      if (countRejected) this.level += 1;
      this.highest = Math.max(this.highest, this.level);
      throw errors.queryLimit();
    }
    this.level += 1;
    this.highest = Math.max(this.highest, this.level);
  }

  /**
   * The highest level a request left the bucket at since the start (or the last reset): how close
   * the apps came to QUERY_LIMIT_EXCEEDED, which the level read now cannot tell afterwards.
   */
  get peak(): number {
    return this.highest;
  }

  current(now: number, rate: number): number {
    this.drain(now, rate);
    return this.level;
  }

  reset(): void {
    this.level = 0;
    this.last = 0;
    this.highest = 0;
  }

  private drain(now: number, rate: number): void {
    if (this.last !== 0) this.level = Math.max(0, this.level - ((now - this.last) / 1000) * rate);
    this.last = now;
  }
}

/**
 * The operating-time limit: execution seconds of one method for one app (or webhook), summed over
 * ten one-minute buckets; once the sum is over the limit the method answers 429 until buckets age out.
 */
export class OperatingTime {
  private buckets = new Map<string, { minute: number; seconds: number }[]>();
  private static readonly windowMinutes = 10;

  /** Throws OPERATION_TIME_LIMIT if the budget is already spent (checked before the call). */
  check(key: string, now: number, limitSec: number): void {
    if (limitSec > 0 && this.sum(key, now) > limitSec) throw errors.operationTimeLimit();
  }

  account(key: string, now: number, seconds: number): void {
    const minute = Math.floor(now / 60_000);
    const list = this.live(key, now);
    const lastBucket = list[list.length - 1];
    if (lastBucket?.minute === minute) lastBucket.seconds += seconds;
    else list.push({ minute, seconds });
    this.buckets.set(key, list);
  }

  /** `time.operating` and `time.operating_reset_at` for this method and app. */
  info(key: string, now: number): { operating: number; operating_reset_at: number } {
    const list = this.live(key, now);
    const oldest = list[0]?.minute ?? Math.floor(now / 60_000);
    return {
      operating: Math.round(this.sum(key, now) * 1e6) / 1e6,
      operating_reset_at: (oldest + OperatingTime.windowMinutes) * 60,
    };
  }

  reset(): void {
    this.buckets.clear();
  }

  private sum(key: string, now: number): number {
    return this.live(key, now).reduce((s, b) => s + b.seconds, 0);
  }

  private live(key: string, now: number): { minute: number; seconds: number }[] {
    const from = Math.floor(now / 60_000) - OperatingTime.windowMinutes + 1;
    return (this.buckets.get(key) ?? []).filter((b) => b.minute >= from);
  }
}

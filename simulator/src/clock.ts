/**
 * Time as the simulator sees it. Injected so tests can drive a whole call (ringing, timeouts,
 * talk time, recording delay, retry backoff) in milliseconds of real time, and the demo can run
 * the office faster than life.
 */
export interface SimClock {
  /** Milliseconds since the epoch: the `at` of every event the simulator sends. */
  now(): number;
  /** Calls `fn` once `ms` have passed on this clock; returns a function that cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
}

/**
 * The wall clock, with the simulated office's own waits (answer delays, talk time, plan steps,
 * recording delay) `speed` times shorter. `now()` stays real time: events stamped in the future
 * would confuse the bridge's durations and timers more than short calls do.
 */
export function systemClock(speed = 1): SimClock {
  if (!(speed > 0)) throw new RangeError(`speed must be a positive number, got ${speed}`);
  return {
    now: () => Date.now(),
    setTimer(ms, fn) {
      const timer = setTimeout(fn, Math.max(0, ms / speed));
      return () => clearTimeout(timer);
    },
  };
}

interface PendingTimer {
  readonly at: number;
  /** Creation order: timers due at the same instant fire in the order they were set. */
  readonly seq: number;
  readonly fn: () => void;
}

/** Lets the work a timer started (HTTP round trips to the bridge) finish before the next one fires. */
export type Settle = () => Promise<void>;

const nextTurn: Settle = () => new Promise((resolve) => setImmediate(resolve));

/** A clock that moves only when a test says so. */
export class ManualClock implements SimClock {
  private time: number;
  private seq = 0;
  private readonly timers = new Set<PendingTimer>();

  constructor(start = Date.UTC(2026, 2, 10, 9, 0, 0)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimer(ms: number, fn: () => void): () => void {
    const timer: PendingTimer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(timer);
    return () => this.timers.delete(timer);
  }

  /** How many timers are waiting. */
  get pending(): number {
    return this.timers.size;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way in order, and
   * awaiting `settle` before each so that what the previous one started is done.
   */
  async advance(ms: number, settle: Settle = nextTurn): Promise<void> {
    const end = this.time + ms;
    await settle();
    for (;;) {
      const next = this.earliest();
      if (next === undefined || next.at > end) break;
      this.timers.delete(next);
      this.time = next.at;
      next.fn();
      await settle();
    }
    this.time = end;
  }

  private earliest(): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const timer of this.timers) {
      if (best === undefined || timer.at < best.at || (timer.at === best.at && timer.seq < best.seq))
        best = timer;
    }
    return best;
  }
}

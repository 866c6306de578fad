/**
 * The portal's clock: real time plus an offset that tests can advance, so token lifetimes (1 h),
 * the 30-minute re-registration window and the limits can be exercised without waiting.
 */
export class Clock {
  private offsetMs = 0;

  now(): number {
    return Date.now() + this.offsetMs;
  }

  advance(ms: number): void {
    this.offsetMs += ms;
  }

  reset(): void {
    this.offsetMs = 0;
  }

  get offset(): number {
    return this.offsetMs;
  }
}

/**
 * Counts the simulator's HTTP requests in flight, so a test driving a manual clock can wait until
 * the bridge has answered everything before it moves time on. Waiting on the clock (a backoff, a
 * ringing phone) is not activity: it is what the test's clock is for.
 */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Activity {
  private inFlight = 0;
  private waiters: (() => void)[] = [];

  async track<T>(work: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await work();
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) {
        const waiters = this.waiters;
        this.waiters = [];
        for (const wake of waiters) wake();
      }
    }
  }

  /** Resolves once no request is in flight and none was started by what the last one's answer ran. */
  async idle(): Promise<void> {
    for (;;) {
      await nextTurn();
      if (this.inFlight > 0) {
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        continue;
      }
      // One more turn: a continuation may start the next request (a retry, the next batch).
      await nextTurn();
      if (this.inFlight === 0) return;
    }
  }
}

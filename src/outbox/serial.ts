/**
 * One line of store writes per outbox: steps, result handlers and delivery rounds run one after
 * another, in the order they were asked for, so the engine's steps stay in order. A task that
 * fails does not stop the ones behind it.
 */
export class Serial {
  private chain: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Resolves once everything asked for so far has run. */
  async drained(): Promise<void> {
    await this.chain;
  }
}

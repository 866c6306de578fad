import { Ref } from './encode.ts';
import type { BitrixError } from './errors.ts';
import type { Operation, OperationState, RawResult } from './queue.ts';

/**
 * A submitted operation: awaitable for its typed result, and a source of references for
 * operations that need its result before it has one (`reg.ref('CALL_ID')`).
 */
export class Pending<T> implements PromiseLike<T> {
  readonly #op: Operation;
  readonly #promise: Promise<T>;

  /**
   * `onError` turns a failure into a value (e.g. "Not found" into null) or throws the error the
   * caller should see.
   */
  constructor(op: Operation, parse: (raw: RawResult) => T, onError?: (e: BitrixError) => T) {
    this.#op = op;
    this.#promise = op.promise.then(parse, (e: unknown) => {
      if (onError) return onError(e as BitrixError);
      throw e;
    });
    // Awaited or not, a failure is the caller's to see, never an unhandled rejection of ours.
    this.#promise.catch(() => undefined);
  }

  /** The operation's id (unique within the client; shown in events). */
  get id(): number {
    return this.#op.id;
  }

  get method(): string {
    return this.#op.method;
  }

  get state(): OperationState {
    return this.#op.state;
  }

  /** A reference to a field of this operation's raw result, for another operation's parameters. */
  ref<V = unknown>(...path: string[]): Ref<V> {
    return new Ref<V>(this.#op, path);
  }

  then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#promise.then(onFulfilled, onRejected);
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<T | B> {
    return this.#promise.catch(onRejected);
  }
}

import type { BitrixError } from './errors.ts';
import { Ref, refsOf } from './encode.ts';
import { laneRank, type Command, type Lane } from './methods.ts';

export type OperationState = 'queued' | 'sending' | 'done' | 'failed';

/** What an operation resolves with: the method's `result` plus the list fields. */
export interface RawResult {
  result: unknown;
  total: number | undefined;
  next: number | undefined;
}

export interface SubmitOptions {
  /**
   * Operations with the same key are carried out in the order they were submitted (e.g. one key
   * per call: show before hide before finish). They may share a batch, whose commands run in order,
   * but one never overtakes another across requests in flight.
   */
  orderKey?: string | undefined;
  /** Lane override (otherwise the method's own: card, log or read). */
  lane?: Lane | undefined;
  /** A caller's label for this operation (e.g. an outbox entry id), echoed in events. */
  label?: string | undefined;
  /**
   * Tries that may fail before the operation is given up (default: the client's
   * `retry.maxAttempts`). 1: the caller does its own retrying (the outbox's link probes).
   */
  maxAttempts?: number | undefined;
}

/** One REST operation on its way through a portal's queue. */
export class Operation {
  state: OperationState = 'queued';
  /** The portal's raw answer (the `result` field), once done: references read from it. */
  raw: unknown = undefined;
  error: BitrixError | undefined = undefined;
  /** Operations whose results this one references: it cannot run before they succeed. */
  readonly dataDeps: Operation[];
  /** Operations this one must follow (same order key): their failure does not stop it. */
  readonly orderDeps: Operation[];
  readonly dependents: Operation[] = [];
  /** Sends so far, counted failures, and waits (rate limit, token, operating-time limit). */
  sends = 0;
  failures = 0;
  waits = 0;
  authRepairs = 0;
  /** Some try may have reached the portal without our seeing the answer. */
  maybeDelivered = false;
  /** Not before this time (backoff after a failure of this operation alone). */
  notBefore = 0;
  readonly promise: Promise<RawResult>;
  private resolveFn!: (v: RawResult) => void;
  private rejectFn!: (e: BitrixError) => void;

  constructor(
    readonly id: number,
    readonly memberId: string,
    readonly command: Command,
    readonly options: SubmitOptions,
    orderPredecessor: Operation | undefined,
  ) {
    this.promise = new Promise<RawResult>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
    // An operation may exist only to be referenced (a register whose show the caller awaits);
    // its failure reaches the caller through the dependents, not as an unhandled rejection.
    this.promise.catch(() => undefined);
    const refs = [
      ...refsOf(command.params),
      ...(command.upload ? [command.upload.url, command.upload.field].filter((v) => v instanceof Ref) : []),
    ];
    this.dataDeps = unique(refs.map((r) => targetOf(r)).filter((o) => o.state !== 'done'));
    this.orderDeps = orderPredecessor && !isSettled(orderPredecessor) ? [orderPredecessor] : [];
    for (const dep of [...this.dataDeps, ...this.orderDeps]) dep.dependents.push(this);
  }

  get lane(): Lane {
    return this.options.lane ?? this.command.lane;
  }

  get method(): string {
    return this.command.method;
  }

  /** The key of this operation's command inside a batch. */
  get key(): string {
    return `o${this.id}`;
  }

  succeed(outcome: RawResult): void {
    this.state = 'done';
    this.raw = outcome.result;
    this.resolveFn(outcome);
  }

  fail(error: BitrixError): void {
    this.state = 'failed';
    this.error = error;
    this.rejectFn(error);
  }
}

export const isSettled = (op: Operation): boolean => op.state === 'done' || op.state === 'failed';

export function targetOf(ref: Ref): Operation {
  if (!(ref.target instanceof Operation)) throw new TypeError('a reference to something not an operation');
  return ref.target;
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}

interface Selection {
  ops: Operation[];
  /** Some command depends on another of the same request: stop at the first failure. */
  halt: boolean;
}

export interface SelectContext {
  now: number;
  maxCommands: number;
  /** Milliseconds the method still waits for its operating-time budget (0: free). */
  methodWaitMs(method: string): number;
  /** Operations held back for now whatever the time (a held finish waiting for its own hide). */
  skip?: ((op: Operation) => boolean) | undefined;
}

/**
 * Picks what the next request carries: the queued operations in lane order (card, log, read; then
 * submission order), up to `maxCommands`, each together with the queued operations it must follow.
 *
 * An operation rides in the same batch as an operation it depends on only when the batch runs them
 * in order and a failure cannot do harm: order dependencies always may (batch commands run in
 * sequence and the batch then halts at the first failure, so nothing overtakes a failed
 * predecessor); reference dependencies only when the method allows it (show/hide after register).
 * A prerequisite inherits the lane of what waits for it, so a card's register is not stuck behind
 * a thousand finishes.
 */
export function selectBatch(queue: readonly Operation[], ctx: SelectContext): Selection {
  const rank = effectiveRanks(queue);
  const ordered = [...queue].sort(
    (a, b) => (rank.get(a) ?? laneRank[a.lane]) - (rank.get(b) ?? laneRank[b.lane]) || a.id - b.id,
  );
  const chosen: Operation[] = [];
  const inBatch = new Set<Operation>();
  // An operation that cannot go now cannot go later in this selection either (the batch only
  // fills up): remembering it keeps long order-key chains from being walked again and again.
  const blocked = new Set<Operation>();
  const timeReady = (op: Operation): boolean =>
    op.notBefore <= ctx.now && ctx.methodWaitMs(op.method) === 0 && ctx.skip?.(op) !== true;

  /** Adds `op` to `acc` after the queued operations it must follow; false when it cannot go now. */
  const plan = (op: Operation, acc: Operation[]): boolean => {
    if (inBatch.has(op) || acc.includes(op)) return true;
    const ok = planDeps(op, acc) && chosen.length + acc.length < ctx.maxCommands;
    if (!ok) {
      blocked.add(op);
      return false;
    }
    acc.push(op);
    return true;
  };
  const planDeps = (op: Operation, acc: Operation[]): boolean => {
    if (blocked.has(op) || op.state !== 'queued' || !timeReady(op) || !op.command.batchable) return false;
    for (const dep of op.dataDeps) {
      if (dep.state === 'done') continue;
      if (dep.state !== 'queued' || !op.command.ridesWithReference) return false;
      if (!plan(dep, acc)) return false;
    }
    for (const dep of op.orderDeps) {
      if (isSettled(dep)) continue;
      if (dep.state !== 'queued') return false;
      if (!plan(dep, acc)) return false;
    }
    return true;
  };

  // Uploads go alone, and only when nothing they wait for is unfinished.
  const uploadReady = (op: Operation): boolean =>
    op.state === 'queued' &&
    timeReady(op) &&
    [...op.dataDeps, ...op.orderDeps].every(
      (d) => d.state === 'done' || (d.state === 'failed' && !op.dataDeps.includes(d)),
    );
  // An upload goes alone when it is first in line, which under steady load would be never: there
  // is always a batch to send ahead of it. So outside the card lane the oldest ready operation
  // goes first, and when that is an upload, it goes now (unless a card is ready: cards never wait).
  if (!ordered.some((op) => op.lane === 'card' && op.state === 'queued' && timeReady(op))) {
    let oldest: Operation | undefined;
    for (const op of queue)
      if (op.state === 'queued' && timeReady(op) && (oldest === undefined || op.id < oldest.id)) oldest = op;
    if (oldest !== undefined && !oldest.command.batchable && uploadReady(oldest))
      return { ops: [oldest], halt: false };
  }

  for (const op of ordered) {
    if (chosen.length >= ctx.maxCommands) break;
    if (inBatch.has(op)) continue;
    if (!op.command.batchable) {
      if (chosen.length === 0 && uploadReady(op)) {
        return { ops: [op], halt: false };
      }
      continue;
    }
    const acc: Operation[] = [];
    if (!plan(op, acc)) continue;
    for (const a of acc) {
      chosen.push(a);
      inBatch.add(a);
    }
  }
  const halt = chosen.some((op) => [...op.dataDeps, ...op.orderDeps].some((d) => inBatch.has(d)));
  return { ops: chosen, halt };
}

/** Lane ranks after inheritance: a queued prerequisite takes the best rank of what waits for it. */
function effectiveRanks(queue: readonly Operation[]): Map<Operation, number> {
  const rank = new Map<Operation, number>();
  for (const op of queue) rank.set(op, laneRank[op.lane]);
  const lift = (op: Operation, r: number, depth: number): void => {
    for (const dep of [...op.dataDeps, ...op.orderDeps]) {
      const current = rank.get(dep);
      if (current === undefined || current <= r || depth > 1000) continue;
      rank.set(dep, r);
      lift(dep, r, depth + 1);
    }
  };
  for (const op of queue) lift(op, laneRank[op.lane], 0);
  return rank;
}

/** The earliest moment a queued operation held back by time (backoff, method block) may go. */
export function nextTimeReady(queue: readonly Operation[], ctx: SelectContext): number | null {
  let best: number | null = null;
  for (const op of queue) {
    if (op.state !== 'queued') continue;
    const at = Math.max(op.notBefore, ctx.now + ctx.methodWaitMs(op.method));
    if (at <= ctx.now) continue;
    if (best === null || at < best) best = at;
  }
  return best;
}

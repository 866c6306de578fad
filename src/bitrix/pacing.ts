import { command, type Command } from './methods.ts';
import { Ref } from './encode.ts';
import { isSettled, Operation } from './queue.ts';
import type { RateLimit } from './limiter.ts';

/**
 * How the client spends a portal's budget. The portal's bucket is shared with every other app on
 * it, and a card a person waits for must never queue behind logging: what is not urgent (finishes,
 * recordings, reads) is held a little to travel in bigger batches, and keeps off the last places
 * of the bucket, which only cards may take.
 */
interface Pacing {
  /** The longest a request carrying no card is held to gather more commands (ms; 0: never held). */
  holdMs: number;
  /** Places at the top of the bucket (below `burst − headroom`) that only card requests may use. */
  cardReserve: number;
  /**
   * Below this level the bucket is idle: it drains faster than the office fills it, so holding
   * would save nothing and only delay the log (a tenth of the burst).
   */
  idleLevel: number;
}

export interface PacingOverrides {
  holdMs?: number | undefined;
  /** Default: a fifth of the burst. */
  cardReserve?: number | undefined;
}

const defaultHoldMs = 3000;

/**
 * Places always kept free below the portal's burst: the portal's clock drains its bucket a little
 * differently from ours, it counts a request when it arrives while we count when we send, and other
 * apps share the bucket.
 */
export const minHeadroom = 3;

export function pacingFor(limit: RateLimit, headroom: number, o: PacingOverrides = {}): Pacing {
  const capacity = Math.max(1, limit.burst - headroom);
  const reserve = o.cardReserve ?? Math.round(limit.burst / 5);
  return {
    holdMs: Math.max(0, o.holdMs ?? defaultHoldMs),
    // Work without a card keeps at least one place, or it could never go.
    cardReserve: Math.min(Math.max(0, Math.floor(reserve)), capacity - 1),
    idleLevel: Math.max(1, limit.burst / 10),
  };
}

export interface PaceInput {
  now: number;
  /** The mirror of the portal's bucket: its level now, drain rate and usable size. */
  level: number;
  rate: number;
  capacity: number;
  /** The next request as selected: how many commands, whether one is a card, or a read. */
  commands: number;
  hasCard: boolean;
  hasRead: boolean;
  /** Nothing else is queued or in flight: there is nothing for the request to wait with. */
  alone: boolean;
  maxBatch: number;
  /** Since when the longest-held command of the selection has been held (`now` if it is new). */
  heldSince: number;
}

type PaceDecision =
  | { kind: 'send' }
  /** No room: the bucket must drain first (for every request, or, `reserve`, for non-cards). */
  | { kind: 'wait'; reason: 'bucket' | 'reserve'; ms: number }
  /** Room, but the request is held to gather more commands; `ms` until it goes anyway. */
  | { kind: 'hold'; ms: number };

/** Milliseconds until the bucket has one more place below `ceiling` (0: now). */
export function msUntilRoom(level: number, rate: number, ceiling: number): number {
  const over = level + 1 - ceiling;
  // The epsilon keeps float residue (48.002 for 48) from adding a millisecond.
  return over <= 1e-9 ? 0 : Math.max(1, Math.ceil((over / rate) * 1000 - 1e-6));
}

/**
 * Whether the next request goes now. A card goes the moment there is a place below the ceiling;
 * a request without one only below the card reserve, and only once it fills a batch, has been held
 * `holdMs`, or the portal is idle (holding longer would cost capacity, not save it): the bucket
 * nearly empty, or nothing else going on. A lone finish held on a quiet portal would gather
 * nothing and cost its hide a request of its own.
 */
export function pace(p: Pacing, s: PaceInput): PaceDecision {
  const cardWait = msUntilRoom(s.level, s.rate, s.capacity);
  if (cardWait > 0) return { kind: 'wait', reason: 'bucket', ms: cardWait };
  if (s.hasCard) return { kind: 'send' };
  const reserveWait = msUntilRoom(s.level, s.rate, s.capacity - p.cardReserve);
  if (reserveWait > 0) return { kind: 'wait', reason: 'reserve', ms: reserveWait };
  // A read is mostly awaited by someone, one after another (paging, lookups): holding each would
  // stretch the whole; it only keeps off the reserve.
  if (s.hasRead || s.alone || s.commands >= s.maxBatch || s.level < p.idleLevel) return { kind: 'send' };
  const holdLeft = s.heldSince + p.holdMs - s.now;
  if (holdLeft <= 0) return { kind: 'send' };
  // Wake when the hold ends, or when the bucket has drained to idle, whichever comes first.
  const untilIdle = Math.max(1, Math.ceil(((s.level - p.idleLevel) / s.rate) * 1000) + 1);
  return { kind: 'hold', ms: Math.min(holdLeft, untilIdle) };
}

const FINISH = 'telephony.externalcall.finish';

/**
 * The hide a finish carries (the portal takes down the finishing user's card): sent on its own
 * while the finish is held, so the card still disappears at the hang-up. Undefined for anything
 * else.
 */
export function hideOf(op: Operation): Command | undefined {
  if (op.method.toLowerCase() !== FINISH) return undefined;
  const { CALL_ID, USER_ID } = op.command.params;
  if (CALL_ID === undefined || USER_ID === undefined) return undefined;
  // A call registered here without a card (backfill) has none to take down.
  if (CALL_ID instanceof Ref && CALL_ID.target instanceof Operation && CALL_ID.target.lane !== 'card')
    return undefined;
  return command('telephony.externalCall.hide', { CALL_ID, USER_ID });
}

/**
 * One portal's pacing state: since when each held operation waits, and the hides sent for held
 * finishes. Keyed weakly by operation: settled operations leave with nobody's bookkeeping.
 */
export class Pacer {
  private readonly since = new WeakMap<Operation, number>();
  private readonly hides = new WeakMap<Operation, Operation>();

  constructor(private pacing: Pacing) {}

  get settings(): Pacing {
    return this.pacing;
  }

  set settings(p: Pacing) {
    this.pacing = p;
  }

  /**
   * A held finish whose own hide is still on its way does not ride with it: the hide is what lets
   * the finish wait, and carrying the finish along would send it anyway.
   */
  waitsForItsHide(op: Operation): boolean {
    const hide = this.hides.get(op);
    return hide !== undefined && !isSettled(hide);
  }

  /**
   * Decides on the selected request. When it is held, returns the hides its finishes would have
   * carried (each once): the caller submits them as card operations.
   */
  decide(
    now: number,
    ops: readonly Operation[],
    bucket: { level: number; rate: number; capacity: number; maxBatch: number; alone: boolean },
  ): { decision: PaceDecision; hides: { finish: Operation; hide: Command }[] } {
    let heldSince = now;
    for (const op of ops) heldSince = Math.min(heldSince, this.since.get(op) ?? now);
    const decision = pace(this.pacing, {
      now,
      ...bucket,
      commands: ops.length,
      hasCard: ops.some((op) => op.lane === 'card'),
      hasRead: ops.some((op) => op.lane === 'read'),
      heldSince,
    });
    const hides: { finish: Operation; hide: Command }[] = [];
    if (decision.kind !== 'hold') return { decision, hides };
    for (const op of ops) {
      if (!this.since.has(op)) this.since.set(op, now);
      if (this.hides.has(op)) continue;
      const hide = hideOf(op);
      if (hide) hides.push({ finish: op, hide });
    }
    return { decision, hides };
  }

  /** The hide sent for a held finish. */
  sentHide(finish: Operation, hide: Operation): void {
    this.hides.set(finish, hide);
  }
}

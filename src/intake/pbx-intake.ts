/**
 * How a PBX's events and route requests reach a portal's outbox, whichever way the PBX talks: the
 * HTTP API (`pbx-api.ts`) and the adapters the bridge runs itself (`src/bridge/adapters.ts`) share
 * these, so the two cannot differ in what they store or when they answer.
 */
import { createHash } from 'node:crypto';
import type { KnownCaller, PbxEffect } from '../core/index.ts';
import type { Outbox } from '../outbox/index.ts';
import type { PbxEvent, PlanStep, RouteRequested } from '../pbx/index.ts';

/**
 * What the PBX API needs of an outbox: stepping the engine durably. `acceptMany` stores a batch
 * all or nothing; an intake without it (a test's stand-in) gets the events one by one. The engine's
 * state, when given, tells which calls the bridge knows (a recording for another is refused).
 */
export type EventIntake = Pick<Outbox, 'accept'> &
  Partial<Pick<Outbox, 'acceptMany' | 'preview' | 'engineState'>> & {
    /** The portal's CRM phone index: who an inbound caller is, before the engine hears of the call. */
    readonly callers?: CallerLookup | undefined;
  };

export interface CallerLookup {
  lookup(phone: string): Promise<KnownCaller | undefined>;
}

/** What the index knows of the caller; a store that cannot answer now leaves the engine to look. */
function knownCaller(outbox: EventIntake, phone: string): Promise<KnownCaller | undefined> {
  if (!outbox.callers || phone === '') return Promise.resolve(undefined);
  return outbox.callers.lookup(phone).catch(() => undefined);
}

/** Inbound starts carry what the CRM phone index knows of the caller. */
async function withCallers(
  outbox: EventIntake,
  inputs: readonly IntakeEntry[],
): Promise<readonly IntakeEntry[]> {
  if (!outbox.callers) return inputs;
  return Promise.all(
    inputs.map(async (entry) => {
      const event = entry.input;
      if (event.type !== 'call.started' || event.direction !== 'inbound' || event.caller !== undefined)
        return entry;
      const caller = await knownCaller(outbox, event.from);
      return caller === undefined ? entry : { ...entry, input: { ...event, caller } };
    }),
  );
}

interface IntakeEntry {
  readonly input: PbxEvent;
  /** The journal's key: the same event stored twice is stepped once. */
  readonly dedupeKey: string | undefined;
}

export const sha = (data: string | Uint8Array): string =>
  createHash('sha256').update(data).digest('hex').slice(0, 32);

/** The dedupe key of an event that carries its own time: the same event whenever it comes. */
export const timedEventKey = (pbxId: string, event: PbxEvent): string =>
  `${pbxId}/${event.callId}/${event.type}/event:${sha(JSON.stringify(event))}`;

/** Steps the events durably, in order, and hands each step's transfers and originations on. */
export async function acceptPbxEvents(
  outbox: EventIntake,
  given: readonly IntakeEntry[],
  dispatch: (effects: readonly PbxEffect[]) => void,
): Promise<void> {
  const inputs = await withCallers(outbox, given);
  if (outbox.acceptMany) {
    // All or nothing: a store failure answers 503 with nothing stored, and the repeat is whole.
    dispatch((await outbox.acceptMany(inputs)).pbx);
  } else {
    // One after the other, each stored before the next: the repeat steps only the rest.
    for (const i of inputs) dispatch((await outbox.accept(i.input, { dedupeKey: i.dedupeKey })).pbx);
  }
}

interface RouteOptions {
  /** What to ring when the engine cannot answer in time. */
  fallback: () => PlanStep[];
  timeoutMs: number;
  dispatch: (effects: readonly PbxEffect[]) => void;
  /** Told when the engine's answer came after the fallback was sent. */
  onLate?: (() => void) | undefined;
}

/**
 * The engine's plan, or the fallback when the engine's step is not stored within `timeoutMs` (or
 * fails). A step that lands late still stands in the engine; the PBX rings the fallback, and its
 * own events (ringing, answered) tell the engine what really happened.
 *
 * An intake that can `preview` answers at once with the engine's plan on the state as it stands
 * (what the CRM phone index knows of the caller included) and stores the step behind it: the
 * PBX's caller waits for no disk and no other call's step.
 */
export async function routeCall(
  outbox: EventIntake | undefined,
  request: RouteRequested,
  o: RouteOptions,
): Promise<readonly PlanStep[]> {
  if (!outbox) return o.fallback();
  let timer: NodeJS.Timeout | undefined;
  let late = false;
  const enriched = knownCaller(outbox, request.from).then((caller) =>
    caller === undefined ? request : { ...request, caller },
  );
  const stored = enriched.then((input) => outbox.accept(input));
  if (outbox.preview) {
    const input = await enriched;
    let plan: readonly PlanStep[] | undefined;
    try {
      plan = planOf(outbox.preview(input));
    } catch {
      // No answer now: the stored step's, within the time limit.
    }
    if (plan !== undefined) {
      stored.then(
        (result) => o.dispatch(result.pbx),
        () => undefined,
      );
      return plan;
    }
  }
  const engineAnswer = stored.then(
    (result) => {
      o.dispatch(result.pbx);
      if (late) o.onLate?.();
      return planOf(result.pbx) ?? o.fallback();
    },
    () => o.fallback(),
  );
  const timeout = new Promise<PlanStep[]>((resolve) => {
    timer = setTimeout(() => {
      late = true;
      resolve(o.fallback());
    }, o.timeoutMs);
  });
  try {
    return await Promise.race([engineAnswer, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function planOf(effects: readonly { type: string }[]): readonly PlanStep[] | undefined {
  const plan = effects.find((e): e is Extract<PbxEffect, { type: 'pbx.plan' }> => e.type === 'pbx.plan');
  return plan?.plan;
}

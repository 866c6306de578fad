/**
 * The engine of one portal, hosted over the store: a step is computed from the state this
 * instance knows and committed with that state's revision, together with the input, the changed
 * shards, the operations it emitted and any entry updates it settles, in ONE transaction. If the
 * store refuses it as stale (another instance stepped this portal meanwhile), the shards changed
 * since are followed and the step is computed again. In memory the state only changes once the
 * commit has landed: a step that cannot be stored leaves nothing behind.
 */
import type { Clock } from '../bitrix/index.ts';
import {
  allCalls,
  findCallByKey,
  type Effect,
  type Engine,
  type EngineInput,
  type EngineState,
  type PbxEffect,
} from '../core/index.ts';
import {
  StoreError,
  type EntryUpdate,
  type NewOutboxEntry,
  type OutboxEntry,
  type StepCommit,
  type StepOutcome,
  type Store,
} from '../store/index.ts';
import { isBitrixEffect, toNewEntry } from './entries.ts';
import type { Serial } from './serial.ts';
import { EngineTimers } from './timers.ts';

/** A step refused as stale this many times in a row gives up (STORE_BUSY): something is wrong. */
const MAX_STALE_RETRIES = 100;

export interface AcceptResult {
  /** The input was seen before (same dedupe key): nothing was done. */
  duplicate: boolean;
  /** What the PBX must be told (plans, transfers, originations): the caller carries them out. */
  pbx: PbxEffect[];
}

/** One input of a stored commit and what it produced. */
export interface SteppedInput {
  input: EngineInput;
  effects: readonly Effect[];
  /** Operations it added to the outbox. */
  entries: number;
}

export interface Committed {
  /** The commit was a repeat (its dedupe key was stored before): nothing changed. */
  duplicate: boolean;
  steps: readonly SteppedInput[];
  /** The commit added or settled outbox entries: there is something to deliver. */
  touchedEntries: boolean;
  /** New entries stored in flight (see `handOff`), for the caller to hand to the client now. */
  handedOff: readonly OutboxEntry[];
}

interface EngineHostOptions {
  portalId: string;
  store: Store;
  engine: Engine;
  clock: Clock;
  serial: Serial;
  /** A timer whose step could not be stored fires again this much later. */
  timerRetryMs: number;
  /** After each commit, in order (also for a repeat, and for the host's own timer steps). */
  committed: (c: Committed) => void;
  /**
   * Whether a new entry is handed to the client right after its step: then it is stored in flight
   * in the step's own transaction. Default: none.
   */
  handOff?: ((entry: NewOutboxEntry) => boolean) | undefined;
  fault: (where: string, error: unknown) => void;
}

export const isPbxEffect = (e: Effect): e is PbxEffect => e.type.startsWith('pbx.');

export class EngineHost {
  private current: EngineState;
  /** The engine revision `current` was read at or committed as (see `Store.commitStep`). */
  private revision: number;
  private readonly timers: EngineTimers;
  /** Steps from outside waiting for the next group commit. */
  private waiting: Waiting[] = [];
  private flushQueued = false;

  private constructor(
    private readonly o: EngineHostOptions,
    state: EngineState,
    revision: number,
  ) {
    this.current = state;
    this.revision = revision;
    this.timers = new EngineTimers(o.clock, (timerId) => this.fire(timerId));
  }

  /** The stored state of the portal's live calls (or a fresh one); `start` arms their timers. */
  static async load(o: EngineHostOptions): Promise<EngineHost> {
    const stored = await o.store.loadEngine(o.portalId);
    let state = o.engine.initialState();
    if (stored) {
      if (stored.version !== state.version) {
        throw new StoreError(
          'STORE_TOO_NEW',
          `engine state version ${stored.version} is not ${state.version}`,
        );
      }
      state = { version: state.version, seq: stored.seq, shards: stored.shards as EngineState['shards'] };
    }
    return new EngineHost(o, state, stored?.revision ?? 0);
  }

  /** Arms the timers the stored calls hold: from here on the host steps by itself. */
  start(): void {
    this.timers.armAll(allCalls(this.current));
  }

  get state(): EngineState {
    return this.current;
  }

  /** The same rules with a fresh extension map; steps already queued finish on the old one. */
  setEngine(engine: Engine): void {
    this.o.engine = engine;
  }

  /** What `input` would emit on the state as it stands, storing nothing (the engine is pure). */
  preview(input: EngineInput, now: number): readonly Effect[] {
    return this.o.engine.step(this.current, input, now).effects;
  }

  /** Ended, or no longer known to the engine (forgotten after its retention). */
  callEnded(callKey: string): boolean {
    const call = findCallByKey(this.current, callKey);
    if (!call) return true;
    return call.phase === 'wrapping' || call.phase === 'done';
  }

  /**
   * Steps inputs from outside (the PBX) and commits them with the steps that queue up meanwhile
   * (group commit); runs in the serial line by itself, so the caller must not be in it.
   */
  accept(inputs: readonly EngineInput[], now: number, dedupeKey: string | null): Promise<AcceptResult> {
    const first = inputs[0];
    const journal: Journal =
      inputs.length === 1 && first !== undefined
        ? { type: first.type, payload: first }
        : { type: 'pbx.batch', payload: inputs };
    return this.enqueue({ inputs, journal, now, dedupeKey, entryUpdates: [] });
  }

  /**
   * A delivery's answer: the entry's change, and the input it feeds the engine (if any), committed
   * with the next group like a PBX step, so that an answer costs no transaction of its own. Runs
   * in the serial line by itself, so the caller must not be in it.
   */
  record(input: EngineInput | null, entryUpdates: EntryUpdate[], now: number): Promise<AcceptResult> {
    const inputs = input === null ? [] : [input];
    const journal: Journal = { type: input?.type ?? 'entries', payload: input };
    return this.enqueue({ inputs, journal, now, dedupeKey: null, entryUpdates });
  }

  /**
   * For a caller already in the serial line (a delivery round): stores `entryUpdates` now, in one
   * transaction with every step waiting for the next group, ahead of them.
   */
  async commitNow(entryUpdates: EntryUpdate[], now: number): Promise<void> {
    if (entryUpdates.length === 0) return;
    const done = new Promise<AcceptResult>((resolve, reject) => {
      this.waiting.unshift({
        inputs: [],
        journal: { type: 'entries', payload: null },
        now,
        dedupeKey: null,
        entryUpdates,
        roundOwn: true,
        resolve,
        reject,
      });
    });
    // The flush already scheduled finds nothing left and returns.
    await this.flush();
    await done;
  }

  private enqueue(request: StepRequest): Promise<AcceptResult> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ ...request, resolve, reject });
      if (this.flushQueued) return;
      this.flushQueued = true;
      // setImmediate, not at once: the store writes synchronously, so whatever arrived while the
      // last transaction was written is read by the poll phase of this turn of the event loop,
      // and a flush in the check phase after it takes it all into one transaction (one fsync).
      // flush answers every caller itself and never rejects.
      setImmediate(() => void this.o.serial.run(() => this.flush()));
    });
  }

  /**
   * Steps one input and commits it with `entryUpdates` (a delivery result it feeds back), at once:
   * for callers already in the serial line.
   */
  step(
    input: EngineInput,
    now: number,
    dedupeKey: string | null,
    entryUpdates: EntryUpdate[] = [],
  ): Promise<AcceptResult> {
    return this.commit([input], { type: input.type, payload: input }, now, dedupeKey, entryUpdates);
  }

  /** Steps every input in order and commits them as one: all or nothing. */
  stepMany(inputs: readonly EngineInput[], now: number, dedupeKey: string | null): Promise<AcceptResult> {
    return this.commit(inputs, { type: 'pbx.batch', payload: inputs }, now, dedupeKey, []);
  }

  /**
   * Takes in what other instances committed since our revision: their changed shards replace
   * ours, and the timers of the calls in them are armed here too (if their instance died, ours
   * fire; if both fire, the second is a stale timer the engine ignores).
   */
  async follow(): Promise<void> {
    const fresh = await this.o.store.loadEngine(this.o.portalId, this.revision);
    if (!fresh || fresh.revision === this.revision) return;
    const changed = fresh.shards as EngineState['shards'];
    this.current = {
      version: this.current.version,
      seq: fresh.seq,
      shards: { ...this.current.shards, ...changed },
    };
    this.revision = fresh.revision;
    this.timers.armAll(Object.values(changed).flatMap((shard) => Object.values(shard)));
  }

  close(): void {
    this.timers.close();
  }

  private fire(timerId: string): void {
    this.o.serial
      .run(() => this.step({ type: 'timer.fired', timerId }, this.o.clock.now(), null))
      .catch((error: unknown) => {
        this.o.fault('timer', error);
        // The state still holds the timer: fire it again a little later.
        this.timers.arm(timerId, this.o.clock.now() + this.o.timerRetryMs);
      });
  }

  /**
   * Steps from the state as this instance knows it and commits with that revision; a commit
   * refused as stale is computed again over the shards changed since. That is the whole
   * cross-instance design of the engine: state lives in the store, steps of one portal are
   * serialized by the store (its row lock), and a step never lands on state it did not see. One
   * process alone is never stale.
   */
  private async commit(
    inputs: readonly EngineInput[],
    journal: Journal,
    now: number,
    dedupeKey: string | null,
    entryUpdates: EntryUpdate[],
  ): Promise<AcceptResult> {
    for (let attempt = 0; ; attempt += 1) {
      const step = this.compute(
        this.current,
        this.revision,
        { inputs, journal, now, dedupeKey, entryUpdates },
        entryUpdates,
      );
      const outcome = await this.o.store.commitStep(step.commit);
      if (outcome.stored) return this.landed(step, outcome);
      if (outcome.reason === 'duplicate') return this.repeated(inputs);
      if (attempt >= MAX_STALE_RETRIES) throw busy(attempt);
      await this.follow();
    }
  }

  /**
   * Group commit: the steps that queued up while the store was busy are computed one on the
   * other and stored in one transaction, so a burst of PBX events costs one fsync, not one each.
   * A repeat or a stale refusal inside the group stores the steps before it; the rest are
   * computed again. A group the store refuses as a whole is tried step by step, so one step that
   * cannot be stored does not take the others down with it.
   */
  private async flush(): Promise<void> {
    this.flushQueued = false;
    const group = this.waiting.splice(0);
    if (group.length === 0) return;
    const commitSteps = this.o.store.commitSteps?.bind(this.o.store);
    let rest = group;
    if (commitSteps !== undefined && group.length > 1) {
      try {
        for (let stale = 0; rest.length > 1;) {
          const steps: Computed[] = [];
          let state = this.current;
          let revision = this.revision;
          for (const w of rest) {
            const step = this.compute(state, revision, w, w.entryUpdates);
            steps.push(step);
            state = step.after;
            revision += 1;
          }
          const outcomes = await commitSteps(steps.map((c) => c.commit));
          let i = 0;
          for (; i < outcomes.length; i++) {
            const outcome = outcomes[i];
            const step = steps[i];
            const w = rest[i];
            if (outcome === undefined || step === undefined || w === undefined || !outcome.stored) break;
            w.resolve(this.landed(step, outcome));
          }
          const refused = outcomes[i];
          const waiting = rest[i];
          if (refused === undefined || refused.stored || waiting === undefined) {
            // Every step answered was stored; a store that answered none is tried step by step.
            if (i === 0) break;
            rest = rest.slice(i);
            continue;
          }
          if (refused.reason === 'duplicate') {
            waiting.resolve(this.repeated(waiting.inputs));
            rest = rest.slice(i + 1);
            continue;
          }
          if (++stale > MAX_STALE_RETRIES) throw busy(stale);
          rest = rest.slice(i);
          await this.follow();
        }
      } catch {
        // Tried again one by one below: each caller gets its own step's answer.
      }
    }
    for (const w of rest) {
      try {
        w.resolve(await this.commitAlone(w));
      } catch (error) {
        w.reject(error);
      }
    }
  }

  /** One waiting step in a transaction of its own (an answer alone only updates its entries). */
  private async commitAlone(w: Waiting): Promise<AcceptResult> {
    if (w.inputs.length > 0) return this.commit(w.inputs, w.journal, w.now, w.dedupeKey, w.entryUpdates);
    await this.o.store.updateEntries(w.entryUpdates, w.now);
    this.o.committed({
      duplicate: false,
      steps: [],
      touchedEntries: w.entryUpdates.length > 0 && w.roundOwn !== true,
      handedOff: [],
    });
    return { duplicate: false, pbx: [] };
  }

  private compute(
    state: EngineState,
    revision: number,
    w: StepRequest,
    entryUpdates: EntryUpdate[],
  ): Computed {
    let after = state;
    const steps: SteppedInput[] = [];
    const newEntries: NewOutboxEntry[] = [];
    for (const input of w.inputs) {
      const out = this.o.engine.step(after, input, w.now);
      after = out.state;
      const added = out.effects.filter(isBitrixEffect).map((e) => this.marked(toNewEntry(e, w.now)));
      newEntries.push(...added);
      steps.push({ input, effects: out.effects, entries: added.length });
    }
    return {
      after,
      steps,
      touchedEntries: newEntries.length > 0 || (entryUpdates.length > 0 && w.roundOwn !== true),
      commit: {
        portalId: this.o.portalId,
        now: w.now,
        // An answer alone changes entries only: nothing for the journal of inputs.
        input:
          w.inputs.length === 0
            ? null
            : { type: w.journal.type, dedupeKey: w.dedupeKey, payload: w.journal.payload },
        engine: { version: after.version, seq: after.seq, shards: changedShards(state, after) },
        newEntries,
        entryUpdates,
        expectedRevision: revision,
      },
    };
  }

  private marked(entry: NewOutboxEntry): NewOutboxEntry {
    return this.o.handOff?.(entry) === true ? { ...entry, inFlight: true } : entry;
  }

  /** A step is stored: it becomes the state, its timers are armed, it is announced. */
  private landed(step: Computed, outcome: StepOutcome & { stored: true }): AcceptResult {
    this.revision = outcome.revision;
    this.current = step.after;
    for (const s of step.steps) this.timers.apply(s.effects);
    this.o.committed({
      duplicate: false,
      steps: step.steps,
      touchedEntries: step.touchedEntries,
      handedOff: outcome.handedOff ? handedOffEntries(step.commit, outcome.handedOff) : [],
    });
    return { duplicate: false, pbx: step.steps.flatMap((s) => s.effects.filter(isPbxEffect)) };
  }

  private repeated(inputs: readonly EngineInput[]): AcceptResult {
    this.o.committed({
      duplicate: true,
      steps: inputs.map((input) => ({ input, effects: [], entries: 0 })),
      touchedEntries: false,
      handedOff: [],
    });
    return { duplicate: true, pbx: [] };
  }
}

interface Journal {
  type: string;
  payload: unknown;
}

interface StepRequest {
  inputs: readonly EngineInput[];
  journal: Journal;
  now: number;
  dedupeKey: string | null;
  /** Entry changes committed with the step (a delivery's answer). */
  entryUpdates: EntryUpdate[];
  /** The changes are a delivery round's own: storing them is no news to delivery. */
  roundOwn?: boolean;
}

interface Waiting extends StepRequest {
  resolve: (r: AcceptResult) => void;
  reject: (e: unknown) => void;
}

interface Computed {
  after: EngineState;
  steps: SteppedInput[];
  touchedEntries: boolean;
  commit: StepCommit;
}

const busy = (attempts: number): StoreError =>
  new StoreError('STORE_BUSY', `step refused as stale ${attempts + 1} times: other instances keep stepping`);

/** The engine copies only the shards a step changed: identity tells which rows to rewrite. */
function changedShards(before: EngineState, after: EngineState): Record<string, Record<string, unknown>> {
  const shards: Record<string, Record<string, unknown>> = {};
  if (before.shards === after.shards) return shards;
  // for…in, not Object.entries: this runs for every step, over every shard.
  for (const key in after.shards) {
    const shard = after.shards[key];
    if (shard !== undefined && before.shards[key] !== shard) shards[key] = shard;
  }
  return shards;
}

/** The entries a commit stored in flight, as the store now holds them (ids from its answer). */
function handedOffEntries(c: StepCommit, ids: ReadonlyMap<string, number>): OutboxEntry[] {
  const out: OutboxEntry[] = [];
  for (const e of c.newEntries) {
    const id = ids.get(e.opId);
    if (id === undefined || e.inFlight !== true) continue;
    out.push({
      id,
      portalId: c.portalId,
      callKey: e.callKey,
      opId: e.opId,
      seq: e.seq,
      lane: e.lane,
      kind: e.kind,
      payload: e.payload,
      status: 'in_flight',
      attempts: 1,
      nextAttemptAt: e.nextAttemptAt,
      lastError: null,
      note: null,
      result: null,
      createdAt: c.now,
      updatedAt: c.now,
    });
  }
  return out;
}

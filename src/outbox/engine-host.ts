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
import { StoreError, type EntryUpdate, type NewOutboxEntry, type Store } from '../store/index.ts';
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
}

export interface EngineHostOptions {
  portalId: string;
  store: Store;
  engine: Engine;
  clock: Clock;
  serial: Serial;
  /** A timer whose step could not be stored fires again this much later. */
  timerRetryMs: number;
  /** After each commit, in order (also for a repeat, and for the host's own timer steps). */
  committed: (c: Committed) => void;
  fault: (where: string, error: unknown) => void;
}

export const isPbxEffect = (e: Effect): e is PbxEffect => e.type.startsWith('pbx.');

export class EngineHost {
  private current: EngineState;
  /** The engine revision `current` was read at or committed as (see `Store.commitStep`). */
  private revision: number;
  private readonly timers: EngineTimers;

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

  /** Steps one input and commits it with `entryUpdates` (a delivery result it feeds back). */
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
    journal: { type: string; payload: unknown },
    now: number,
    dedupeKey: string | null,
    entryUpdates: EntryUpdate[],
  ): Promise<AcceptResult> {
    for (let attempt = 0; ; attempt += 1) {
      const before = this.current;
      let after = before;
      const steps: SteppedInput[] = [];
      const newEntries: NewOutboxEntry[] = [];
      for (const input of inputs) {
        const out = this.o.engine.step(after, input, now);
        after = out.state;
        const added = out.effects.filter(isBitrixEffect).map((e) => toNewEntry(e, now));
        newEntries.push(...added);
        steps.push({ input, effects: out.effects, entries: added.length });
      }
      const outcome = await this.o.store.commitStep({
        portalId: this.o.portalId,
        now,
        input: { type: journal.type, dedupeKey, payload: journal.payload },
        engine: { version: after.version, seq: after.seq, shards: changedShards(before, after) },
        newEntries,
        entryUpdates,
        expectedRevision: this.revision,
      });
      if (outcome.stored) {
        this.revision = outcome.revision;
        this.current = after;
        for (const s of steps) this.timers.apply(s.effects);
        this.o.committed({
          duplicate: false,
          steps,
          touchedEntries: newEntries.length > 0 || entryUpdates.length > 0,
        });
        return { duplicate: false, pbx: steps.flatMap((s) => s.effects.filter(isPbxEffect)) };
      }
      if (outcome.reason === 'duplicate') {
        this.o.committed({
          duplicate: true,
          steps: inputs.map((input) => ({ input, effects: [], entries: 0 })),
          touchedEntries: false,
        });
        return { duplicate: true, pbx: [] };
      }
      if (attempt >= MAX_STALE_RETRIES) {
        throw new StoreError(
          'STORE_BUSY',
          `step refused as stale ${attempt + 1} times: other instances keep stepping`,
        );
      }
      await this.follow();
    }
  }
}

/** The engine copies only the shards a step changed: identity tells which rows to rewrite. */
function changedShards(before: EngineState, after: EngineState): Record<string, Record<string, unknown>> {
  const shards: Record<string, Record<string, unknown>> = {};
  for (const [key, shard] of Object.entries(after.shards)) {
    if (before.shards[key] !== shard) shards[key] = shard;
  }
  return shards;
}

import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { EventEmitter } from 'node:events';
import {
  errorRule,
  failureKind,
  isCallNotFound,
  isLinkFailure,
  systemClock,
  type BitrixError,
  type CallIdInput,
  type Clock,
  type Pending,
  type RegisteredCall,
} from '../bitrix/index.ts';
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
  type OutboxEntry,
  type StepCommit,
  type StepOutcome,
  type Store,
} from '../store/index.ts';
import { isBitrixEffect, toNewEntry, type EntryPayload } from './entries.ts';
import { outageRewrites, planDelivery, withUpdates, type PlannedEntry } from './plan.ts';
import { delay } from '../retry/index.ts';
import { defaultDeliveryPolicy, entryBackoff, probeBackoff, type DeliveryPolicy } from './policy.ts';
import {
  submitEntry,
  type EntryResult,
  type OutboxApi,
  type RecordingSource,
  type RecordingUrl,
  type Submitted,
} from './submit.ts';

/** up: the portal answers; down: it cannot be reached (probed); attention: a person must act. */
export type LinkState = 'up' | 'down' | 'attention';

export interface OutboxOptions {
  portalId: string;
  store: Store;
  engine: Engine;
  api: OutboxApi;
  /** Drives timers, probes and backoff; tests inject one they advance. Default: the system clock. */
  clock?: Clock | undefined;
  policy?: Partial<DeliveryPolicy> | undefined;
  recordings?: RecordingSource | undefined;
  /** Where the portal downloads an uploaded recording (preferred to uploading its bytes). */
  recordingUrl?: RecordingUrl | undefined;
  /** Several instances on one store (`store.shared`): how this one claims calls. */
  lease?: Partial<LeaseOptions> | undefined;
}

export interface LeaseOptions {
  /** This instance's name in the store's leases. Default: host, pid and a random part. */
  owner: string;
  /** How long a claimed call stays this instance's without renewal. Default 10 s. */
  leaseMs: number;
  /**
   * How often the instance renews its leases, looks for calls other instances left (an expired
   * lease, or released with new entries) and follows their engine steps. Default 1 s.
   */
  pollMs: number;
  /** Calls claimed at most per look. Default 100. */
  claimLimit: number;
}

/** A step refused as stale this many times in a row gives up (STORE_BUSY): something is wrong. */
const MAX_STALE_RETRIES = 100;

export interface AcceptOptions {
  /** The PBX's own id of the event: a repeat with the same key is stored once and stepped once. */
  dedupeKey?: string | undefined;
  /** Engine time for this step. Default: the clock's now. */
  now?: number | undefined;
}

export interface AcceptResult {
  /** The input was seen before (same dedupe key): nothing was done. */
  duplicate: boolean;
  /** What the PBX must be told (plans, transfers, originations): the caller carries them out. */
  pbx: PbxEffect[];
}

export interface EntryEvent {
  id: number;
  opId: string;
  kind: OutboxEntry['kind'];
  status: OutboxEntry['status'];
  code: string | undefined;
}

/** The entry a delivery fault is about, and when it is tried again. */
export interface FaultEntry {
  id: number;
  opId: string;
  kind: OutboxEntry['kind'];
  callKey: string;
  retryInMs: number;
}

/** `lastError` of an entry held back by a fault (an error the error table does not know). */
export const FAULT_CODE = 'FAULT';

export interface OutboxEvents {
  /** An input was stored and stepped (or recognised as a repeat). */
  accepted: [{ input: EngineInput; duplicate: boolean; entries: number }];
  /** Entries left for the client. */
  submitted: [{ count: number; probe: boolean }];
  /** An entry changed its status after an answer, or was dropped/failed by the planner. */
  entry: [EntryEvent];
  link: [{ state: LinkState; code: string | undefined }];
  /**
   * A stored step told the PBX something (a plan, a transfer, an origination): from `accept`, and
   * equally from the outbox's own steps (a timer, a Bitrix24 result such as `bitrix.responsible`),
   * whose effects no caller would otherwise see. Emitted once per stored step, never for a repeat.
   */
  pbx: [{ input: EngineInput; effects: PbxEffect[] }];
  /** Nothing open: every entry is done, dropped or failed. */
  idle: [];
  /**
   * Background work (a result, a timer, the pump) could not be stored, or a delivery failed with
   * an error the error table does not know (`where: 'delivery'`, with its entry); it is retried.
   */
  fault: [{ where: string; error: unknown; entry?: FaultEntry }];
}

const isPbxEffect = (e: Effect): e is PbxEffect => e.type.startsWith('pbx.');

/**
 * The durable outbox of one portal: the engine's steps and the Bitrix24 operations they emit are
 * stored together, then delivered in order per call, until the portal gives a definitive answer.
 *
 * - `accept(input)` steps the engine and stores the input, the changed state and every operation
 *   in ONE transaction. If that fails the caller gets the StoreError and nothing changed, in the
 *   store or in memory: the PBX is told 503 and sends the event again.
 * - The pump reads the calls with open entries, plans (see plan.ts) and hands entries to the
 *   client, which batches and prioritises across calls; one order key per call keeps each call's
 *   operations in order. Results go back into the engine (`bitrix.registered`,
 *   `bitrix.responsible`, `bitrix.failed`) in the same transaction that marks the entry done.
 * - When the portal cannot be reached, the link is down: nothing is sent but a probe (a batch of
 *   due entries) now and then; ended calls lose their card operations (outageRewrites).
 * - `Outbox.open` over an existing store rebuilds the calls, re-arms their timers and sends again
 *   whatever a dead process left in flight.
 *
 * All store writes of one outbox run one after another (a promise chain), so steps stay in order.
 */
export class Outbox extends EventEmitter<OutboxEvents> {
  private state: EngineState;
  private readonly policy: DeliveryPolicy;
  private readonly clock: Clock;
  /** Entries handed to the client and not yet settled, by id. */
  private readonly inFlight = new Map<number, OutboxEntry>();
  /** Registers in flight by call key: the call's show/hide reference their CALL_ID. */
  private readonly registers = new Map<string, Pending<RegisteredCall>>();
  private readonly timers = new Map<string, () => void>();
  private chain: Promise<unknown> = Promise.resolve();
  private linkState: LinkState = 'up';
  private probeFailures = 0;
  private probeDue = false;
  /**
   * After a restart the outbox cannot know whether the portal was reachable meanwhile: the first
   * delivery treats calls that have already ended as an outage would (no card for a call that is
   * over), whatever the link state.
   */
  private reconcileEnded = false;
  private cancelProbe: (() => void) | null = null;
  private retry: { at: number; cancel: () => void } | null = null;
  private pumpQueued = false;
  private idleNow = false;
  private closed = false;
  /** The engine revision `state` was read at or committed as (see `Store.commitStep`). */
  private revision = 0;
  /** Set on a shared store: calls are claimed with a lease before delivery. */
  private readonly lease: LeaseOptions | null;
  private cancelPoll: (() => void) | null = null;
  private unwatch: (() => void) | null = null;
  /** Shared store: the calls this instance held at its last claim. */
  private held: string[] = [];

  private constructor(
    private readonly o: OutboxOptions,
    state: EngineState,
  ) {
    super();
    this.state = state;
    this.clock = o.clock ?? systemClock;
    this.policy = { ...defaultDeliveryPolicy, ...(o.policy ?? {}) };
    this.lease = o.store.shared
      ? {
          owner: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
          leaseMs: 10_000,
          pollMs: 1_000,
          claimLimit: 100,
          ...(o.lease ?? {}),
        }
      : null;
  }

  /**
   * Opens the outbox of a portal over its store: the engine state of live calls comes back, their
   * timers are armed again, and entries a dead process left in flight become pending again.
   *
   * Sending those again is safe for every kind, by the same rules the client applies to its own
   * repeats: a register carries the call key as EXTERNAL_CALL_ID, so the portal answers a repeat of
   * the unfinished call with the same CALL_ID (and the call cannot be finished yet: a finish only
   * goes once the register's CALL_ID is stored); show/hide are idempotent; a finish that did arrive
   * makes the repeat answer "Call is not found", which counts as done; attachRecord replaces the
   * recording; findResponsible is a read.
   *
   * On a shared store (several instances, PostgreSQL) only the entries of calls no live instance
   * holds are put back; the calls of a live instance stay its own (see `claimCalls`).
   */
  static async open(options: OutboxOptions): Promise<Outbox> {
    const { store, portalId, engine } = options;
    const stored = await store.loadEngine(portalId);
    let state = engine.initialState();
    if (stored) {
      if (stored.version !== state.version) {
        throw new StoreError(
          'STORE_TOO_NEW',
          `engine state version ${stored.version} is not ${state.version}`,
        );
      }
      state = { version: state.version, seq: stored.seq, shards: stored.shards as EngineState['shards'] };
    }
    await store.requeueInFlight(portalId, (options.clock ?? systemClock).now());
    const outbox = new Outbox(options, state);
    outbox.revision = stored?.revision ?? 0;
    outbox.reconcileEnded = true;
    outbox.armTimersOf(allCalls(state));
    outbox.schedulePump();
    outbox.armPoll();
    if (outbox.lease) outbox.unwatch = store.watchOutbox?.(portalId, () => outbox.schedulePump()) ?? null;
    return outbox;
  }

  /**
   * A new engine for the next steps: the same rules with a fresh extension map (the engine is
   * pure, so the state of live calls carries over). Steps already queued finish on the old one.
   */
  setEngine(engine: Engine): void {
    this.o.engine = engine;
  }

  /**
   * Delivers what waits now (the admin's "replay now"): a link that is down is probed at once
   * instead of at its next probe time. Nothing else changes: the entries keep their order.
   */
  deliverNow(): void {
    if (this.closed) return;
    if (this.linkState !== 'up') {
      this.cancelProbe?.();
      this.cancelProbe = null;
      this.probeDue = true;
    }
    this.schedulePump();
  }

  /** The engine state as last stored. */
  get engineState(): EngineState {
    return this.state;
  }

  get link(): LinkState {
    return this.linkState;
  }

  /** Entries handed to the client by this outbox and not settled yet. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  get isIdle(): boolean {
    return this.idleNow && this.inFlight.size === 0 && !this.pumpQueued;
  }

  /** Steps the engine with `input` and stores everything it produced, all or nothing. */
  accept(input: EngineInput, options: AcceptOptions = {}): Promise<AcceptResult> {
    if (this.closed) return Promise.reject(new StoreError('STORE_CLOSED', 'the outbox is closed'));
    return this.serial(() =>
      this.step(input, options.now ?? this.clock.now(), options.dedupeKey ?? null, []),
    );
  }

  /**
   * Steps the engine with every input in order and stores them all in ONE transaction, all or
   * nothing: a PBX batch that cannot be stored leaves nothing behind, so its repeat is whole.
   *
   * The store writes one journal row per commit, so the batch is one commit. Its dedupe key is the
   * single event's own key for a batch of one (the same as `accept`), and a digest of every
   * event's key otherwise: the PBX's repeat of the same request is recognised whole.
   * TODO(store): a `commitSteps` with a journal row per input would also recognise one event
   * repeated inside a different batch; until then that relies on the engine ignoring repeats.
   */
  acceptMany(
    inputs: readonly { input: EngineInput; dedupeKey?: string | undefined }[],
    options: { now?: number | undefined } = {},
  ): Promise<AcceptResult> {
    if (this.closed) return Promise.reject(new StoreError('STORE_CLOSED', 'the outbox is closed'));
    const first = inputs[0];
    if (first === undefined) return Promise.resolve({ duplicate: false, pbx: [] });
    if (inputs.length === 1)
      return this.accept(first.input, { dedupeKey: first.dedupeKey, now: options.now });
    const keys = inputs.map((i) => i.dedupeKey);
    const dedupeKey = keys.every((k) => k !== undefined)
      ? `batch:${createHash('sha256').update(keys.join('\n')).digest('hex').slice(0, 32)}`
      : null;
    return this.serial(() =>
      this.stepMany(
        inputs.map((i) => i.input),
        options.now ?? this.clock.now(),
        dedupeKey,
      ),
    );
  }

  /**
   * What `input` would emit on the state as it stands, storing nothing: the engine is pure, so this
   * is its answer now. For a route's plan, which a caller is waiting for while the step itself is
   * stored by `accept`; the two agree unless another input is stepped in between.
   */
  preview(input: EngineInput, now: number = this.clock.now()): readonly Effect[] {
    return this.o.engine.step(this.state, input, now).effects;
  }

  /** Resolves once nothing is open (every entry done, dropped or failed). */
  whenIdle(): Promise<void> {
    if (this.isIdle) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (!this.isIdle) return;
        this.off('idle', check);
        resolve();
      };
      this.on('idle', check);
    });
  }

  /**
   * Stops timers and delivery. What is in flight settles in the client; the store keeps the rest.
   * On a shared store this instance's leases are left to expire (or given up by `release`):
   * another instance then takes its calls over, sending again what was in flight (as after a
   * restart).
   */
  close(): void {
    this.closed = true;
    this.cancelPoll?.();
    this.cancelPoll = null;
    this.unwatch?.();
    this.unwatch = null;
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
    this.cancelProbe?.();
    this.cancelProbe = null;
    this.retry?.cancel();
    this.retry = null;
  }

  /**
   * After `close` (and the client's), on a shared store: gives this instance's calls back now, so
   * that another instance delivers them without waiting for the leases to run out (a rolling
   * restart). What was in flight here is sent again by the instance that takes them.
   */
  async release(): Promise<void> {
    const lease = this.lease;
    if (!lease || !this.closed || this.held.length === 0) return;
    const held = this.held;
    this.held = [];
    await this.chain;
    await this.o.store.releaseCalls(this.o.portalId, lease.owner, held);
  }

  // --- steps ---

  private async step(
    input: EngineInput,
    now: number,
    dedupeKey: string | null,
    entryUpdates: EntryUpdate[],
  ): Promise<AcceptResult> {
    const { after, effects, newEntries, outcome } = await this.commitFresh((before) => {
      const { state: after, effects } = this.o.engine.step(before, input, now);
      const newEntries = effects.filter(isBitrixEffect).map((e) => toNewEntry(e, now));
      return {
        after,
        effects,
        newEntries,
        commit: {
          portalId: this.o.portalId,
          now,
          input: { type: input.type, dedupeKey, payload: input },
          engine: { version: after.version, seq: after.seq, shards: changedShards(before, after) },
          newEntries,
          entryUpdates,
        },
      };
    });
    if (!outcome.stored) {
      this.emit('accepted', { input, duplicate: true, entries: 0 });
      return { duplicate: true, pbx: [] };
    }
    this.state = after;
    this.applyTimers(effects);
    if (newEntries.length > 0 || entryUpdates.length > 0) this.schedulePump();
    this.emit('accepted', { input, duplicate: false, entries: newEntries.length });
    const pbx = effects.filter(isPbxEffect);
    if (pbx.length > 0) this.emit('pbx', { input, effects: pbx });
    return { duplicate: false, pbx };
  }

  /** `step` over several inputs, committed as one: the state only changes if the commit lands. */
  private async stepMany(
    inputs: readonly EngineInput[],
    now: number,
    dedupeKey: string | null,
  ): Promise<AcceptResult> {
    let steps: { input: EngineInput; effects: readonly Effect[] }[] = [];
    const {
      after: state,
      newEntries,
      outcome,
    } = await this.commitFresh((before) => {
      let state = before;
      steps = [];
      for (const input of inputs) {
        const out = this.o.engine.step(state, input, now);
        state = out.state;
        steps.push({ input, effects: out.effects });
      }
      const newEntries = steps.flatMap((s) =>
        s.effects.filter(isBitrixEffect).map((e) => toNewEntry(e, now)),
      );
      return {
        after: state,
        newEntries,
        commit: {
          portalId: this.o.portalId,
          now,
          input: { type: 'pbx.batch', dedupeKey, payload: inputs },
          engine: { version: state.version, seq: state.seq, shards: changedShards(before, state) },
          newEntries,
          entryUpdates: [],
        },
      };
    });
    if (!outcome.stored) {
      for (const input of inputs) this.emit('accepted', { input, duplicate: true, entries: 0 });
      return { duplicate: true, pbx: [] };
    }
    this.state = state;
    const pbx: PbxEffect[] = [];
    for (const s of steps) {
      this.applyTimers(s.effects);
      const entries = s.effects.filter(isBitrixEffect).length;
      this.emit('accepted', { input: s.input, duplicate: false, entries });
      const mine = s.effects.filter(isPbxEffect);
      if (mine.length > 0) this.emit('pbx', { input: s.input, effects: mine });
      pbx.push(...mine);
    }
    if (newEntries.length > 0) this.schedulePump();
    return { duplicate: false, pbx };
  }

  /**
   * Steps from the state as this instance knows it and commits with that revision. On a shared
   * store another instance may have committed a step of this portal meanwhile (the PBX's load
   * balancer sent it the call's previous event, or it delivered an entry of the call): the store
   * refuses the commit as stale, and the step is computed again over the shards changed since.
   * That is the whole cross-instance design of the engine: state lives in the store, steps of one
   * portal are serialized by the store (its row lock), and a step never lands on state it did not
   * see. One process alone is never stale.
   */
  private async commitFresh<T extends { after: EngineState; commit: StepCommit }>(
    compute: (before: EngineState) => T,
  ): Promise<T & { outcome: StepOutcome }> {
    for (let attempt = 0; ; attempt += 1) {
      const out = compute(this.state);
      const outcome = await this.o.store.commitStep({ ...out.commit, expectedRevision: this.revision });
      if (outcome.stored) this.revision = outcome.revision;
      if (outcome.stored || outcome.reason === 'duplicate') return { ...out, outcome };
      if (attempt >= MAX_STALE_RETRIES) {
        throw new StoreError(
          'STORE_BUSY',
          `step refused as stale ${attempt + 1} times: other instances keep stepping`,
        );
      }
      await this.follow();
    }
  }

  /**
   * Takes in what other instances committed since `revision`: their changed shards replace ours,
   * and the timers of the calls in them are armed here too (if their instance died, ours fire;
   * if both fire, the second is a stale timer the engine ignores).
   */
  private async follow(): Promise<void> {
    const fresh = await this.o.store.loadEngine(this.o.portalId, this.revision);
    if (!fresh || fresh.revision === this.revision) return;
    const changed = fresh.shards as EngineState['shards'];
    this.state = {
      version: this.state.version,
      seq: fresh.seq,
      shards: { ...this.state.shards, ...changed },
    };
    this.revision = fresh.revision;
    this.armTimersOf(Object.values(changed).flatMap((shard) => Object.values(shard)));
  }

  private armTimersOf(calls: Iterable<{ key: string; timers: Record<string, number> }>): void {
    for (const call of calls) {
      for (const [name, at] of Object.entries(call.timers)) this.armTimer(`${call.key}#${name}`, at);
    }
  }

  /** Shared store: renew leases, look for calls left by others, follow their steps, regularly. */
  private armPoll(): void {
    const lease = this.lease;
    if (!lease || this.closed) return;
    this.cancelPoll = this.clock.setTimer(lease.pollMs, () => {
      this.cancelPoll = null;
      this.serial(() => this.follow())
        .catch((error: unknown) => this.fault('poll', error))
        .finally(() => {
          this.schedulePump();
          this.armPoll();
        });
    });
  }

  private applyTimers(effects: readonly Effect[]): void {
    for (const e of effects) {
      if (e.type === 'timer.start') this.armTimer(e.timerId, e.at);
      else if (e.type === 'timer.cancel') {
        this.timers.get(e.timerId)?.();
        this.timers.delete(e.timerId);
      }
    }
  }

  /** Timers are not stored apart: they are in the calls' state, and re-armed from it on open. */
  private armTimer(timerId: string, at: number): void {
    if (this.closed) return;
    this.timers.get(timerId)?.();
    const cancel = this.clock.setTimer(Math.max(0, at - this.clock.now()), () => {
      this.timers.delete(timerId);
      this.serial(() => this.step({ type: 'timer.fired', timerId }, this.clock.now(), null, [])).catch(
        (error: unknown) => {
          this.fault('timer', error);
          // The state still holds the timer: fire it again a little later.
          this.armTimer(timerId, this.clock.now() + this.policy.entryMinDelayMs);
        },
      );
    });
    this.timers.set(timerId, cancel);
  }

  // --- delivery ---

  private schedulePump(): void {
    if (this.pumpQueued || this.closed) return;
    this.pumpQueued = true;
    // setImmediate: every answer of one batch request is handled before the next plan, so what
    // those answers unblock leaves together as one batch.
    setImmediate(() => {
      this.serial(async () => {
        this.pumpQueued = false;
        await this.pump();
      }).catch((error: unknown) => {
        this.pumpQueued = false;
        this.fault('pump', error);
        this.armRetry(this.clock.now() + this.policy.entryMinDelayMs);
      });
    });
  }

  private async pump(): Promise<void> {
    if (this.closed) return;
    const now = this.clock.now();
    const probe = this.linkState !== 'up';
    if (probe && !this.probeDue) {
      this.idleNow = false;
      return;
    }
    const inFlightHere = new Set(this.inFlight.keys());
    const lease = this.lease;
    let entries = lease
      ? await this.o.store.claimCalls(this.o.portalId, lease.owner, lease.leaseMs, lease.claimLimit, now)
      : await this.o.store.openCalls(this.o.portalId);
    if (probe || this.reconcileEnded) {
      this.reconcileEnded = false;
      const rewrites = outageRewrites(entries, (key) => this.callEnded(key), inFlightHere);
      if (rewrites.length > 0) {
        await this.o.store.updateEntries(rewrites, now);
        entries = withUpdates(entries, rewrites);
        for (const u of rewrites) if (u.status) this.announce(entries, u.id, u.status, undefined);
      }
    }
    const plan = planDelivery(entries, {
      now,
      inFlightHere,
      limit: probe ? this.policy.probeSize : Number.POSITIVE_INFINITY,
      ignoreBackoff: probe,
    });
    const marks = plan.submit.map((p): EntryUpdate => ({
      id: p.entry.id,
      status: 'in_flight',
      addAttempt: true,
    }));
    // In flight is stored before the client sees the entry: after a crash, attempts > 0 says the
    // portal may have acted on it.
    await this.o.store.updateEntries([...plan.fail, ...marks], now);
    for (const f of plan.fail) this.announce(entries, f.id, 'failed', f.lastError ?? undefined);
    // close() may have come while the store was written.
    if (this.stopped) return;
    for (const p of plan.submit) this.submit(p);
    if (probe) {
      this.probeDue = false;
      // Nothing could be sent: look again later (new entries may have come by then).
      if (plan.submit.length === 0) this.armProbe(false);
    }
    if (plan.nextDueAt !== null) this.armRetry(plan.nextDueAt);
    if (plan.submit.length > 0) this.emit('submitted', { count: plan.submit.length, probe });
    if (lease) this.held = await this.releaseSettled(entries, plan.fail);
    this.idleNow = plan.open - plan.fail.length === 0;
    if (this.isIdle) this.emit('idle');
  }

  /**
   * Gives back the calls whose every entry is settled, so that whichever instance steps them next
   * (a late recording, say) can deliver what that step adds without waiting for our lease to end.
   */
  private async releaseSettled(
    entries: readonly OutboxEntry[],
    failed: readonly EntryUpdate[],
  ): Promise<string[]> {
    const lease = this.lease;
    if (!lease) return [];
    const nowFailed = new Set(failed.map((f) => f.id));
    const open = new Set(
      entries
        .filter((e) => (e.status === 'pending' || e.status === 'in_flight') && !nowFailed.has(e.id))
        .map((e) => e.callKey),
    );
    for (const e of this.inFlight.values()) open.add(e.callKey);
    const settled = [...new Set(entries.map((e) => e.callKey))].filter((key) => !open.has(key));
    await this.o.store.releaseCalls(this.o.portalId, lease.owner, settled);
    return [...open];
  }

  private submit({ entry, callId }: PlannedEntry): void {
    const payload = entry.payload as EntryPayload;
    const target: CallIdInput | null = callId ?? this.registers.get(entry.callKey) ?? null;
    this.inFlight.set(entry.id, { ...entry, attempts: entry.attempts + 1 });
    let submitted: Submitted;
    try {
      submitted = submitEntry(
        this.o.api,
        payload,
        target,
        { orderKey: entry.callKey, label: entry.opId },
        this.o.recordings,
        this.o.recordingUrl,
      );
    } catch (error) {
      submitted = { result: Promise.reject(error instanceof Error ? error : new Error(String(error))) };
    }
    if (submitted.register) this.registers.set(entry.callKey, submitted.register);
    const sent = this.inFlight.get(entry.id) ?? entry;
    submitted.result.then(
      (result) => this.settle('result', () => this.succeeded(sent, result)),
      (error: unknown) => this.settle('failure', () => this.failed(sent, error)),
    );
  }

  /** Runs a result handler in order; one that cannot be stored is tried again later. */
  private settle(where: string, fn: () => Promise<void>): void {
    this.serial(fn).catch((error: unknown) => {
      this.fault(where, error);
      if (!this.closed) this.clock.setTimer(this.policy.entryMinDelayMs, () => this.settle(where, fn));
    });
  }

  private forget(entry: OutboxEntry): void {
    this.inFlight.delete(entry.id);
    if (entry.kind === 'register') this.registers.delete(entry.callKey);
  }

  private async succeeded(entry: OutboxEntry, result: EntryResult): Promise<void> {
    if (this.closed) return;
    const now = this.clock.now();
    this.linkUp();
    let stored: unknown = result;
    if (result.kind === 'register') {
      const c = result.call;
      stored = {
        callId: c.callId,
        crmEntityType: c.crmEntityType,
        crmEntityId: c.crmEntityId,
        createdLead: c.crmCreatedLead,
      };
    }
    const done: EntryUpdate = { id: entry.id, status: 'done', result: stored, lastError: null };
    if (result.kind === 'register') {
      await this.step(
        {
          type: 'bitrix.registered',
          callKey: entry.callKey,
          bitrixCallId: result.call.callId,
          crmEntityType: result.call.crmEntityType ?? '',
          crmEntityId: result.call.crmEntityId,
          createdLead: result.call.crmCreatedLead !== null,
        },
        now,
        null,
        [done],
      );
    } else if (result.kind === 'responsible') {
      await this.step(
        {
          type: 'bitrix.responsible',
          callKey: entry.callKey,
          userId: result.userId,
          ...(result.timemanStatus == null ? {} : { timemanStatus: result.timemanStatus }),
        },
        now,
        null,
        [done],
      );
    } else {
      await this.o.store.updateEntries([done], now);
    }
    this.forget(entry);
    this.emit('entry', { id: entry.id, opId: entry.opId, kind: entry.kind, status: 'done', code: undefined });
    this.afterSettle();
  }

  private async failed(entry: OutboxEntry, error: unknown): Promise<void> {
    if (this.closed) return;
    const now = this.clock.now();
    if (errorRule(error) === null) {
      await this.faulted(entry, error, now);
      return;
    }
    const e = error as BitrixError;
    const kind = failureKind(e);
    let update: EntryUpdate;
    let feedback: EngineInput | null = null;
    if (kind === 'closed') {
      // The client was shut down under us: the row stays in flight, and the next start sends it.
      this.forget(entry);
      return;
    }
    if (kind === 'unavailable') {
      const link = isLinkFailure(e);
      // A link failure waits for the link (probes), not for the entry's own backoff.
      const wait = link ? 0 : delay(entryBackoff(this.policy), entry.attempts);
      update = { id: entry.id, status: 'pending', lastError: e.code, nextAttemptAt: now + wait };
      if (link) this.linkDown(e.code, 'down');
    } else if (kind === 'attention') {
      update = {
        id: entry.id,
        status: 'pending',
        lastError: e.code,
        nextAttemptAt: now + this.policy.attentionDelayMs,
      };
      this.linkDown(e.code, 'attention');
    } else if (entry.kind === 'finish' && isCallNotFound(e)) {
      // The call we registered is gone: our earlier finish did arrive (its answer was lost, maybe
      // in a process that died), or someone finished it. Either way the call is logged once.
      update = {
        id: entry.id,
        status: 'done',
        result: { kind: 'finish', outcome: 'already-finished' },
        lastError: e.code,
        note: 'already finished',
      };
    } else {
      update = { id: entry.id, status: 'failed', lastError: e.code, note: e.message };
      if (entry.kind === 'register' || entry.kind === 'findResponsible') {
        feedback = {
          type: 'bitrix.failed',
          callKey: entry.callKey,
          opId: entry.opId,
          operation: entry.kind === 'register' ? 'bitrix.register' : 'bitrix.findResponsible',
        };
      }
    }
    if (feedback) await this.step(feedback, now, null, [update]);
    else await this.o.store.updateEntries([update], now);
    this.forget(entry);
    this.emit('entry', {
      id: entry.id,
      opId: entry.opId,
      kind: entry.kind,
      status: update.status ?? 'pending',
      code: e.code,
    });
    this.afterSettle();
  }

  /**
   * The delivery failed with an error the error table does not know (a bug's TypeError, say): no
   * answer of the portal says the work is done or refused, so it stays to do. It is announced as
   * a fault (logged, counted) and tried again with the entry's own backoff, never dropped.
   */
  private async faulted(entry: OutboxEntry, error: unknown, now: number): Promise<void> {
    const wait = delay(entryBackoff(this.policy), entry.attempts);
    const note = error instanceof Error ? `${error.name}: ${error.message}` : 'unknown failure';
    const update: EntryUpdate = {
      id: entry.id,
      status: 'pending',
      lastError: FAULT_CODE,
      note: note.slice(0, 200),
      nextAttemptAt: now + wait,
    };
    await this.o.store.updateEntries([update], now);
    this.forget(entry);
    this.fault('delivery', error, {
      id: entry.id,
      opId: entry.opId,
      kind: entry.kind,
      callKey: entry.callKey,
      retryInMs: wait,
    });
    this.emit('entry', {
      id: entry.id,
      opId: entry.opId,
      kind: entry.kind,
      status: 'pending',
      code: FAULT_CODE,
    });
    this.afterSettle();
  }

  private afterSettle(): void {
    // A link that is down is probed once the last thing in flight has come back.
    if (this.linkState !== 'up' && this.cancelProbe === null && this.inFlight.size === 0 && !this.probeDue) {
      this.armProbe(true);
    }
    this.schedulePump();
  }

  // --- the link ---

  private linkDown(code: string, state: Exclude<LinkState, 'up'>): void {
    if (this.linkState === state) return;
    this.linkState = state;
    this.emit('link', { state, code });
  }

  private linkUp(): void {
    if (this.linkState === 'up') return;
    this.linkState = 'up';
    this.probeFailures = 0;
    this.probeDue = false;
    this.cancelProbe?.();
    this.cancelProbe = null;
    this.emit('link', { state: 'up', code: undefined });
  }

  private armProbe(grow: boolean): void {
    if (this.closed) return;
    if (grow) this.probeFailures += 1;
    const p = this.policy;
    const wait =
      this.linkState === 'attention' ? p.attentionDelayMs : delay(probeBackoff(p), this.probeFailures);
    this.cancelProbe?.();
    this.cancelProbe = this.clock.setTimer(wait, () => {
      this.cancelProbe = null;
      this.probeDue = true;
      this.schedulePump();
    });
  }

  private armRetry(at: number): void {
    if (this.closed || (this.retry !== null && this.retry.at <= at)) return;
    this.retry?.cancel();
    const cancel = this.clock.setTimer(Math.max(0, at - this.clock.now()), () => {
      this.retry = null;
      this.schedulePump();
    });
    this.retry = { at, cancel };
  }

  /** Ended, or no longer known to the engine (forgotten after its retention). */
  private callEnded(callKey: string): boolean {
    const call = findCallByKey(this.state, callKey);
    if (!call) return true;
    return call.phase === 'wrapping' || call.phase === 'done';
  }

  // --- plumbing ---

  /** `closed`, read through a getter so that a check after an await is not narrowed away. */
  private get stopped(): boolean {
    return this.closed;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private announce(
    entries: readonly OutboxEntry[],
    id: number,
    status: OutboxEntry['status'],
    code: string | undefined,
  ): void {
    const e = entries.find((x) => x.id === id);
    if (e) this.emit('entry', { id, opId: e.opId, kind: e.kind, status, code });
  }

  private fault(where: string, error: unknown, entry?: FaultEntry): void {
    this.emit('fault', entry === undefined ? { where, error } : { where, error, entry });
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

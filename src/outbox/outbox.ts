import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from '../bitrix/index.ts';
import type { Effect, EngineInput, EngineState, Engine } from '../core/index.ts';
import { StoreError, type Store } from '../store/index.ts';
import { Delivery } from './delivery.ts';
import { EngineHost, isPbxEffect, type AcceptResult, type Committed } from './engine-host.ts';
import { safeEmitter, type OutboxEmit, type OutboxEvents } from './events.ts';
import { leaseKeeper, type LeaseKeeper, type LeaseOptions } from './lease.ts';
import type { LinkState } from './link.ts';
import { defaultDeliveryPolicy, type DeliveryPolicy } from './policy.ts';
import { Serial } from './serial.ts';
import type { OutboxApi, RecordingDownload, RecordingSource, RecordingUrl } from './submit.ts';

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
  /** Outbound-only: fetches a recording given by URL, whose bytes are then uploaded. */
  recordingDownload?: RecordingDownload | undefined;
  /** Several instances on one store (`store.shared`): how this one claims calls. */
  lease?: Partial<LeaseOptions> | undefined;
}

interface AcceptOptions {
  /** The PBX's own id of the event: a repeat with the same key is stored once and stepped once. */
  dedupeKey?: string | undefined;
  /** Engine time for this step. Default: the clock's now. */
  now?: number | undefined;
}

/**
 * The durable outbox of one portal: the engine's steps and the Bitrix24 operations they emit are
 * stored together, then delivered in order per call, until the portal gives a definitive answer.
 * A thin front over the parts that do the work:
 *
 * - the engine host (engine-host.ts): `accept(input)` steps the engine and stores the input, the
 *   changed state and every operation in ONE transaction. If that fails the caller gets the
 *   StoreError and nothing changed, in the store or in memory: the PBX is told 503 and sends the
 *   event again. It follows the steps of other instances on a shared store;
 * - delivery (delivery.ts): claims the calls with open entries, plans (plan.ts), hands entries to
 *   the client and feeds the answers back, into the engine or the entries;
 * - the link monitor (link.ts, pure): when the portal cannot be reached, nothing is sent but a
 *   probe (a batch of due entries) now and then; ended calls lose their card operations;
 * - the lease keeper (lease.ts): which calls this instance delivers; nothing to do on SQLite.
 *
 * `Outbox.open` over an existing store rebuilds the calls, re-arms their timers and sends again
 * whatever a dead process left in flight. All store writes of one outbox run one after another
 * (serial.ts), so steps stay in order. Listeners are called through `safeEmitter` (events.ts).
 */
export class Outbox extends EventEmitter<OutboxEvents> {
  private readonly serial = new Serial();
  private readonly announce: OutboxEmit;
  private host!: EngineHost;
  private delivery!: Delivery;
  private lease!: LeaseKeeper;
  private closed = false;

  private constructor(private readonly clock: Clock) {
    super();
    this.announce = safeEmitter(this);
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
   * holds are put back; the calls of a live instance stay its own (see `Store.claimCalls`).
   */
  static async open(options: OutboxOptions): Promise<Outbox> {
    const { store, portalId } = options;
    const clock = options.clock ?? systemClock;
    const policy = { ...defaultDeliveryPolicy, ...(options.policy ?? {}) };
    const outbox = new Outbox(clock);
    outbox.host = await EngineHost.load({
      portalId,
      store,
      engine: options.engine,
      clock,
      serial: outbox.serial,
      timerRetryMs: policy.entryMinDelayMs,
      committed: (c) => outbox.committed(c),
      handOff: (entry) => outbox.delivery.handOff(entry),
      fault: (where, error) => outbox.announce('fault', { where, error }),
    });
    await store.requeueInFlight(portalId, clock.now());
    outbox.lease = leaseKeeper(store, portalId, clock, options.lease);
    outbox.delivery = new Delivery({
      portalId,
      store,
      api: options.api,
      clock,
      policy,
      serial: outbox.serial,
      host: outbox.host,
      lease: outbox.lease,
      recordings: options.recordings,
      recordingUrl: options.recordingUrl,
      recordingDownload: options.recordingDownload,
      emit: outbox.announce,
    });
    outbox.host.start();
    outbox.delivery.schedule();
    outbox.lease.start(
      () =>
        outbox.serial
          .run(() => outbox.host.follow())
          .catch((error: unknown) => outbox.announce('fault', { where: 'poll', error }))
          .finally(() => outbox.delivery.schedule()),
      () => outbox.delivery.schedule(),
    );
    return outbox;
  }

  /**
   * A new engine for the next steps: the same rules with a fresh extension map (the engine is
   * pure, so the state of live calls carries over). Steps already queued finish on the old one.
   */
  setEngine(engine: Engine): void {
    this.host.setEngine(engine);
  }

  /**
   * Delivers what waits now (the admin's "replay now"): a link that is down is probed at once
   * instead of at its next probe time. Nothing else changes: the entries keep their order.
   */
  deliverNow(): void {
    if (this.closed) return;
    this.delivery.deliverNow();
  }

  /** The engine state as last stored. */
  get engineState(): EngineState {
    return this.host.state;
  }

  get link(): LinkState {
    return this.delivery.link;
  }

  /** Entries handed to the client by this outbox and not settled yet. */
  get inFlightCount(): number {
    return this.delivery.inFlightCount;
  }

  get isIdle(): boolean {
    return this.delivery.isIdle;
  }

  /** Steps the engine with `input` and stores everything it produced, all or nothing. */
  accept(input: EngineInput, options: AcceptOptions = {}): Promise<AcceptResult> {
    if (this.closed) return Promise.reject(new StoreError('STORE_CLOSED', 'the outbox is closed'));
    return this.host.accept([input], options.now ?? this.clock.now(), options.dedupeKey ?? null);
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
    return this.host.accept(
      inputs.map((i) => i.input),
      options.now ?? this.clock.now(),
      dedupeKey,
    );
  }

  /**
   * What `input` would emit on the state as it stands, storing nothing: the engine is pure, so this
   * is its answer now. For a route's plan, which a caller is waiting for while the step itself is
   * stored by `accept`; the two agree unless another input is stepped in between.
   */
  preview(input: EngineInput, now: number = this.clock.now()): readonly Effect[] {
    return this.host.preview(input, now);
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
    this.lease.stop();
    this.host.close();
    this.delivery.close();
  }

  /**
   * After `close` (and the client's), on a shared store: gives this instance's calls back now, so
   * that another instance delivers them without waiting for the leases to run out (a rolling
   * restart). What was in flight here is sent again by the instance that takes them.
   */
  async release(): Promise<void> {
    if (!this.closed) return;
    await this.serial.drained();
    await this.lease.release();
  }

  /** What a stored step announces: its inputs, what it told the PBX, and a delivery round. */
  private committed(c: Committed): void {
    // Before the round is scheduled: the client's pump then runs ahead of it.
    if (c.handedOff.length > 0) this.delivery.sendHandedOff(c.handedOff);
    if (c.touchedEntries) this.delivery.schedule();
    for (const s of c.steps) {
      this.announce('accepted', { input: s.input, duplicate: c.duplicate, entries: s.entries });
      const pbx = s.effects.filter(isPbxEffect);
      if (pbx.length > 0) this.announce('pbx', { input: s.input, effects: pbx });
    }
  }
}

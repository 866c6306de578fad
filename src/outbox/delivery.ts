/**
 * Delivery of one portal's outbox entries: each round claims the calls with open entries, plans
 * (plan.ts), marks what goes as in flight and hands it to the client, which batches and
 * prioritises across calls (one order key per call keeps each call's operations in order). Every
 * answer is fed back: into the engine (`bitrix.registered`, `bitrix.responsible`,
 * `bitrix.failed`) in the same transaction that settles the entry, or as an entry update. What a
 * failure means comes from the error table; one the table does not know keeps the entry pending.
 * The link's state is the pure monitor of link.ts; this module only runs its timers.
 */
import {
  errorRule,
  failureKind,
  isCallNotFound,
  isLinkFailure,
  type BitrixError,
  type CallIdInput,
  type Clock,
  type Pending,
  type RegisteredCall,
} from '../bitrix/index.ts';
import type { EngineInput } from '../core/index.ts';
import { delay } from '../retry/index.ts';
import type { EntryUpdate, OutboxEntry, Store } from '../store/index.ts';
import type { EngineHost } from './engine-host.ts';
import type { EntryPayload } from './entries.ts';
import type { LeaseKeeper } from './lease.ts';
import * as link from './link.ts';
import { outageRewrites, planDelivery, withUpdates, type PlannedEntry } from './plan.ts';
import { entryBackoff, type DeliveryPolicy } from './policy.ts';
import type { Serial } from './serial.ts';
import {
  submitEntry,
  type EntryResult,
  type OutboxApi,
  type RecordingSource,
  type RecordingDownload,
  type RecordingUrl,
  type Submitted,
} from './submit.ts';
import type { OutboxEmit } from './events.ts';

/** `lastError` of an entry held back by a fault (an error the error table does not know). */
export const FAULT_CODE = 'FAULT';

interface DeliveryOptions {
  portalId: string;
  store: Store;
  api: OutboxApi;
  clock: Clock;
  policy: DeliveryPolicy;
  serial: Serial;
  host: EngineHost;
  lease: LeaseKeeper;
  recordings?: RecordingSource | undefined;
  recordingUrl?: RecordingUrl | undefined;
  recordingDownload?: RecordingDownload | undefined;
  emit: OutboxEmit;
}

/**
 * A probe that would show a card is tried once: the next probe round decides afresh what to send.
 * Retried inside the client, a register planned while its call was live could land after the call
 * ended and the outage lifted, popping up a card for a call that is over (outageRewrites makes
 * such a register SHOW=0 and drops such a show, but only while they are not in flight).
 */
const showsCard = (p: EntryPayload): boolean =>
  p.type === 'bitrix.show' || (p.type === 'bitrix.register' && p.show);

export class Delivery {
  /** Entries handed to the client and not yet settled, by id. */
  private readonly inFlight = new Map<number, OutboxEntry>();
  /** Registers in flight by call key: the call's show/hide reference their CALL_ID. */
  private readonly registers = new Map<string, Pending<RegisteredCall>>();
  private monitor: link.LinkMonitor = link.linkUp;
  private cancelProbe: (() => void) | null = null;
  private retry: { at: number; cancel: () => void } | null = null;
  private pumpQueued = false;
  private idleNow = false;
  private closed = false;
  /**
   * After a restart the outbox cannot know whether the portal was reachable meanwhile: the first
   * round treats calls that have already ended as an outage would (no card for a call that is
   * over), whatever the link state.
   */
  private reconcileEnded = true;
  /** New entries their step stored in flight already (see `handOff`), by op id, until a round took them. */
  private readonly handedOff = new Set<string>();

  constructor(private readonly o: DeliveryOptions) {}

  /**
   * Whether a new entry goes to the client right after its step for sure enough that the step may
   * store it in flight: a call's register while the link is up, on a store of one process (on a
   * shared store the call must be claimed first), and a show that rides on such a register (the
   * other members of a queue that rings at once: one batch with the register). One that does not
   * go after all is put back to pending by the next round.
   */
  handOff(entry: { opId: string; kind: OutboxEntry['kind']; callKey: string }): boolean {
    if (this.closed || this.o.lease.shared || this.monitor.state !== 'up') return false;
    if (entry.kind === 'show') {
      const prefix = `${entry.callKey}:`;
      if (![...this.handedOff].some((opId) => opId.startsWith(prefix))) return false;
    } else if (entry.kind !== 'register') return false;
    this.handedOff.add(entry.opId);
    return true;
  }

  /**
   * The entries a step just stored in flight for us (`handOff`), straight to the client: no round
   * to wait for (a round reads every open call). One that may no longer go this way (the link
   * changed, or a round took it meanwhile) is left to the next round, which plans it as pending.
   */
  sendHandedOff(entries: readonly OutboxEntry[]): void {
    if (this.closed || this.monitor.state !== 'up' || this.reconcileEnded) return;
    let count = 0;
    for (const e of entries) {
      // A register waits for no other entry's answer; a show rides on its call's register, which
      // must be in flight here (handed over just before it, or by a round).
      const rides = e.kind === 'show' && this.registers.has(e.callKey);
      if (e.kind !== 'register' && !rides) continue;
      if (this.inFlight.has(e.id) || !this.handedOff.delete(e.opId)) continue;
      // Planned as the pending entry it stands for: `submit` counts the attempt its step stored.
      this.submit(
        { entry: { ...e, status: 'pending', attempts: e.attempts - 1 }, callId: null, crmActivityId: null },
        false,
      );
      count += 1;
    }
    if (count > 0) this.o.emit('submitted', { count, probe: false });
  }

  get link(): link.LinkState {
    return this.monitor.state;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  get isIdle(): boolean {
    return this.idleNow && this.inFlight.size === 0 && !this.pumpQueued;
  }

  /** A round soon (after the answers of this tick): something may be deliverable. */
  schedule(): void {
    if (this.pumpQueued || this.closed) return;
    this.pumpQueued = true;
    // setImmediate: every answer of one batch request is handled before the next plan, so what
    // those answers unblock leaves together as one batch.
    setImmediate(() => {
      this.o.serial
        .run(async () => {
          this.pumpQueued = false;
          await this.round();
        })
        .catch((error: unknown) => {
          this.pumpQueued = false;
          this.o.emit('fault', { where: 'pump', error });
          this.armRetry(this.o.clock.now() + this.o.policy.entryMinDelayMs);
        });
    });
  }

  /** The admin's "replay now": a link that is down is probed at once. */
  deliverNow(): void {
    if (this.closed) return;
    this.applyLink(link.probeNow(this.monitor));
    this.schedule();
  }

  close(): void {
    this.closed = true;
    this.cancelProbe?.();
    this.cancelProbe = null;
    this.retry?.cancel();
    this.retry = null;
  }

  // --- a round ---

  private async round(): Promise<void> {
    if (this.closed) return;
    const { store, clock, policy, lease } = this.o;
    const now = clock.now();
    const probe = this.monitor.state !== 'up';
    if (!link.mayDeliver(this.monitor)) {
      this.idleNow = false;
      return;
    }
    const inFlightHere = new Set(this.inFlight.keys());
    // Entries their step stored in flight for us are planned as the pending ones they stand for.
    const handed = new Set<number>();
    let entries = (await lease.claim(now)).map((e) => {
      if (e.status !== 'in_flight' || !this.handedOff.has(e.opId) || this.inFlight.has(e.id)) return e;
      handed.add(e.id);
      return { ...e, status: 'pending' as const, attempts: Math.max(0, e.attempts - 1) };
    });
    if (probe || this.reconcileEnded) {
      this.reconcileEnded = false;
      const rewrites = outageRewrites(entries, (key) => this.o.host.callEnded(key), inFlightHere);
      if (rewrites.length > 0) {
        await store.updateEntries(rewrites, now);
        entries = withUpdates(entries, rewrites);
        for (const u of rewrites) if (u.status) this.announce(entries, u.id, u.status, undefined);
      }
    }
    const plan = planDelivery(entries, {
      now,
      inFlightHere,
      limit: probe ? policy.probeSize : Number.POSITIVE_INFINITY,
      ignoreBackoff: probe,
    });
    const going = new Set(plan.submit.map((p) => p.entry.id));
    const marks = plan.submit
      .filter((p) => !handed.has(p.entry.id))
      .map((p): EntryUpdate => ({ id: p.entry.id, status: 'in_flight', addAttempt: true }));
    // Stored in flight by its step but not sent now (the call waits for something): pending again.
    const failing = new Set(plan.fail.map((f) => f.id));
    const back = [...handed]
      .filter((id) => !going.has(id) && !failing.has(id))
      .map((id): EntryUpdate => ({ id, status: 'pending' }));
    // In flight is stored before the client sees the entry (by its step, or here): after a crash,
    // attempts > 0 says the portal may have acted on it.
    // Steps run in the same serial line as rounds: every hand-off known now of a stored step was
    // seen above, and what is left is of steps that were not stored (a repeat).
    const seen = [...this.handedOff];
    // With the steps waiting for the next group: one transaction for both. Their hand-offs are
    // for the next round (their commit schedules it).
    await this.o.host.commitNow([...plan.fail, ...marks, ...back], now);
    for (const opId of seen) this.handedOff.delete(opId);
    for (const f of plan.fail) this.announce(entries, f.id, 'failed', f.lastError ?? undefined);
    // close() may have come while the store was written.
    if (this.stopped) return;
    for (const p of plan.submit) this.submit(p, probe);
    if (probe) this.applyLink(link.probed(this.monitor, plan.submit.length, policy));
    if (plan.nextDueAt !== null) this.armRetry(plan.nextDueAt);
    if (plan.submit.length > 0) this.o.emit('submitted', { count: plan.submit.length, probe });
    await lease.settleRound(entries, plan.fail, this.inFlight.values());
    this.idleNow = plan.open - plan.fail.length === 0;
    if (this.isIdle) this.o.emit('idle');
  }

  private submit({ entry, callId, crmActivityId }: PlannedEntry, probe: boolean): void {
    const payload = entry.payload as EntryPayload;
    const target: CallIdInput | null = callId ?? this.registers.get(entry.callKey) ?? null;
    const sent = { ...entry, attempts: entry.attempts + 1 };
    this.inFlight.set(entry.id, sent);
    let submitted: Submitted;
    try {
      submitted = submitEntry(
        this.o.api,
        payload,
        target,
        {
          orderKey: entry.callKey,
          label: entry.opId,
          ...(probe && showsCard(payload) ? { maxAttempts: 1 } : {}),
        },
        this.o.recordings,
        this.o.recordingUrl,
        // Tried before: the portal may have acted on it; look before attaching a second time.
        entry.kind === 'attachRecord' && entry.attempts > 0 ? crmActivityId : null,
        this.o.recordingDownload,
      );
    } catch (error) {
      submitted = { result: Promise.reject(error instanceof Error ? error : new Error(String(error))) };
    }
    if (submitted.register) this.registers.set(entry.callKey, submitted.register);
    submitted.result.then(
      // An answer commits with the engine host's next group, which runs in the serial line itself.
      (result) => this.settle('result', () => this.succeeded(sent, result), false),
      (error: unknown) => this.settle('failure', () => this.failed(sent, error)),
    );
  }

  /**
   * Runs a result handler (in the serial line, unless it writes through the engine host's group
   * commit, which is in the line by itself); one that cannot be stored is tried again later.
   */
  private settle(where: string, fn: () => Promise<void>, inSerial = true): void {
    (inSerial ? this.o.serial.run(fn) : fn()).catch((error: unknown) => {
      this.o.emit('fault', { where, error });
      if (!this.closed)
        this.o.clock.setTimer(this.o.policy.entryMinDelayMs, () => this.settle(where, fn, inSerial));
    });
  }

  // --- answers ---

  private async succeeded(entry: OutboxEntry, result: EntryResult): Promise<void> {
    if (this.closed) return;
    const now = this.o.clock.now();
    this.applyLink(link.answered(this.monitor));
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
    await this.o.host.record(feedbackOf(entry, result), [done], now);
    this.forget(entry);
    this.o.emit('entry', {
      id: entry.id,
      opId: entry.opId,
      kind: entry.kind,
      status: 'done',
      code: undefined,
    });
    this.afterSettle();
  }

  private async failed(entry: OutboxEntry, error: unknown): Promise<void> {
    if (this.closed) return;
    const now = this.o.clock.now();
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
      const down = isLinkFailure(e);
      // A link failure waits for the link (probes), not for the entry's own backoff.
      const wait = down ? 0 : delay(entryBackoff(this.o.policy), entry.attempts);
      update = { id: entry.id, status: 'pending', lastError: e.code, nextAttemptAt: now + wait };
      if (down) this.applyLink(link.lost(this.monitor, 'down', e.code));
    } else if (kind === 'attention') {
      update = {
        id: entry.id,
        status: 'pending',
        lastError: e.code,
        nextAttemptAt: now + this.o.policy.attentionDelayMs,
      };
      this.applyLink(link.lost(this.monitor, 'attention', e.code));
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
    if (feedback) await this.o.host.step(feedback, now, null, [update]);
    else await this.o.store.updateEntries([update], now);
    this.forget(entry);
    this.o.emit('entry', {
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
    const wait = delay(entryBackoff(this.o.policy), entry.attempts);
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
    this.o.emit('fault', {
      where: 'delivery',
      error,
      entry: { id: entry.id, opId: entry.opId, kind: entry.kind, callKey: entry.callKey, retryInMs: wait },
    });
    this.o.emit('entry', {
      id: entry.id,
      opId: entry.opId,
      kind: entry.kind,
      status: 'pending',
      code: FAULT_CODE,
    });
    this.afterSettle();
  }

  private forget(entry: OutboxEntry): void {
    this.inFlight.delete(entry.id);
    if (entry.kind === 'register') this.registers.delete(entry.callKey);
  }

  private afterSettle(): void {
    // A link that is down is probed once the last thing in flight has come back.
    if (this.inFlight.size === 0) this.applyLink(link.drained(this.monitor, this.o.policy));
    this.schedule();
  }

  // --- timers ---

  /** Takes the monitor's next state and carries out what it asks for. */
  private applyLink(step: link.LinkStep): void {
    this.monitor = step.monitor;
    for (const effect of step.effects) {
      if (effect.type === 'announce') this.o.emit('link', { state: effect.state, code: effect.code });
      else if (effect.type === 'cancelProbe') {
        this.cancelProbe?.();
        this.cancelProbe = null;
      } else if (!this.closed) {
        this.cancelProbe?.();
        this.cancelProbe = this.o.clock.setTimer(effect.delayMs, () => {
          this.cancelProbe = null;
          this.monitor = link.probeFired(this.monitor);
          this.schedule();
        });
      }
    }
  }

  private armRetry(at: number): void {
    if (this.closed || (this.retry !== null && this.retry.at <= at)) return;
    this.retry?.cancel();
    const cancel = this.o.clock.setTimer(Math.max(0, at - this.o.clock.now()), () => {
      this.retry = null;
      this.schedule();
    });
    this.retry = { at, cancel };
  }

  /** `closed`, read through a getter so that a check after an await is not narrowed away. */
  private get stopped(): boolean {
    return this.closed;
  }

  private announce(
    entries: readonly OutboxEntry[],
    id: number,
    status: OutboxEntry['status'],
    code: string | undefined,
  ): void {
    const e = entries.find((x) => x.id === id);
    if (e) this.o.emit('entry', { id, opId: e.opId, kind: e.kind, status, code });
  }
}

/** The engine input an answer is for: who the CRM says the call belongs to, or its CALL_ID. */
function feedbackOf(entry: OutboxEntry, result: EntryResult): EngineInput | null {
  if (result.kind === 'register') {
    return {
      type: 'bitrix.registered',
      callKey: entry.callKey,
      bitrixCallId: result.call.callId,
      crmEntityType: result.call.crmEntityType ?? '',
      crmEntityId: result.call.crmEntityId,
      createdLead: result.call.crmCreatedLead !== null,
    };
  }
  if (result.kind === 'responsible') {
    return {
      type: 'bitrix.responsible',
      callKey: entry.callKey,
      userId: result.userId,
      ...(result.timemanStatus == null ? {} : { timemanStatus: result.timemanStatus }),
    };
  }
  return null;
}

/**
 * Feeds the journal from what the bridge already announces: each portal's outbox (inputs stepped,
 * plans, entries settled, the link) and the Bitrix24 client (requests and their answers). Writes
 * are buffered and flushed together every `flushMs`, so a burst of events costs one transaction,
 * not one per event, and nothing here waits on the database in the PBX's request path.
 */
import type { EventEmitter } from 'node:events';
import type { ClientEvents } from '../bitrix/index.ts';
import { findCallByKey, getCall, type Call, type EngineInput, type EngineState } from '../core/index.ts';
import type { EntryResult, OutboxEvents } from '../outbox/index.ts';
import type { Store } from '../store/index.ts';
import { MinuteSeries } from './series.ts';
import { summaryOf } from './summary.ts';
import type { CallSummary, JournalEntry, JournalEntryKind, JournalStore } from './types.ts';

/** Removes secrets from a detail before it is stored (the log scrubber). */
export type Scrub = (text: string) => string;

interface JournalFeedOptions {
  journal: JournalStore;
  /** To read a settled entry's result (the CRM activity of a finish). */
  store: Pick<Store, 'callEntries'>;
  scrub?: Scrub | undefined;
  now?: () => number;
  /** Default 1 s: each flush is a commit, and a commit on SQLite waits for the disk. */
  flushMs?: number;
  /** Told when a flush fails (the entries are dropped: the journal is a record, not the truth). */
  onError?: (error: unknown) => void;
}

interface WatchedOutbox extends Pick<EventEmitter<OutboxEvents>, 'on' | 'off'> {
  readonly engineState: EngineState;
}

type WatchedClient = Pick<EventEmitter<ClientEvents>, 'on' | 'off'>;

const callKeyOfOp = (opId: string): string => opId.slice(0, Math.max(0, opId.lastIndexOf(':')));

const cardKinds: ReadonlySet<string> = new Set(['register', 'show', 'hide']);

/** Above this many, the oldest buffered entries go: a journal that cannot write must not eat memory. */
const MAX_BUFFERED = 50_000;

/** Calls with entries held before the engine knew them, at most. */
const MAX_EARLY = 10_000;

/**
 * Entries (and summaries) per transaction of a flush: about a millisecond of the event loop each
 * (a second of a busy office's events is several hundred), so a PBX request waits at most that.
 */
const WRITE_CHUNK = 100;

export class JournalFeed {
  readonly series = new MinuteSeries();
  private entries: JournalEntry[] = [];
  private calls = new Map<string, CallSummary>();
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  /** First ringing per call, for the card latency; forgotten when the call's first card is up. */
  private readonly ringAt = new Map<string, number>();
  /** Calls whose first card has been counted. */
  private readonly carded = new Set<string>();
  /** The client's requests in flight that carried a call's operations. */
  private readonly requests = new Map<number, { portalId: string; keys: Set<string>; methods: string[] }>();
  /** The client's operation ids by the outbox op id they carry (for its retries). */
  private readonly ops = new Map<number, string>();
  /** Calls waiting for a portal whose link is down, per portal. */
  private readonly waiting = new Map<string, Map<string, number>>();
  /**
   * What concerned a call before the engine knew it (a route asked before the call's start): kept
   * by PBX call id and written under the call's key once the call appears.
   */
  private readonly early = new Map<string, Omit<JournalEntry, 'callKey'>[]>();
  private readonly stops: (() => void)[] = [];
  private closed = false;

  constructor(private readonly o: JournalFeedOptions) {
    this.now = o.now ?? Date.now;
  }

  watchOutbox(portalId: string, outbox: WatchedOutbox): void {
    const accepted = (e: OutboxEvents['accepted'][0]): void => {
      if (!e.duplicate) this.onInput(portalId, outbox.engineState, e.input);
    };
    const pbx = (e: OutboxEvents['pbx'][0]): void => this.onPbx(portalId, outbox.engineState, e);
    const entry = (e: OutboxEvents['entry'][0]): void => this.onEntry(portalId, outbox.engineState, e);
    const link = (e: OutboxEvents['link'][0]): void => this.onLink(portalId, e);
    outbox.on('accepted', accepted);
    outbox.on('pbx', pbx);
    outbox.on('entry', entry);
    outbox.on('link', link);
    this.stops.push(() => {
      outbox.off('accepted', accepted);
      outbox.off('pbx', pbx);
      outbox.off('entry', entry);
      outbox.off('link', link);
    });
  }

  watchClient(client: WatchedClient): void {
    const request = (e: ClientEvents['request'][0]): void => {
      this.series.request(this.now());
      const keys = new Set<string>();
      for (const c of e.commands) {
        if (c.label === undefined) continue;
        this.ops.set(c.opId, c.label);
        const key = callKeyOfOp(c.label);
        if (key !== '') keys.add(key);
      }
      if (keys.size > 0)
        this.requests.set(e.requestId, {
          portalId: e.memberId,
          keys,
          methods: e.commands.map((c) => c.method),
        });
    };
    const response = (e: ClientEvents['response'][0]): void => {
      const r = this.requests.get(e.requestId);
      if (!r) return;
      this.requests.delete(e.requestId);
      const now = this.now();
      const answer = e.ok
        ? `${String(e.status ?? 200)}${e.commandErrors > 0 ? `, ${String(e.commandErrors)} command error(s)` : ''}`
        : (e.code ?? 'failed');
      for (const key of r.keys)
        this.add(
          r.portalId,
          key,
          now,
          'bitrix',
          `${r.methods.join(' + ')} → ${answer} (${String(e.durationMs)} ms)`,
          {
            methods: r.methods,
            ok: e.ok,
            status: e.status ?? null,
            code: e.code ?? null,
            commandErrors: e.commandErrors,
            durationMs: e.durationMs,
          },
        );
    };
    const retry = (e: ClientEvents['retry'][0]): void => {
      const label = this.ops.get(e.opId);
      if (label === undefined) return;
      this.add(
        e.memberId,
        callKeyOfOp(label),
        this.now(),
        'retry',
        `${e.method} failed (${e.code}); the client tries again in ${String(e.delayMs)} ms`,
        {
          method: e.method,
          code: e.code,
          failures: e.failures,
          delayMs: e.delayMs,
        },
      );
    };
    const operation = (e: ClientEvents['operation'][0]): void => {
      this.ops.delete(e.opId);
    };
    const rateLimited = (): void => this.series.rateLimited(this.now());
    client.on('request', request);
    client.on('response', response);
    client.on('retry', retry);
    client.on('operation', operation);
    client.on('rateLimited', rateLimited);
    this.stops.push(() => {
      client.off('request', request);
      client.off('response', response);
      client.off('retry', retry);
      client.off('operation', operation);
      client.off('rateLimited', rateLimited);
    });
  }

  /** Writes what is buffered now; resolves when it is stored (or failed and was reported). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const entries = this.entries;
    const calls = [...this.calls.values()];
    this.entries = [];
    this.calls = new Map();
    if (entries.length === 0 && calls.length === 0) return this.chain;
    this.chain = this.chain
      .then(() => this.writeChunks(entries, calls))
      .catch((e: unknown) => this.o.onError?.(e));
    return this.chain;
  }

  /**
   * A large flush (a burst of thousands of calls) goes in slices with a turn of the event loop
   * between them: SQLite's driver blocks while it writes, and the PBX's route requests must not
   * wait behind the whole burst.
   */
  private async writeChunks(entries: readonly JournalEntry[], calls: readonly CallSummary[]): Promise<void> {
    const size = Math.max(entries.length, calls.length);
    for (let i = 0; i < size; i += WRITE_CHUNK) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      await this.o.journal.write(entries.slice(i, i + WRITE_CHUNK), calls.slice(i, i + WRITE_CHUNK));
    }
  }

  /** Stops listening and writes what is left. */
  async close(): Promise<void> {
    this.closed = true;
    for (const stop of this.stops.splice(0)) stop();
    await this.flush();
  }

  // --- what each event tells ---

  private onInput(portalId: string, state: EngineState, input: EngineInput): void {
    const now = this.now();
    if ('callId' in input) {
      const call = getCall(state, input.callId);
      const at = 'at' in input ? input.at : now;
      if (!call) {
        if (input.type === 'route.requested')
          this.hold(portalId, input.callId, at, 'route', describeInput(input), { ...input, arrivedAt: now });
        return;
      }
      this.release(portalId, input.callId, call.key);
      if (input.type === 'call.ringing' && !this.ringAt.has(call.key) && !this.carded.has(call.key))
        this.ringAt.set(call.key, input.at);
      this.add(
        portalId,
        call.key,
        at,
        input.type === 'route.requested' ? 'route' : 'pbx',
        describeInput(input),
        {
          ...input,
          arrivedAt: now,
        },
      );
      this.touch(portalId, call, now);
      if (call.phase === 'done' || call.phase === 'wrapping') this.ringAt.delete(call.key);
      return;
    }
    if (!('callKey' in input)) return;
    const call = findCallByKey(state, input.callKey);
    if (input.type === 'bitrix.registered')
      this.add(portalId, input.callKey, now, 'crm', registeredText(input), {
        bitrixCallId: input.bitrixCallId,
        crmEntityType: input.crmEntityType,
        crmEntityId: input.crmEntityId,
        createdLead: input.createdLead,
      });
    else if (input.type === 'bitrix.responsible')
      this.add(
        portalId,
        input.callKey,
        now,
        'crm',
        input.userId === null
          ? 'the CRM record has no responsible manager'
          : `responsible manager: user ${String(input.userId)}${input.timemanStatus ? ` (${input.timemanStatus})` : ''}`,
        {
          userId: input.userId,
          timemanStatus: input.timemanStatus ?? null,
        },
      );
    else
      this.add(portalId, input.callKey, now, 'crm', `${input.operation} failed for good`, {
        opId: input.opId,
        operation: input.operation,
      });
    if (call) this.touch(portalId, call, now);
  }

  private onPbx(portalId: string, state: EngineState, e: OutboxEvents['pbx'][0]): void {
    const now = this.now();
    for (const effect of e.effects) {
      const call = getCall(state, effect.callId);
      const key = 'callKey' in effect ? effect.callKey : call?.key;
      if (key === undefined) {
        if (effect.type === 'pbx.plan')
          this.hold(portalId, effect.callId, now, 'route', planText(effect.plan), {
            plan: effect.plan,
            after: e.input.type,
          });
        continue;
      }
      if (effect.type === 'pbx.plan')
        this.add(portalId, key, now, 'route', planText(effect.plan), {
          plan: effect.plan,
          after: e.input.type,
        });
      else if (effect.type === 'pbx.transfer')
        this.add(portalId, key, now, 'route', `transfer to ${effect.extension}`, {
          extension: effect.extension,
          commandId: effect.commandId,
        });
      else
        this.add(
          portalId,
          key,
          now,
          'route',
          `originate: ring ${effect.extension}, then dial ${effect.number}`,
          { extension: effect.extension, number: effect.number },
        );
    }
  }

  private onEntry(portalId: string, state: EngineState, e: OutboxEvents['entry'][0]): void {
    const now = this.now();
    const key = callKeyOfOp(e.opId);
    if (key === '') return;
    const call = findCallByKey(state, key);
    if (e.status === 'pending') {
      const waits = this.waiting.get(portalId) ?? new Map<string, number>();
      this.waiting.set(portalId, waits);
      if (!waits.has(key)) waits.set(key, now);
      this.add(
        portalId,
        key,
        now,
        'retry',
        `${e.kind} not delivered (${e.code ?? 'unknown'}); it waits in the outbox`,
        { opId: e.opId, kind: e.kind, code: e.code ?? null },
      );
      return;
    }
    if (e.status === 'failed' || e.status === 'dropped') {
      this.add(portalId, key, now, 'bitrix', `${e.kind} ${e.status}${e.code ? ` (${e.code})` : ''}`, {
        opId: e.opId,
        kind: e.kind,
        status: e.status,
        code: e.code ?? null,
      });
      return;
    }
    if (e.status !== 'done') return;
    if (cardKinds.has(e.kind)) {
      const holders = call?.card.holders ?? [];
      const shown = e.kind !== 'hide' && holders.length > 0;
      const ring = this.ringAt.get(key) ?? call?.startedAt;
      const latency = shown && ring !== undefined && !this.carded.has(key) ? Math.max(0, now - ring) : null;
      if (latency !== null) {
        this.carded.add(key);
        this.ringAt.delete(key);
        if (this.carded.size > 100_000) this.carded.clear();
      }
      const text =
        e.kind === 'hide'
          ? 'card hidden'
          : shown
            ? `card shown to ${holders.map((u) => `user ${String(u)}`).join(', ')}${latency === null ? '' : ` (${String(latency)} ms after ringing)`}`
            : e.kind === 'register'
              ? 'registered in Bitrix24'
              : 'card update delivered';
      this.add(portalId, key, now, 'card', text, { opId: e.opId, kind: e.kind, holders, latencyMs: latency });
      if (call) this.touch(portalId, call, now, latency === null ? {} : { cardLatencyMs: latency });
      return;
    }
    if (e.kind === 'finish' || e.kind === 'attachRecord')
      void this.settled(portalId, key, e.opId, e.kind, call, now);
  }

  /** A finish or a recording settled: its result says what the call became in the CRM. */
  private async settled(
    portalId: string,
    key: string,
    opId: string,
    kind: string,
    call: Call | null,
    now: number,
  ): Promise<void> {
    let result: EntryResult | null = null;
    try {
      const entries = await this.o.store.callEntries(portalId, key);
      result = (entries.find((x) => x.opId === opId)?.result ?? null) as EntryResult | null;
    } catch {
      // The entry's result is a detail: the journal says what it knows without it.
    }
    if (this.closed) return;
    const activity = result?.kind === 'finish' ? (result.crmActivityId ?? null) : null;
    const recording = call?.recording ? (call.recording.url ?? call.recording.filename) : null;
    if (kind === 'finish')
      this.add(
        portalId,
        key,
        now,
        'crm',
        `logged in the CRM${call?.crm ? ` on ${call.crm.entityType} #${String(call.crm.entityId)}` : ''}${activity === null ? '' : `, activity #${String(activity)}`}`,
        {
          outcome: result?.kind === 'finish' ? result.outcome : null,
          activityId: activity,
          crmEntityType: call?.crm?.entityType ?? null,
          crmEntityId: call?.crm?.entityId ?? null,
        },
      );
    else
      this.add(portalId, key, now, 'crm', `recording attached${recording === null ? '' : `: ${recording}`}`, {
        recording,
      });
    if (call)
      this.touch(portalId, call, now, {
        ...(activity === null ? {} : { activityId: String(activity) }),
        ...(kind === 'attachRecord' && recording !== null ? { recording } : {}),
      });
  }

  private onLink(portalId: string, e: OutboxEvents['link'][0]): void {
    if (e.state !== 'up') return;
    const waits = this.waiting.get(portalId);
    if (!waits) return;
    this.waiting.delete(portalId);
    const now = this.now();
    for (const [key, since] of waits)
      this.add(
        portalId,
        key,
        now,
        'outage',
        `the portal answers again after ${String(Math.round((now - since) / 1000))} s; delivery resumes`,
        { waitedMs: now - since },
      );
  }

  // --- buffering ---

  private hold(
    portalId: string,
    callId: string,
    at: number,
    kind: JournalEntryKind,
    summary: string,
    detail: unknown,
  ): void {
    const id = `${portalId}\t${callId}`;
    // A route for a call that never starts must not be kept for ever: the oldest go first.
    if (!this.early.has(id) && this.early.size >= MAX_EARLY) {
      const oldest = this.early.keys().next().value;
      if (oldest !== undefined) this.early.delete(oldest);
    }
    const list = this.early.get(id) ?? [];
    list.push({ portalId, at, recordedAt: this.now(), kind, summary, detail });
    this.early.set(id, list);
  }

  private release(portalId: string, callId: string, callKey: string): void {
    const id = `${portalId}\t${callId}`;
    const held = this.early.get(id);
    if (!held) return;
    this.early.delete(id);
    for (const e of held) this.add(portalId, callKey, e.at, e.kind, e.summary, e.detail, e.recordedAt);
  }

  private add(
    portalId: string,
    callKey: string,
    at: number,
    kind: JournalEntryKind,
    summary: string,
    detail: unknown,
    recordedAt = this.now(),
  ): void {
    if (this.closed) return;
    const scrub = this.o.scrub;
    const safe: unknown = scrub ? JSON.parse(scrub(JSON.stringify(detail ?? null))) : detail;
    this.entries.push({
      portalId,
      callKey,
      at,
      recordedAt,
      kind,
      summary: scrub ? scrub(summary) : summary,
      detail: safe,
    });
    if (this.entries.length > MAX_BUFFERED) this.entries.splice(0, this.entries.length - MAX_BUFFERED);
    this.schedule();
  }

  private touch(portalId: string, call: Call, now: number, extra: Partial<CallSummary> = {}): void {
    if (this.closed || call.internal) return;
    const id = `${portalId}\t${call.key}`;
    const before = this.calls.get(id);
    const summary = { ...summaryOf(portalId, call, now), ...extra };
    // Fields learnt once (latency, activity, recording) survive later summaries of the same flush.
    if (before) {
      summary.cardLatencyMs ??= before.cardLatencyMs;
      summary.activityId ??= before.activityId;
      summary.recording ??= before.recording;
    }
    this.calls.set(id, summary);
    this.schedule();
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => void this.flush(), this.o.flushMs ?? 1_000);
  }
}

function describeInput(input: EngineInput): string {
  switch (input.type) {
    case 'call.started':
      return `call started: ${input.direction} from ${input.from} to ${input.to}${input.line ? ` on line ${input.line}` : ''}`;
    case 'call.ringing':
      return `ringing: ${input.extensions.join(', ')}`;
    case 'call.ring_stopped':
      return `ringing stopped: ${input.extensions.join(', ')}`;
    case 'call.answered':
      return `answered by ${input.extension}`;
    case 'call.transferred':
      return `transferred to ${input.to}`;
    case 'call.ended':
      return `ended${input.reason ? ` (${input.reason.replace('_', ' ')})` : ''}`;
    case 'recording.ready':
      return `recording ready${input.filename ? `: ${input.filename}` : ''}`;
    case 'route.requested':
      return `the PBX asks what to ring (from ${input.from} to ${input.to})`;
    default:
      return input.type;
  }
}

function registeredText(input: Extract<EngineInput, { type: 'bitrix.registered' }>): string {
  if (!input.crmEntityType || input.crmEntityId === null)
    return 'registered; the number matched no CRM record';
  return `registered on ${input.crmEntityType} #${String(input.crmEntityId)}${input.createdLead ? ' (a new lead)' : ''}`;
}

function planText(plan: readonly { extensions: readonly string[]; timeoutSec: number }[]): string {
  if (plan.length === 0) return 'plan: nothing to ring (the PBX decides)';
  return `plan: ${plan.map((s) => `${s.extensions.join(', ')} for ${String(s.timeoutSec)} s`).join(', then ')}`;
}

import type { Clock } from '../kit/index.ts';
import { batchCommands, readBatch } from './batch.ts';
import { pick, resolveRefs, Ref, type RefResolver } from './encode.ts';
import { errorPolicy } from './error-policy.ts';
import { BitrixError } from './errors.ts';
import type { Emit } from './events.ts';
import { LeakyBucket, OperatingLimits, type RateLimit, type SharedBudget } from './limiter.ts';
import { lanes, type Command, type Lane } from './methods.ts';
import { Pacer, pacingFor, type PacingOverrides } from './pacing.ts';
import { nextTimeReady, Operation, selectBatch, targetOf, type SubmitOptions } from './queue.ts';
import { delay } from '../retry/index.ts';
import type { ClientRetryPolicy } from './retry.ts';
import { postJson, readEnvelope, send, type Envelope, type HttpOptions } from './transport.ts';
import type { TokenKeeper } from './tokens.ts';

export interface DispatcherState {
  /** Operations waiting (not in flight), all lanes and by lane. */
  depth: number;
  byLane: Record<Lane, number>;
  /** Requests in flight. */
  inFlight: number;
  /** Our estimate of the portal's bucket level. */
  bucketLevel: number;
  /** Requests in a row that failed for want of the portal (network, 5xx): 0 while it answers. */
  consecutiveFailures: number;
  /** How long the portal's queue still holds back after failures or a rate-limit refusal. */
  pausedForMs: number;
}

interface DispatcherOptions {
  memberId: string;
  /** Where method names are appended: `https://<portal>/rest/` or the webhook's URL. */
  endpoint: () => string;
  /** OAuth portals; webhooks carry their secret in the endpoint. */
  keeper: TokenKeeper | undefined;
  rateLimit: RateLimit;
  headroom: number;
  /** The portal's bucket shared with other instances: a request leaves only with a place in it. */
  sharedBudget?: SharedBudget | undefined;
  maxBatch: number;
  maxInFlight: number;
  /** Holding what is not urgent, and the places only cards may use (see `pacing.ts`). */
  pacing?: PacingOverrides | undefined;
  /** Ids for operations the queue adds itself (the hide of a held finish). */
  nextOpId?: (() => number) | undefined;
  clock: Clock;
  random: () => number;
  policy: ClientRetryPolicy;
  http: () => HttpOptions;
  emit: Emit;
}

/**
 * One portal's queue: lanes, the mirrored leaky bucket, batching, dependencies and retries.
 *
 * A request goes out whenever a slot is free (the bucket has room and fewer than `maxInFlight`
 * requests are in flight), carrying everything queued at that moment, best lanes first, up to 50
 * commands. Submissions in the same tick of the event loop travel together, so batching costs no
 * waiting: a lone operation leaves at once, alone.
 */
export class PortalDispatcher {
  private queue: Operation[] = [];
  private readonly lastOfKey = new Map<string, Operation>();
  private readonly bucket: LeakyBucket;
  private readonly operating: OperatingLimits;
  /** Requests in flight, by id (an id leaves as soon as its answer is in). */
  private readonly inFlight = new Set<number>();
  private cardPumpQueued = false;
  private requests = 0;
  private pausedUntil = 0;
  private failureStreak = 0;
  private limitStreak = 0;
  private pumpQueued = false;
  private cancelWake: (() => void) | null = null;
  private closed = false;
  /** The shared budget: a place taken (and when), and whether one is being asked for. */
  private grantedAt: number | null = null;
  private asking = false;
  private rateLimit: RateLimit;
  private readonly pacer: Pacer;

  constructor(private readonly o: DispatcherOptions) {
    this.rateLimit = o.rateLimit;
    this.bucket = new LeakyBucket(o.rateLimit, o.headroom);
    this.pacer = new Pacer(pacingFor(o.rateLimit, o.headroom, o.pacing));
    this.operating = new OperatingLimits(o.policy.operatingFallbackMs);
  }

  get memberId(): string {
    return this.o.memberId;
  }

  setRateLimit(limit: RateLimit): void {
    this.rateLimit = limit;
    this.bucket.setLimit(limit);
    this.pacer.settings = pacingFor(limit, this.o.headroom, this.o.pacing);
  }

  submit(command: Command, options: SubmitOptions, id: number): Operation {
    const key = options.orderKey;
    const op = new Operation(
      id,
      this.o.memberId,
      command,
      options,
      key ? this.lastOfKey.get(key) : undefined,
    );
    if (key) this.lastOfKey.set(key, op);
    const foreign = op.dataDeps.find((d) => d.memberId !== this.o.memberId);
    const failedDep = op.dataDeps.find((d) => d.state === 'failed');
    const reinstall = this.o.keeper?.needsReinstall;
    if (this.closed) {
      this.reject(op, new BitrixError('CLOSED', `${op.method}: the client is closed`, this.meta(op)));
    } else if (foreign) {
      this.reject(
        op,
        new BitrixError(
          'INVALID_REQUEST',
          `${op.method}: refers to an operation of another portal`,
          this.meta(op),
        ),
      );
    } else if (failedDep) {
      this.reject(op, this.dependencyError(op, failedDep));
    } else if (reinstall) {
      this.reject(
        op,
        new BitrixError('NEEDS_REINSTALL', `${op.method}: the portal needs the application re-installed`, {
          ...this.meta(op),
          portalError: reinstall.reason,
        }),
      );
    } else {
      this.queue.push(op);
      this.schedule(op.lane === 'card');
    }
    return op;
  }

  state(): DispatcherState {
    const now = this.o.clock.now();
    return {
      depth: this.queue.length,
      inFlight: this.inFlight.size,
      byLane: this.byLane(),
      bucketLevel: this.bucket.current(now) + this.inFlight.size,
      consecutiveFailures: this.failureStreak,
      pausedForMs: Math.max(0, this.pausedUntil - now),
    };
  }

  /** New tokens arrived (re-installation): whatever waited may go. */
  wake(): void {
    this.schedule();
  }

  close(): void {
    this.closed = true;
    this.cancelWake?.();
    this.cancelWake = null;
    const waiting = this.queue;
    this.queue = [];
    for (const op of waiting)
      this.reject(op, new BitrixError('CLOSED', `${op.method}: the client was closed`, this.meta(op)));
  }

  /** Fails everything queued: the portal needs re-installation, no request can succeed. */
  failAll(error: BitrixError): void {
    const waiting = this.queue;
    this.queue = [];
    for (const op of waiting) this.reject(op, error.forMethod(op.method));
    this.emitQueue();
  }

  // --- the pump ---

  private schedule(card = false): void {
    if (this.closed) return;
    if (card && !this.cardPumpQueued) {
      // A card is awaited by a person: the pump runs once the code that submitted it is done (a
      // microtask), not a turn of the event loop later, behind whatever that turn brings in.
      // Whatever that same code submitted still joins the request.
      this.cardPumpQueued = true;
      queueMicrotask(() => {
        this.cardPumpQueued = false;
        this.pump();
      });
    }
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    // setImmediate, not a timer: whatever is submitted in this tick joins the same request.
    setImmediate(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /**
   * With a shared budget, a request leaves only with a place taken in it. Taking one is a
   * database round trip, so the pump asks and stops; the answer schedules the pump again. A place
   * not used soon is dropped: the shared bucket counted it when it was taken, and a request
   * leaving much later would arrive on a bucket that drained meanwhile.
   */
  private useGrant(now: number): boolean {
    const budget = this.o.sharedBudget;
    if (!budget) return true;
    if (this.grantedAt !== null && now - this.grantedAt <= 1000) {
      this.grantedAt = null;
      return true;
    }
    this.grantedAt = null;
    if (this.asking) return false;
    this.asking = true;
    budget.take(this.o.memberId, this.rateLimit, this.o.headroom).then(
      (waitMs) => {
        this.asking = false;
        if (waitMs <= 0) {
          this.grantedAt = this.o.clock.now();
          this.schedule();
        } else this.wakeIn(waitMs);
      },
      () => {
        // The database cannot be asked: nothing leaves without a place; ask again shortly.
        this.asking = false;
        this.wakeIn(1000);
      },
    );
    return false;
  }

  private wakeIn(ms: number): void {
    this.cancelWake?.();
    this.cancelWake = this.o.clock.setTimer(ms, () => {
      this.cancelWake = null;
      this.schedule();
    });
  }

  private pump(): void {
    if (this.closed) return;
    this.cancelWake?.();
    this.cancelWake = null;
    while (this.inFlight.size < this.o.maxInFlight && this.queue.length > 0) {
      const now = this.o.clock.now();
      if (this.pausedUntil > now) {
        this.wakeIn(this.pausedUntil - now);
        break;
      }
      const wait = this.bucket.waitMs(now, this.inFlight.size);
      if (wait > 0) {
        this.wakeIn(wait);
        break;
      }
      const ctx = {
        now,
        maxCommands: this.o.maxBatch,
        methodWaitMs: (method: string) => this.operating.waitMs(method.toLowerCase(), now),
        skip: (op: Operation) => this.pacer.waitsForItsHide(op),
      };
      const selection = selectBatch(this.queue, ctx);
      if (selection.ops.length === 0) {
        const at = nextTimeReady(this.queue, ctx);
        if (at !== null) this.wakeIn(at - now);
        break;
      }
      if (!this.paced(now, selection.ops)) break;
      if (!this.useGrant(now)) break;
      const chosen = new Set(selection.ops);
      this.queue = this.queue.filter((op) => !chosen.has(op));
      this.send(selection.ops, selection.halt).catch((e: unknown) => this.internalFailure(selection.ops, e));
    }
    this.emitQueue();
  }

  /**
   * A request in flight counts as a whole place; it starts to drain from its answer. The portal
   * counts it when it arrives, somewhere in between: counting it from the answer keeps our mirror
   * at or above the portal's level even when our bucket ran empty while the portal's had not.
   */
  private landed(requestId: number): void {
    if (this.inFlight.delete(requestId)) this.bucket.take(this.o.clock.now());
  }

  /** False when the selected request waits (the pacer's decision); a held finish's hide goes. */
  private paced(now: number, ops: readonly Operation[]): boolean {
    const { decision, hides } = this.pacer.decide(now, ops, {
      level: this.bucket.current(now) + this.inFlight.size,
      rate: this.rateLimit.rate,
      capacity: this.bucket.capacity,
      maxBatch: this.o.maxBatch,
      alone: this.inFlight.size === 0 && this.queue.length === ops.length,
    });
    const nextId = this.o.nextOpId;
    if (nextId)
      for (const { finish, hide } of hides) this.pacer.sentHide(finish, this.submit(hide, {}, nextId()));
    if (decision.kind === 'send') return true;
    this.wakeIn(decision.ms);
    return false;
  }

  // --- one request ---

  private async send(ops: Operation[], halt: boolean): Promise<void> {
    const requestId = ++this.requests;
    const first = ops[0];
    if (!first) return;
    const kind = ops.length > 1 || halt ? 'batch' : first.command.upload ? 'upload' : 'call';
    this.inFlight.add(requestId);
    for (const op of ops) {
      op.state = 'sending';
      op.sends += 1;
    }
    this.o.emit('request', {
      memberId: this.o.memberId,
      requestId,
      kind,
      halt,
      commands: ops.map((op) => ({ opId: op.id, method: op.method, lane: op.lane, label: op.options.label })),
    });
    const started = this.o.clock.now();
    let token: string | undefined;
    try {
      token = this.o.keeper ? await this.o.keeper.accessToken() : undefined;
      if (kind === 'batch') {
        await this.sendBatch(ops, halt, token, requestId, started);
      } else {
        const envelope = kind === 'upload' ? await this.upload(first, token) : await this.call(first, token);
        this.requestSucceeded(requestId, started, 200, 0);
        this.operating.observe(first.method.toLowerCase(), this.o.clock.now(), envelope.time ?? {});
        this.succeed(first, envelope);
      }
    } catch (e) {
      this.landed(requestId);
      const error =
        e instanceof BitrixError
          ? e
          : new BitrixError('BAD_RESPONSE', `${first.method}: unexpected failure`, {
              cause: e,
              maybeDelivered: true,
            });
      this.o.emit('response', {
        memberId: this.o.memberId,
        requestId,
        ok: false,
        status: error.status,
        code: error.code,
        commandErrors: 0,
        durationMs: this.o.clock.now() - started,
      });
      await this.requestFailed(ops, error, token, kind === 'batch');
    } finally {
      this.landed(requestId);
      this.schedule();
    }
  }

  private async call(op: Operation, token: string | undefined): Promise<Envelope> {
    const params = resolveRefs(op.command.params, this.resolver(new Set()));
    const http = this.o.http();
    const reply = await postJson(
      `${this.o.endpoint()}${op.method}`,
      token === undefined ? params : { ...params, auth: token },
      op.method,
      http,
    );
    const envelope = readEnvelope(reply, op.method, this.o.memberId);
    if (envelope instanceof BitrixError) throw envelope;
    return envelope;
  }

  /** attachRecord's upload step: the file as multipart field `file` to the URL the portal gave. */
  private async upload(op: Operation, token: string | undefined): Promise<Envelope> {
    const spec = op.command.upload;
    if (!spec) throw new BitrixError('INVALID_REQUEST', `${op.method}: not an upload`, this.meta(op));
    const value = (v: string | Ref<string>): string => {
      if (!(v instanceof Ref)) return v;
      const found = pick(targetOf(v).raw, v.path);
      if (typeof found !== 'string' || found === '') {
        throw new BitrixError('BAD_RESPONSE', `${op.method}: the portal gave no upload URL`, this.meta(op));
      }
      return found;
    };
    const url = new URL(value(spec.url));
    // The URL carries the access token it was issued with; it may have been refreshed since.
    if (token !== undefined && url.searchParams.has('auth')) url.searchParams.set('auth', token);
    const form = new FormData();
    form.append(value(spec.field), new Blob([spec.content]), spec.filename);
    const reply = await send(url.toString(), { method: 'POST', body: form }, op.method, this.o.http());
    const envelope = readEnvelope(reply, op.method, this.o.memberId);
    if (envelope instanceof BitrixError) throw envelope;
    return envelope;
  }

  private async sendBatch(
    ops: Operation[],
    halt: boolean,
    token: string | undefined,
    requestId: number,
    started: number,
  ): Promise<void> {
    const inBatch = new Set(ops);
    const payload = {
      cmd: batchCommands(ops, this.resolver(inBatch)),
      halt: halt ? 1 : 0,
      ...(token === undefined ? {} : { auth: token }),
    };
    const reply = await postJson(`${this.o.endpoint()}batch`, payload, 'batch', this.o.http());
    const envelope = readEnvelope(reply, 'batch', this.o.memberId);
    if (envelope instanceof BitrixError) throw envelope;
    const outcomes = readBatch(envelope, ops, this.o.memberId);
    const commandErrors = [...outcomes.values()].filter((o) => o.kind === 'error').length;
    this.requestSucceeded(requestId, started, reply.status, commandErrors);
    const now = this.o.clock.now();
    for (const op of ops) {
      // A command behind a reference to a command of this batch that did not succeed ran with an
      // empty value (harmless: only show/hide may ride so) or not at all (halt): it shares the
      // fate of what it referred to.
      const dep = op.dataDeps.find((d) => inBatch.has(d) && d.state !== 'done');
      if (dep) {
        if (dep.state === 'failed') this.reject(op, this.dependencyError(op, dep));
        else this.requeue(op);
        continue;
      }
      const outcome = outcomes.get(op);
      if (outcome?.kind === 'done') {
        this.operating.observe(op.method.toLowerCase(), now, outcome.time);
        this.succeed(op, outcome.envelope);
      } else if (outcome?.kind === 'error') {
        this.opFailed(op, outcome.error, 0);
      } else {
        // Not run: the batch halted at an earlier failure. Nothing happened, nothing is counted.
        this.requeue(op);
      }
    }
  }

  /** References to operations already done become their values; those in this batch `$result`. */
  private resolver(inBatch: ReadonlySet<Operation>): RefResolver {
    return (ref) => {
      const target = targetOf(ref);
      if (inBatch.has(target)) return { batchKey: target.key };
      if (target.state === 'done') return { value: pick(target.raw, ref.path) };
      throw new BitrixError('INVALID_REQUEST', 'a reference to an operation that has not completed');
    };
  }

  // --- outcomes ---

  private requestSucceeded(requestId: number, started: number, status: number, commandErrors: number): void {
    this.landed(requestId);
    this.failureStreak = 0;
    this.limitStreak = 0;
    this.o.emit('response', {
      memberId: this.o.memberId,
      requestId,
      ok: true,
      status,
      code: undefined,
      commandErrors,
      durationMs: this.o.clock.now() - started,
    });
  }

  /** The request failed as a whole: act on the portal (limits, token, backoff), then on each op. */
  private async requestFailed(
    ops: Operation[],
    error: BitrixError,
    token: string | undefined,
    batch: boolean,
  ): Promise<void> {
    const { clock, policy, random, keeper } = this.o;
    const now = clock.now();
    let effective = error;
    switch (errorPolicy[error.code].portal) {
      case 'slow-down': {
        // Other apps share the portal's bucket: believe the portal, fill ours, and back off more
        // with each refusal in a row (spec §1.6 guidance).
        this.bucket.fill(now);
        this.o.sharedBudget?.fill(this.o.memberId, this.rateLimit).catch(() => undefined);
        this.limitStreak += 1;
        const waitMs = delay(policy, this.limitStreak, random);
        this.pausedUntil = Math.max(this.pausedUntil, now + waitMs);
        this.o.emit('rateLimited', {
          memberId: this.o.memberId,
          code: 'RATE_LIMITED',
          method: undefined,
          waitMs,
        });
        break;
      }
      case 'refresh': {
        // One refresh normally repairs it; a second is allowed for a race with another refresh.
        // Past that the portal keeps refusing fresh tokens, and refreshing again would be a loop.
        const repairable =
          keeper !== undefined && token !== undefined && ops.every((op) => op.authRepairs < 2);
        if (!repairable) {
          // Refused credentials we cannot renew (a webhook, or a second refusal right after a
          // refresh): repeating would only be refused again.
          for (const op of ops) this.reject(op, batch ? error.forMethod(op.method) : error);
          return;
        }
        try {
          await keeper.refresh(token);
          for (const op of ops) {
            op.authRepairs += 1;
            this.requeue(op);
          }
          return;
        } catch (e) {
          effective = e instanceof BitrixError ? e : error;
          if (effective.code === 'NEEDS_REINSTALL') this.failAll(effective);
        }
        break;
      }
      case 'pause': {
        // The portal (or the way to it) is failing: everyone waits, with growing pauses.
        this.failureStreak += 1;
        this.pausedUntil = Math.max(this.pausedUntil, now + delay(policy, this.failureStreak, random));
        break;
      }
      case 'reinstall':
        this.failAll(error);
        break;
      case 'none':
        break;
    }
    for (const op of ops) {
      const own = batch ? effective.forMethod(op.method) : effective;
      this.opFailed(op, own, this.pausedUntil > now ? this.pausedUntil - now : 0);
    }
  }

  /**
   * One operation failed: settle it, or put it back. `delayMs` is the wait already imposed on the
   * whole portal (a request-level failure); a failure of this operation alone backs off on its own.
   */
  private opFailed(op: Operation, error: BitrixError, portalDelayMs: number): void {
    const { policy, clock, random } = this.o;
    const now = clock.now();
    let delayMs = portalDelayMs;
    // A repeat after a try that may have reached the portal: some errors then mean "done".
    if (op.maybeDelivered && op.command.onRepeatError) {
      const done = op.command.onRepeatError(error);
      if (done) {
        this.succeed(op, { result: done.value, total: undefined, next: undefined });
        return;
      }
    }
    if (error.maybeDelivered) op.maybeDelivered = true;
    const rule = policy.codes[error.code];
    if (rule === 'never' || this.closed) {
      this.reject(op, error);
      return;
    }
    if (error.maybeDelivered && !op.command.repeatSafe) {
      // It may have happened; doing it again might do it twice. The caller decides.
      this.reject(op, error);
      return;
    }
    if (error.code === 'OPERATION_TIME_LIMIT') {
      const waitMs = this.operating.block(op.method.toLowerCase(), now);
      this.o.emit('rateLimited', {
        memberId: this.o.memberId,
        code: 'OPERATION_TIME_LIMIT',
        method: op.method,
        waitMs,
      });
      delayMs = Math.max(delayMs, waitMs);
    }
    if (rule === 'wait') {
      op.waits += 1;
      if (op.waits > policy.maxWaits) {
        this.reject(op, error);
        return;
      }
    } else {
      op.failures += 1;
      if (op.failures >= (op.options.maxAttempts ?? policy.maxAttempts)) {
        this.reject(op, error);
        return;
      }
      if (delayMs === 0) {
        delayMs = delay(policy, op.failures, random);
        op.notBefore = now + delayMs;
      }
    }
    this.o.emit('retry', {
      memberId: this.o.memberId,
      opId: op.id,
      method: op.method,
      code: error.code,
      failures: op.failures,
      delayMs,
    });
    this.requeue(op);
  }

  /** A bug in the handling of an answer must not leave callers waiting forever. */
  private internalFailure(ops: Operation[], e: unknown): void {
    for (const op of ops) {
      if (op.state !== 'sending') continue;
      this.reject(
        op,
        new BitrixError('BAD_RESPONSE', `${op.method}: internal failure handling the answer`, {
          ...this.meta(op),
          maybeDelivered: true,
          cause: e,
        }),
      );
    }
  }

  private requeue(op: Operation): void {
    op.state = 'queued';
    this.queue.push(op);
  }

  private succeed(op: Operation, envelope: Envelope): void {
    op.succeed({ result: envelope.result, total: envelope.total, next: envelope.next });
    this.settled(op, undefined);
  }

  private reject(op: Operation, error: BitrixError): void {
    this.queue = this.queue.filter((q) => q !== op);
    op.fail(error);
    this.settled(op, error);
    // Whatever needs this operation's result cannot run now.
    for (const d of op.dependents) {
      if (d.state === 'queued' && d.dataDeps.includes(op)) this.reject(d, this.dependencyError(d, op));
    }
  }

  private settled(op: Operation, error: BitrixError | undefined): void {
    const key = op.options.orderKey;
    if (key && this.lastOfKey.get(key) === op) this.lastOfKey.delete(key);
    this.o.emit('operation', {
      memberId: this.o.memberId,
      opId: op.id,
      method: op.method,
      label: op.options.label,
      ok: error === undefined,
      code: error?.code,
      sends: op.sends,
    });
  }

  private dependencyError(op: Operation, dep: Operation): BitrixError {
    return new BitrixError('DEPENDENCY_FAILED', `${op.method}: ${dep.method} it depends on failed`, {
      ...this.meta(op),
      cause: dep.error,
    });
  }

  private meta(op: Operation): { method: string; memberId: string } {
    return { method: op.method, memberId: this.o.memberId };
  }

  private byLane(): Record<Lane, number> {
    const counts = Object.fromEntries(lanes.map((l) => [l, 0])) as Record<Lane, number>;
    for (const op of this.queue) counts[op.lane] += 1;
    return counts;
  }

  private emitQueue(): void {
    this.o.emit('queue', {
      memberId: this.o.memberId,
      depth: this.queue.length,
      byLane: this.byLane(),
      inFlight: this.inFlight.size,
    });
  }
}

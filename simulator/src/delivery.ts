/**
 * Delivers events to `POST /pbx/v1/events` in the order they happened. One queue for the whole
 * PBX, because the bridge reads a call's events in arrival order; whatever queued up while a
 * request was out goes in the next one, as a batch. A batch the bridge could not store (503,
 * network) is repeated until it is accepted, and the queue behind it waits; one it refused (4xx)
 * is reported and dropped, since repeating it would only be refused again.
 */
import type { ApiEvent } from '../../src/pbx/webhook/index.ts';
import { backoffMs, type BackoffOptions } from './backoff.ts';
import type { BridgeClient } from './bridge-client.ts';
import type { SimClock } from './clock.ts';
import type { Random } from './random.ts';
import type { SimulatorEventMap } from './types.ts';

export interface DeliveryOptions {
  /** Send what has queued up as one array (default), or every event in a request of its own. */
  readonly batch?: boolean;
  /** At most this many events per request (default 100; the API takes up to 1000). */
  readonly maxBatch?: number;
  readonly retry?: BackoffOptions;
}

type Report = <K extends keyof SimulatorEventMap>(name: K, ...args: SimulatorEventMap[K]) => void;

export class EventDelivery {
  private readonly queue: ApiEvent[] = [];
  private pumping = false;
  private stopped = false;
  delivered = 0;
  retries = 0;
  rejected = 0;

  constructor(
    private readonly client: BridgeClient,
    private readonly clock: SimClock,
    private readonly random: Random,
    private readonly report: Report,
    private readonly options: DeliveryOptions = {},
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  send(event: ApiEvent): void {
    if (this.stopped) return;
    this.queue.push(event);
    if (!this.pumping) void this.pump();
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private wake: (() => void) | null = null;

  /** A backoff on the simulator's clock that `stop()` cuts short, so nothing outlives the simulator. */
  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const cancel = this.clock.setTimer(ms, () => {
        this.wake = null;
        resolve();
      });
      this.wake = () => {
        cancel();
        this.wake = null;
        resolve();
      };
    });
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const size = this.options.batch === false ? 1 : (this.options.maxBatch ?? 100);
        const batch = this.queue.slice(0, size);
        await this.deliver(batch);
        this.queue.splice(0, batch.length);
      }
    } finally {
      this.pumping = false;
    }
  }

  private async deliver(batch: readonly ApiEvent[]): Promise<void> {
    // One event goes as an object, several as an array: the API takes both.
    const body = batch.length === 1 ? batch[0] : batch;
    for (let attempt = 0; !this.stopped; attempt++) {
      const outcome = await this.client.request('POST', '/pbx/v1/events', body);
      if (outcome.kind === 'ok') {
        this.delivered += batch.length;
        this.report('events.delivered', batch);
        return;
      }
      if (outcome.kind === 'rejected') {
        this.rejected++;
        this.report('bridge.rejected', { request: 'events', status: outcome.status, body: outcome.body });
        return;
      }
      this.retries++;
      const delayMs = backoffMs(attempt, this.options.retry ?? {}, this.random);
      this.report('bridge.retry', {
        request: 'events',
        attempt: attempt + 1,
        delayMs,
        problem: outcome.problem,
      });
      await this.wait(delayMs);
    }
  }
}

/**
 * The engine's timers on the outbox's clock. They are not stored apart: they live in the calls'
 * state, and are armed again from it when the outbox opens or follows another instance's steps.
 */
import type { Clock } from '../bitrix/index.ts';
import type { Effect } from '../core/index.ts';

export class EngineTimers {
  private readonly armed = new Map<string, () => void>();
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly fire: (timerId: string) => void,
  ) {}

  get size(): number {
    return this.armed.size;
  }

  /** (Re-)arms a timer to fire at `at` (at once if that is past). */
  arm(timerId: string, at: number): void {
    if (this.closed) return;
    this.armed.get(timerId)?.();
    const cancel = this.clock.setTimer(Math.max(0, at - this.clock.now()), () => {
      this.armed.delete(timerId);
      this.fire(timerId);
    });
    this.armed.set(timerId, cancel);
  }

  cancel(timerId: string): void {
    this.armed.get(timerId)?.();
    this.armed.delete(timerId);
  }

  /** What a step said about timers. */
  apply(effects: readonly Effect[]): void {
    for (const e of effects) {
      if (e.type === 'timer.start') this.arm(e.timerId, e.at);
      else if (e.type === 'timer.cancel') this.cancel(e.timerId);
    }
  }

  /** Every timer the calls' state holds. */
  armAll(calls: Iterable<{ key: string; timers: Record<string, number> }>): void {
    for (const call of calls) {
      for (const [name, at] of Object.entries(call.timers)) this.arm(`${call.key}#${name}`, at);
    }
  }

  close(): void {
    this.closed = true;
    for (const cancel of this.armed.values()) cancel();
    this.armed.clear();
  }
}

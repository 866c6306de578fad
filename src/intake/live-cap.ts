/**
 * A cap on the live calls of one PBX: past it, a new call's events are not stepped (its start,
 * its route request and whatever follows for it), so that a flood of calls, or a PBX reporting
 * calls it never ends, cannot grow the engine's state without bound. The PBX is still answered
 * (202; a route gets the fallback plan), the refusal is told once per episode, and counted.
 */
import { getCall, type EngineInput, type EngineState } from '../core/index.ts';
import type { EventIntake } from './pbx-intake.ts';

interface LiveCapOptions {
  pbxId: string;
  maxLiveCalls: number;
  /** A call was refused; `first` is true for the first one since the PBX was last under its cap. */
  onRefused: (info: { pbxId: string; maxLiveCalls: number; callId: string; first: boolean }) => void;
  /** The PBX is under its cap again. */
  onRecovered?: ((info: { pbxId: string; maxLiveCalls: number }) => void) | undefined;
}

/** Refused calls remembered (so that their later events are dropped too), at most. */
const MAX_REFUSED = 50_000;

const liveOrPending = (state: EngineState | undefined, callId: string): boolean => {
  if (!state) return false;
  const call = getCall(state, callId);
  return call !== null && (call.phase === 'live' || call.phase === 'pending');
};

export class LiveCallCap {
  /** Calls this cap let in and that may still be live. */
  private readonly admitted = new Set<string>();
  private readonly refused = new Set<string>();
  private capped = false;
  private readonly wrapped = new WeakMap<EventIntake, EventIntake>();

  constructor(private readonly o: LiveCapOptions) {}

  /** The intake with the cap in front of it (the same wrapper for the same intake). */
  wrap(intake: EventIntake): EventIntake {
    const known = this.wrapped.get(intake);
    if (known) return known;
    const admits = (input: EngineInput): boolean => this.admits(input, intake.engineState);
    const capped: EventIntake = {
      get callers() {
        return intake.callers;
      },
      get engineState() {
        return intake.engineState;
      },
      accept: (input, options) =>
        admits(input) ? intake.accept(input, options) : Promise.resolve({ duplicate: false, pbx: [] }),
      ...(intake.acceptMany
        ? {
            acceptMany: (
              inputs: Parameters<NonNullable<EventIntake['acceptMany']>>[0],
              options?: { now?: number },
            ) => {
              const kept = inputs.filter((i) => admits(i.input));
              if (kept.length === 0) return Promise.resolve({ duplicate: false, pbx: [] });
              return intake.acceptMany?.(kept, options) ?? Promise.resolve({ duplicate: false, pbx: [] });
            },
          }
        : {}),
      ...(intake.preview
        ? {
            preview: (input: EngineInput, now?: number) =>
              'callId' in input && this.refused.has(input.callId) ? [] : (intake.preview?.(input, now) ?? []),
          }
        : {}),
    };
    this.wrapped.set(intake, capped);
    return capped;
  }

  private admits(input: EngineInput, state: EngineState | undefined): boolean {
    if (!('callId' in input)) return true;
    const id = input.callId;
    if (this.refused.has(id)) return false;
    const starts = input.type === 'call.started' || input.type === 'route.requested';
    if (!starts || this.admitted.has(id) || liveOrPending(state, id)) {
      if (input.type === 'call.ended') this.admitted.delete(id);
      return true;
    }
    if (this.admitted.size >= this.o.maxLiveCalls) this.prune(state);
    if (this.admitted.size >= this.o.maxLiveCalls) {
      if (this.refused.size >= MAX_REFUSED) this.refused.clear();
      this.refused.add(id);
      this.o.onRefused({
        pbxId: this.o.pbxId,
        maxLiveCalls: this.o.maxLiveCalls,
        callId: id,
        first: !this.capped,
      });
      this.capped = true;
      return false;
    }
    if (this.capped) {
      this.capped = false;
      this.o.onRecovered?.({ pbxId: this.o.pbxId, maxLiveCalls: this.o.maxLiveCalls });
    }
    this.admitted.add(id);
    return true;
  }

  /** Forgets admitted calls the engine no longer has live (ended, or never started). */
  private prune(state: EngineState | undefined): void {
    if (!state) return;
    for (const id of this.admitted) if (!liveOrPending(state, id)) this.admitted.delete(id);
  }
}

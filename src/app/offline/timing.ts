/**
 * When the offline queue is read next: a pure function of what the poller knows and the time, so
 * the pace is tested without waiting.
 */

export interface PollSettings {
  pollLiveMs: number;
  pollIdleMs: number;
  /** After the last event or call activity, reads stay at pollLiveMs this long. */
  activeSec: number;
}

export interface PollState {
  /** When the last read (successful or not) ended; null before the first. */
  lastReadAt: number | null;
  /** When an event was last fetched or a call was last seen on the PBX side; null: never. */
  lastActivityAt: number | null;
  /** Calls live right now on this portal. */
  liveCalls: number;
  /** Reads that failed in a row (the portal down, the budget spent). */
  failures: number;
  /** A full page came back: more is waiting. */
  backlog: boolean;
}

export const initialPollState = (): PollState => ({
  lastReadAt: null,
  lastActivityAt: null,
  liveCalls: 0,
  failures: 0,
  backlog: false,
});

/** Whether a click may come now: calls are live, or something happened lately. */
function isActive(state: PollState, now: number, s: PollSettings): boolean {
  if (state.liveCalls > 0) return true;
  return state.lastActivityAt !== null && now - state.lastActivityAt < s.activeSec * 1000;
}

/** Milliseconds from `now` until the next read (0: at once). */
export function nextReadInMs(state: PollState, now: number, s: PollSettings): number {
  if (state.lastReadAt === null) return 0;
  let interval = isActive(state, now, s) ? s.pollLiveMs : s.pollIdleMs;
  // A backlog drains at the live pace; failures back off, doubling, to no more than the idle pace.
  if (state.backlog && state.failures === 0) interval = s.pollLiveMs;
  if (state.failures > 0)
    interval = Math.min(
      Math.max(s.pollIdleMs, s.pollLiveMs),
      s.pollLiveMs * 2 ** Math.min(state.failures, 10),
    );
  return Math.max(0, state.lastReadAt + interval - now);
}

/**
 * The link to the portal as the outbox sees it, as data: up, down (probed with growing pauses) or
 * needing attention (looked at again now and then). Pure, like the core: every function takes the
 * monitor and returns the next one with what must happen (announce a change, arm or cancel the
 * probe timer); the delivery does the I/O.
 */
import { delay } from '../retry/index.ts';
import { probeBackoff, type DeliveryPolicy } from './policy.ts';

/** up: the portal answers; down: it cannot be reached (probed); attention: a person must act. */
export type LinkState = 'up' | 'down' | 'attention';

export interface LinkMonitor {
  readonly state: LinkState;
  /** Probes in a row that came back failed: each makes the pause before the next longer. */
  readonly probeFailures: number;
  /** A probe may go at the next delivery round (its timer fired, or the admin asked). */
  readonly probeDue: boolean;
  /** A probe timer is armed. */
  readonly probeArmed: boolean;
}

export type LinkEffect =
  | { readonly type: 'announce'; readonly state: LinkState; readonly code: string | undefined }
  | { readonly type: 'armProbe'; readonly delayMs: number }
  | { readonly type: 'cancelProbe' };

export interface LinkStep {
  readonly monitor: LinkMonitor;
  readonly effects: readonly LinkEffect[];
}

export const linkUp: LinkMonitor = { state: 'up', probeFailures: 0, probeDue: false, probeArmed: false };

const same = (monitor: LinkMonitor): LinkStep => ({ monitor, effects: [] });

/** Only a probe may go while the link is not up, and only when one is due. */
export const mayDeliver = (m: LinkMonitor): boolean => m.state === 'up' || m.probeDue;

/** The pause before the next probe: growing while down, the attention period otherwise. */
export function probeDelay(m: LinkMonitor, policy: DeliveryPolicy): number {
  return m.state === 'attention' ? policy.attentionDelayMs : delay(probeBackoff(policy), m.probeFailures);
}

/** The portal answered: the link is up again, probing stops. */
export function answered(m: LinkMonitor): LinkStep {
  if (m.state === 'up') return same(m);
  return {
    monitor: linkUp,
    effects: [
      ...(m.probeArmed ? [{ type: 'cancelProbe' } as const] : []),
      { type: 'announce', state: 'up', code: undefined },
    ],
  };
}

/** A failure that says the portal cannot be reached (`down`) or needs a person (`attention`). */
export function lost(m: LinkMonitor, state: Exclude<LinkState, 'up'>, code: string): LinkStep {
  if (m.state === state) return same(m);
  return { monitor: { ...m, state }, effects: [{ type: 'announce', state, code }] };
}

function arm(m: LinkMonitor, policy: DeliveryPolicy, grow: boolean): LinkStep {
  const next = { ...m, probeFailures: grow ? m.probeFailures + 1 : m.probeFailures, probeArmed: true };
  return {
    monitor: next,
    effects: [
      ...(m.probeArmed ? [{ type: 'cancelProbe' } as const] : []),
      { type: 'armProbe', delayMs: probeDelay(next, policy) },
    ],
  };
}

/**
 * Everything in flight has come back: a link that is down is probed after a pause (one more
 * failed round: the pause grows), unless a probe is already armed or due.
 */
export function drained(m: LinkMonitor, policy: DeliveryPolicy): LinkStep {
  if (m.state === 'up' || m.probeArmed || m.probeDue) return same(m);
  return arm(m, policy, true);
}

/** The probe timer fired: the next delivery round may send a probe. */
export const probeFired = (m: LinkMonitor): LinkMonitor => ({ ...m, probeArmed: false, probeDue: true });

/** A probe round ran; it found nothing to send: look again after the same pause. */
export function probed(m: LinkMonitor, sent: number, policy: DeliveryPolicy): LinkStep {
  const next = { ...m, probeDue: false };
  return sent === 0 ? arm(next, policy, false) : same(next);
}

/** The admin's "deliver now": a link that is not up is probed at once, not at its next probe time. */
export function probeNow(m: LinkMonitor): LinkStep {
  if (m.state === 'up') return same(m);
  return {
    monitor: { ...m, probeDue: true, probeArmed: false },
    effects: m.probeArmed ? [{ type: 'cancelProbe' }] : [],
  };
}

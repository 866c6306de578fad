import { exactPolicy, type RetryPolicy } from '../retry/index.ts';

/**
 * When the outbox tries again, as data. The client already retries a request a few times within
 * seconds; the outbox owns the long view: an operation stays in the store until the portal gives
 * a definitive answer, however long the link is down.
 */
export interface DeliveryPolicy {
  /** Backoff of one entry after a failure that is not the link's (e.g. a rate limit outlasting the client's waits). */
  entryMinDelayMs: number;
  entryMaxDelayMs: number;
  /** Probing a link that is down: first wait, growth per failed probe, ceiling. */
  probeMinDelayMs: number;
  probeMaxDelayMs: number;
  factor: number;
  /** A probe carries up to this many due entries: a full batch, so a successful probe wastes no request. */
  probeSize: number;
  /** The portal needs a person (re-install, refused credentials): how often to look again. */
  attentionDelayMs: number;
}

export const defaultDeliveryPolicy: DeliveryPolicy = {
  entryMinDelayMs: 1_000,
  entryMaxDelayMs: 5 * 60_000,
  probeMinDelayMs: 2_000,
  probeMaxDelayMs: 60_000,
  factor: 2,
  probeSize: 50,
  attentionDelayMs: 5 * 60_000,
};

/** An entry's own backoff as the shared policy: exact, the outbox's timers are per entry anyway. */
export const entryBackoff = (p: DeliveryPolicy): RetryPolicy =>
  exactPolicy(p.entryMinDelayMs, p.entryMaxDelayMs, p.factor);

/** The pauses between probes of a link that is down. */
export const probeBackoff = (p: DeliveryPolicy): RetryPolicy =>
  exactPolicy(p.probeMinDelayMs, p.probeMaxDelayMs, p.factor);

import type { ErrorCode } from './errors.ts';
import type { Lane } from './methods.ts';

/**
 * What the client announces, for metrics and logs later and for tests now (they wait on these
 * instead of sleeping). No event carries a token, a secret or a webhook URL.
 */
export interface ClientEvents {
  /** A request leaves: one method call, one batch, or one recording upload. */
  request: [RequestEvent];
  /** Its answer arrived (or it failed as a whole). */
  response: [ResponseEvent];
  /** An operation is settled: done, or failed for good. */
  operation: [OperationEvent];
  /** An operation failed and goes back to the queue. */
  retry: [RetryEvent];
  /** The portal's limits pushed back (QUERY_LIMIT_EXCEEDED, OPERATION_TIME_LIMIT). */
  rateLimited: [RateLimitedEvent];
  /** An OAuth refresh ran. */
  refresh: [RefreshEvent];
  /** The OAuth server refused the portal's refresh token or the app: re-installation needed. */
  needsReinstall: [NeedsReinstallEvent];
  /** The queue of a portal changed. */
  queue: [QueueEvent];
}

export interface CommandInfo {
  opId: number;
  method: string;
  lane: Lane;
  label: string | undefined;
}

export interface RequestEvent {
  memberId: string;
  requestId: number;
  kind: 'call' | 'batch' | 'upload';
  /** Commands carried, in order (a plain call carries one). */
  commands: CommandInfo[];
  /** The batch halts at the first failing command (it carries dependent commands). */
  halt: boolean;
}

export interface ResponseEvent {
  memberId: string;
  requestId: number;
  ok: boolean;
  /** HTTP status, when an answer arrived. */
  status: number | undefined;
  /** The request-level error, when the request failed as a whole. */
  code: ErrorCode | undefined;
  /** Commands of a batch that failed on their own. */
  commandErrors: number;
  durationMs: number;
}

export interface OperationEvent {
  memberId: string;
  opId: number;
  method: string;
  label: string | undefined;
  ok: boolean;
  code: ErrorCode | undefined;
  /** Requests that carried it. */
  sends: number;
}

export interface RetryEvent {
  memberId: string;
  opId: number;
  method: string;
  code: ErrorCode;
  /** Counted failures so far (waits for limits and tokens are not counted). */
  failures: number;
  delayMs: number;
}

export interface RateLimitedEvent {
  memberId: string;
  code: 'RATE_LIMITED' | 'OPERATION_TIME_LIMIT';
  /** The blocked method (operating-time limit). */
  method: string | undefined;
  waitMs: number;
}

export interface RefreshEvent {
  memberId: string;
  ok: boolean;
  code: ErrorCode | undefined;
  durationMs: number;
}

export interface NeedsReinstallEvent {
  memberId: string;
  reason: string;
}

export interface QueueEvent {
  memberId: string;
  /** Operations waiting (not in flight). */
  depth: number;
  byLane: Record<Lane, number>;
  /** Requests in flight. */
  inFlight: number;
}

/** Emits one of the client's events (the shape of `EventEmitter<ClientEvents>.emit`). */
export type Emit = <K extends keyof ClientEvents>(
  event: K,
  ...args: K extends keyof ClientEvents ? ClientEvents[K] : never
) => unknown;

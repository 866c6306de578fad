/**
 * What every error code means, in one table: whether the client tries again (and whether that try
 * counts), what the portal as a whole must do when a request fails so, what a final failure means
 * to whoever keeps the work (the outbox), and whether it says the link to the portal is down.
 * The client's retries, the dispatcher's reaction to a failed request and the outbox's decisions
 * all read this table, so a code is decided once.
 *
 * An error the table does not know (anything that is not a BitrixError: a bug's TypeError, say)
 * has no row: `errorRule` answers null, and the outbox keeps such work pending (a fault).
 */
import type { BitrixError, ErrorCode } from './errors.ts';

/** Try again or not, and whether the try counts against `maxAttempts` (`wait` does not). */
export type RetryRule = 'attempt' | 'wait' | 'never';

/**
 * What a final failure means for whoever keeps the work (the outbox):
 * - `unavailable`: the portal could not be reached or pushed back; the work is still to do;
 * - `rejected`: the portal answered no; repeating the same thing will not help;
 * - `attention`: a person must act (re-install the app, fix credentials) before anything works;
 * - `closed`: the client was shut down.
 */
type FailureKind = 'unavailable' | 'rejected' | 'attention' | 'closed';

/**
 * What the whole portal's queue does when a request fails with the code:
 * - `slow-down`: the portal's bucket is full (other apps share it): fill ours, pause, growing;
 * - `refresh`: renew the access token and send again;
 * - `pause`: the portal or the way to it is failing: everyone waits, with growing pauses;
 * - `reinstall`: nothing can succeed until the app is installed again: fail what waits;
 * - `none`: only the operations of this request are concerned.
 */
type PortalReaction = 'slow-down' | 'refresh' | 'pause' | 'reinstall' | 'none';

interface ErrorRule {
  readonly retry: RetryRule;
  readonly kind: FailureKind;
  readonly portal: PortalReaction;
  /** The portal cannot be reached at all (rather than refusing this one thing): the link is down. */
  readonly linkDown: boolean;
  /** The portal says it ran nothing: repeating the request cannot do a thing twice. */
  readonly ranNothing: boolean;
}

const rule = (
  retry: RetryRule,
  kind: FailureKind,
  portal: PortalReaction,
  linkDown: boolean,
  ranNothing: boolean,
): ErrorRule => ({ retry, kind, portal, linkDown, ranNothing });

export const errorPolicy: Readonly<Record<ErrorCode, ErrorRule>> = {
  RATE_LIMITED: rule('wait', 'unavailable', 'slow-down', false, true),
  OPERATION_TIME_LIMIT: rule('wait', 'unavailable', 'none', false, true),
  TOKEN_EXPIRED: rule('wait', 'attention', 'refresh', false, true),
  // Refused credentials get one refresh inside the client; beyond that a repeat changes nothing.
  AUTH_FAILED: rule('never', 'attention', 'refresh', false, true),
  NEEDS_REINSTALL: rule('never', 'attention', 'reinstall', false, false),
  ACCESS_DENIED: rule('never', 'rejected', 'none', false, true),
  NETWORK: rule('attempt', 'unavailable', 'pause', true, false),
  TIMEOUT: rule('attempt', 'unavailable', 'pause', true, false),
  SERVER_ERROR: rule('attempt', 'unavailable', 'pause', true, false),
  BAD_RESPONSE: rule('attempt', 'unavailable', 'pause', true, false),
  PORTAL_ERROR: rule('never', 'rejected', 'none', false, false),
  DEPENDENCY_FAILED: rule('never', 'rejected', 'none', false, false),
  INVALID_REQUEST: rule('never', 'rejected', 'none', false, false),
  CLOSED: rule('never', 'closed', 'none', false, false),
};

/** The client's retry rule per code, as the table says (the client's policy may override some). */
export const retryRules = Object.fromEntries(
  Object.entries(errorPolicy).map(([code, r]) => [code, r.retry]),
) as Readonly<Record<ErrorCode, RetryRule>>;

/**
 * The row of an error, or null when the table does not know it (not a BitrixError, or a code it
 * has no row for). Structural rather than `instanceof`: a BitrixError from another copy of the
 * module still has its stable code.
 */
export function errorRule(error: unknown): ErrorRule | null {
  if (typeof error !== 'object' || error === null) return null;
  const { name, code } = error as { name?: unknown; code?: unknown };
  if (name !== 'BitrixError' || typeof code !== 'string') return null;
  return Object.hasOwn(errorPolicy, code) ? errorPolicy[code as ErrorCode] : null;
}

/** A failed dependency counts as what made it fail. */
function rootOf(e: BitrixError): BitrixError {
  let node = e;
  for (let depth = 0; depth < 16 && node.code === 'DEPENDENCY_FAILED'; depth++) {
    const cause = node.cause;
    if (errorRule(cause) === null) break;
    node = cause as BitrixError;
  }
  return node;
}

/** The kind of a final failure; a failed dependency counts as what made it fail. */
export const failureKind = (e: BitrixError): FailureKind => errorPolicy[rootOf(e).code].kind;

/** The failure says the portal cannot be reached (a failed dependency: as what made it fail). */
export const isLinkFailure = (e: BitrixError): boolean => errorPolicy[rootOf(e).code].linkDown;

/** The portal reported it before running anything: a repeat cannot do a thing twice. */
export const ranNothing = (e: BitrixError): boolean => errorPolicy[e.code].ranNothing;

/**
 * A finish refused with "Call is not found": the call we registered is gone, so an earlier finish
 * did arrive (its answer lost) or someone finished it. Either way the call is logged once.
 */
export const isCallNotFound = (e: BitrixError): boolean =>
  e.code === 'PORTAL_ERROR' && /call is not found/i.test(e.portalDescription ?? '');

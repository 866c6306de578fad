/**
 * The one error type of the Bitrix24 client. Callers branch on `code`, never on message text: the
 * code is stable, the message is for people. Modelled on undici's errors (a stable `code` per
 * failure kind, the original failure kept as `cause`).
 *
 * Messages never carry secrets: they are built from the method name and the portal's own
 * `error`/`error_description`, never from URLs, parameters or tokens.
 */

export const errorCodes = [
  /** The portal's leaky bucket is full (HTTP 503 QUERY_LIMIT_EXCEEDED). Nothing ran. */
  'RATE_LIMITED',
  /** The method's operating-time budget is spent (HTTP 429 OPERATION_TIME_LIMIT). Nothing ran. */
  'OPERATION_TIME_LIMIT',
  /** The access token is past its life (401 expired_token): refresh and repeat. Nothing ran. */
  'TOKEN_EXPIRED',
  /** The credentials are refused (401 NO_AUTH_FOUND, invalid_token, other OAuth errors). */
  'AUTH_FAILED',
  /** The OAuth server refused the refresh token or the app (invalid_grant/invalid_client). */
  'NEEDS_REINSTALL',
  /** The token is fine but lacks a right (403: insufficient_scope, WRONG_AUTH_TYPE, ACCESS_DENIED…). */
  'ACCESS_DENIED',
  /** No answer: refused, reset, DNS… `maybeDelivered` tells whether the portal may have acted. */
  'NETWORK',
  /** No answer within the request timeout; the portal may have acted. */
  'TIMEOUT',
  /** The portal or a proxy in front of it failed (5xx, OVERLOAD_LIMIT, an HTML error page). */
  'SERVER_ERROR',
  /** A 2xx answer that is not a Bitrix24 envelope. */
  'BAD_RESPONSE',
  /** The method answered with an error of its own (`portalError` / `portalDescription`). */
  'PORTAL_ERROR',
  /** An operation this one refers to (e.g. the register whose CALL_ID it needs) failed. */
  'DEPENDENCY_FAILED',
  /** The caller's parameters cannot be sent (e.g. no portal of that member id). */
  'INVALID_REQUEST',
  /** The client was closed before the operation completed. */
  'CLOSED',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

interface BitrixErrorOptions {
  /** HTTP status of the answer, when there was one. */
  status?: number | undefined;
  /** The portal's `error` field (may be an empty string: CRM methods use that). */
  portalError?: string | undefined;
  portalDescription?: string | undefined;
  /** The REST method (or `batch`) the error belongs to. */
  method?: string | undefined;
  memberId?: string | undefined;
  /**
   * True when the request may have reached the portal and been acted upon although no answer said
   * so (a reset connection, a timeout, a 500). Decides whether a non-repeat-safe operation may be
   * repeated, and lets a repeated finish read "Call is not found" as "already finished".
   */
  maybeDelivered?: boolean | undefined;
  cause?: unknown;
}

export class BitrixError extends Error {
  readonly code: ErrorCode;
  readonly status: number | undefined;
  readonly portalError: string | undefined;
  readonly portalDescription: string | undefined;
  readonly method: string | undefined;
  readonly memberId: string | undefined;
  readonly maybeDelivered: boolean;

  constructor(code: ErrorCode, message: string, options: BitrixErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BitrixError';
    this.code = code;
    this.status = options.status;
    this.portalError = options.portalError;
    this.portalDescription = options.portalDescription;
    this.method = options.method;
    this.memberId = options.memberId;
    this.maybeDelivered = options.maybeDelivered ?? false;
  }

  /** A copy attributed to one operation of a batch (the request-level error is its cause). */
  forMethod(method: string): BitrixError {
    return new BitrixError(this.code, `${method}: ${this.message}`, {
      status: this.status,
      portalError: this.portalError,
      portalDescription: this.portalDescription,
      method,
      memberId: this.memberId,
      maybeDelivered: this.maybeDelivered,
      cause: this,
    });
  }
}

export const isBitrixError = (e: unknown): e is BitrixError => e instanceof BitrixError;

/** Portal `error` values with a meaning of their own (spec §1.5, §5.4); the rest are PORTAL_ERROR. */
const portalCodes: Readonly<Record<string, ErrorCode>> = {
  QUERY_LIMIT_EXCEEDED: 'RATE_LIMITED',
  OPERATION_TIME_LIMIT: 'OPERATION_TIME_LIMIT',
  expired_token: 'TOKEN_EXPIRED',
  NO_AUTH_FOUND: 'AUTH_FAILED',
  invalid_token: 'AUTH_FAILED',
  insufficient_scope: 'ACCESS_DENIED',
  INVALID_CREDENTIALS: 'ACCESS_DENIED',
  ACCESS_DENIED: 'ACCESS_DENIED',
  user_access_error: 'ACCESS_DENIED',
  WRONG_AUTH_TYPE: 'ACCESS_DENIED',
  OVERLOAD_LIMIT: 'SERVER_ERROR',
  INTERNAL_SERVER_ERROR: 'SERVER_ERROR',
  ERROR_UNEXPECTED_ANSWER: 'SERVER_ERROR',
};

/** Turns a Bitrix24 error envelope into a BitrixError. */
export function portalError(
  method: string,
  envelope: { error: string; error_description?: string | undefined },
  status: number | undefined,
  memberId?: string,
): BitrixError {
  const code =
    portalCodes[envelope.error] ?? (status !== undefined && status >= 500 ? 'SERVER_ERROR' : 'PORTAL_ERROR');
  const description = envelope.error_description ?? '';
  const text = [envelope.error, description].filter((s) => s !== '').join(': ');
  return new BitrixError(code, `${method}: ${text || 'error without description'}`, {
    status,
    portalError: envelope.error,
    portalDescription: description,
    method,
    memberId,
    maybeDelivered: code === 'SERVER_ERROR' && envelope.error !== 'OVERLOAD_LIMIT' && status !== 503,
  });
}

/** Socket error codes raised before a request could leave: the portal cannot have seen it. */
const notSentCodes = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETDOWN',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Classifies what `fetch` threw: our timeout, our close, or a network failure. */
export function networkError(method: string, e: unknown, memberId?: string): BitrixError {
  const err = e as { name?: unknown; cause?: unknown };
  if (err.name === 'TimeoutError') {
    return new BitrixError('TIMEOUT', `${method}: no answer within the request timeout`, {
      method,
      memberId,
      maybeDelivered: true,
      cause: e,
    });
  }
  if (err.name === 'AbortError') {
    return new BitrixError('CLOSED', `${method}: the client was closed`, {
      method,
      memberId,
      maybeDelivered: true,
      cause: e,
    });
  }
  const code = causeCode(e);
  const sent = code === undefined || !notSentCodes.has(code);
  return new BitrixError('NETWORK', `${method}: network failure${code ? ` (${code})` : ''}`, {
    method,
    memberId,
    maybeDelivered: sent,
    cause: e,
  });
}

function causeCode(e: unknown): string | undefined {
  let node: unknown = e;
  for (let depth = 0; depth < 4 && typeof node === 'object' && node !== null; depth++) {
    const code = (node as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    node = (node as { cause?: unknown }).cause;
  }
  return undefined;
}

// What each code means for retries, the portal's queue and the outbox: one table.

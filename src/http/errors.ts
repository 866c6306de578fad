/**
 * The error every room that answers HTTP requests throws when a request cannot be served: a
 * stable code, the status that tells the caller what to do, and (for 429) when to try again.
 * The server's one error handler turns it into the answer.
 */
/** An error of the server itself (no portal yet, a bad install callback) with its own status. */
export class ServerError extends Error {
  readonly code: string;
  readonly status: number;
  /** For 429: when the caller may try again. */
  readonly retryAfterSec: number | undefined;

  constructor(
    code: string,
    status: number,
    message: string,
    options: { cause?: unknown; retryAfterSec?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ServerError';
    this.code = code;
    this.status = status;
    this.retryAfterSec = options.retryAfterSec;
  }
}

/**
 * A Bitrix24 REST error as the portal reports it: HTTP status plus the `error` /
 * `error_description` pair of the error envelope (spec §1.4).
 */
export class RestError extends Error {
  readonly status: number;
  readonly error: string;
  readonly description: string;

  constructor(status: number, error: string, description: string) {
    super(`${error}: ${description}`);
    this.name = 'RestError';
    this.status = status;
    this.error = error;
    this.description = description;
  }
}

/** Method-level errors of the telephony module are ERROR_CORE with HTTP 400 (spec §1.4). */
export const core = (description: string): RestError => new RestError(400, 'ERROR_CORE', description);

export const errors = {
  noAuth: () => new RestError(401, 'NO_AUTH_FOUND', 'Wrong authorization data'),
  expiredToken: () => new RestError(401, 'expired_token', 'The access token provided has expired.'),
  insufficientScope: () =>
    new RestError(
      403,
      'insufficient_scope',
      'The request requires higher privileges than provided by the webhook token',
    ),
  wrongAuthType: () =>
    new RestError(403, 'WRONG_AUTH_TYPE', 'Current authorization type is denied for this method'),
  methodNotFound: () => new RestError(404, 'ERROR_METHOD_NOT_FOUND', 'Method not found!'),
  queryLimit: () => new RestError(503, 'QUERY_LIMIT_EXCEEDED', 'Too many requests'),
  operationTimeLimit: () =>
    new RestError(429, 'OPERATION_TIME_LIMIT', 'Method is blocked due to operation time limit'),
  internal: () => new RestError(500, 'INTERNAL_SERVER_ERROR', 'Internal server error'),
  invalidRequest: (description: string) => new RestError(400, 'INVALID_REQUEST', description),
  batchMethodNotAllowed: () =>
    new RestError(405, 'ERROR_BATCH_METHOD_NOT_ALLOWED', 'Method is not allowed for batch usage'),
  batchLengthExceeded: () => new RestError(400, 'ERROR_BATCH_LENGTH_EXCEEDED', 'Max batch length exceeded'),
  accessDenied: (description: string) => new RestError(403, 'ACCESS_DENIED', description),
} as const;

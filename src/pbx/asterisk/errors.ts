/**
 * Failures of the AMI link. Callers branch on `code`; messages never carry the AMI secret. Command
 * failures leave the adapter as a `PbxError` (the code every adapter shares) with one of these as
 * its `cause`, so a log still says what the AMI said.
 */

/** @public Every code an AMI error may carry. */
export const amiErrorCodes = [
  /** TCP connect failed or the peer is not an Asterisk manager (no banner). */
  'AMI_CONNECT_FAILED',
  /** Asterisk refused the username or secret. */
  'AMI_LOGIN_FAILED',
  /** The link dropped while an action waited for its answer. */
  'AMI_CONNECTION_LOST',
  /** No link right now (reconnecting): the action was not sent. */
  'AMI_NOT_CONNECTED',
  /** The action was answered `Response: Error` (or `Failure`). */
  'AMI_ACTION_FAILED',
  /** No answer in time; Asterisk may still have acted. */
  'AMI_ACTION_TIMEOUT',
  /** The client was closed. */
  'AMI_CLOSED',
] as const;

type AmiErrorCode = (typeof amiErrorCodes)[number];

export class AmiError extends Error {
  readonly code: AmiErrorCode;
  /** The action concerned, when there is one (`Originate`, `Redirect`…). */
  readonly action: string | undefined;

  constructor(code: AmiErrorCode, message: string, options: { action?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AmiError';
    this.code = code;
    this.action = options.action;
  }
}

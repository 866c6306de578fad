/**
 * Failures of an adapter while carrying out a command or talking to its PBX. Callers branch on
 * `code`; the message is for people and never carries tokens or command URLs' secrets.
 */

export const pbxErrorCodes = [
  /** The PBX could not be reached (refused, reset, DNS, AMI link down). */
  'PBX_UNREACHABLE',
  /** The PBX answered but refused the command (unknown call, busy extension, 4xx). */
  'COMMAND_REJECTED',
  /** No answer in time; the PBX may have acted, so only a repeat-safe command may be repeated. */
  'COMMAND_TIMEOUT',
  /** The adapter was stopped before the command completed. */
  'ADAPTER_STOPPED',
  /** This adapter cannot carry out this kind of command. */
  'NOT_SUPPORTED',
] as const;

export type PbxErrorCode = (typeof pbxErrorCodes)[number];

export class PbxError extends Error {
  readonly code: PbxErrorCode;
  readonly pbxId: string | undefined;
  readonly commandId: string | undefined;

  constructor(
    code: PbxErrorCode,
    message: string,
    options: { pbxId?: string | undefined; commandId?: string | undefined; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PbxError';
    this.code = code;
    this.pbxId = options.pbxId;
    this.commandId = options.commandId;
  }
}

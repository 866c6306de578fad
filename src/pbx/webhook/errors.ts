/**
 * The one error type of the generic PBX API's request parsing. The server maps `code` to an HTTP
 * status with `httpStatusOf` and answers `{error: {code, path, message}}`. Codes are part of the
 * public contract: a PBX integrator branches on them, so they never change meaning.
 *
 * Messages name the field and what was expected; they quote at most a short, escaped event type,
 * never a token and never recording content.
 */

export const pbxApiErrorCodes = [
  /** The body is not valid JSON (or not UTF-8). */
  'MALFORMED_JSON',
  /** The body is over the size limit (1 MiB by default). */
  'BODY_TOO_LARGE',
  /** A batch holds more events than the limit. */
  'TOO_MANY_EVENTS',
  /** The body is JSON but not the expected shape at its root (e.g. a string instead of an event). */
  'INVALID_BODY',
  /** An event whose `type` is not one of the API's event types. */
  'UNKNOWN_EVENT_TYPE',
  /** A required field is absent. */
  'MISSING_FIELD',
  /** A field holds the wrong JSON type (a number where a string belongs, null where a list belongs). */
  'WRONG_TYPE',
  /** A field has the right type but a value the API does not accept (empty, too long, bad date, bad URL). */
  'INVALID_VALUE',
  /** `contentBase64` decodes to more bytes than the recording size limit. */
  'RECORDING_TOO_LARGE',
  /** A recording could not be stored; nothing of the request was applied and it may be repeated. */
  'RECORDING_NOT_STORED',
  /** The bearer token is missing or matches no PBX. */
  'UNAUTHORIZED',
  /** An acknowledgement names a command that was never sent to this PBX. */
  'UNKNOWN_COMMAND',
  /** An inline recording for a call the bridge does not know: nothing stored; send the call first. */
  'UNKNOWN_CALL',
] as const;

export type PbxApiErrorCode = (typeof pbxApiErrorCodes)[number];

/** Where in the request the problem is. */
export type ProblemLocation = 'body' | 'path' | 'query' | 'header';

/** One problem of a request; a refused request lists each it found (up to a cap). */
export interface Problem {
  readonly code: PbxApiErrorCode;
  /** A JSON pointer into the location: `/0/extensions/1` in a batch, `/callId` in a single event, `` for the root. */
  readonly path: string;
  readonly location: ProblemLocation;
  readonly message: string;
}

const statusByCode: Record<PbxApiErrorCode, number> = {
  MALFORMED_JSON: 400,
  BODY_TOO_LARGE: 413,
  TOO_MANY_EVENTS: 413,
  INVALID_BODY: 400,
  UNKNOWN_EVENT_TYPE: 400,
  MISSING_FIELD: 400,
  WRONG_TYPE: 400,
  INVALID_VALUE: 400,
  RECORDING_TOO_LARGE: 413,
  RECORDING_NOT_STORED: 503,
  UNAUTHORIZED: 401,
  UNKNOWN_COMMAND: 404,
  UNKNOWN_CALL: 409,
};

export function httpStatusOf(code: PbxApiErrorCode): number {
  return statusByCode[code];
}

export class PbxApiError extends Error implements Problem {
  readonly code: PbxApiErrorCode;
  readonly path: string;
  readonly location: ProblemLocation;
  /** Every problem found, this one first. */
  readonly problems: readonly Problem[];

  constructor(problems: readonly [Problem, ...Problem[]], options: { cause?: unknown } = {}) {
    const [first] = problems;
    super(first.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PbxApiError';
    this.code = first.code;
    this.path = first.path;
    this.location = first.location;
    this.problems = problems;
  }

  get status(): number {
    return httpStatusOf(this.code);
  }

  /** The JSON body of the error answer. */
  toJSON(): { error: Problem & { problems: readonly Problem[] } } {
    const { code, path, location, message, problems } = this;
    return { error: { code, path, location, message, problems } };
  }
}

export function problem(
  code: PbxApiErrorCode,
  path: string,
  message: string,
  location: ProblemLocation = 'body',
): Problem {
  return { code, path, location, message };
}

/** A parse either yields a typed value or a typed error; it never throws. */
export type Parsed<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: PbxApiError };

export function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

export function refuse(first: Problem, ...rest: Problem[]): Parsed<never> {
  return { ok: false, error: new PbxApiError([first, ...rest]) };
}

/** A refusal listing `problems`, at most `max` of them. */
export function refuseAll(problems: readonly Problem[], max = 20): Parsed<never> {
  const [first, ...rest] = problems.slice(0, max);
  // A failed zod parse always has an issue; the fallback only keeps this total.
  return refuse(first ?? problem('INVALID_BODY', '', 'body: not accepted'), ...rest);
}

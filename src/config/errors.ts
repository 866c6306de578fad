/**
 * A configuration the bridge refuses to start with. The message lists every problem, one a line,
 * each naming its key (and the environment variable it came from); it never holds a value, since
 * any value may be a secret.
 */

/** @public Every code a configuration error may carry. */
export const configErrorCodes = [
  /** The configuration file could not be read. */
  'CONFIG_FILE_UNREADABLE',
  /** The configuration file's extension names no format the bridge reads (.yaml, .yml, .json). */
  'CONFIG_FILE_TYPE',
  /** The configuration file is not valid YAML or JSON (as its extension says). */
  'CONFIG_FILE_MALFORMED',
  /** One or more keys have values the bridge cannot run with. */
  'CONFIG_INVALID',
] as const;

type ConfigErrorCode = (typeof configErrorCodes)[number];

export interface ConfigProblem {
  /** `engine.lines[1].routing.queue.members[0]`; empty for the whole document. */
  readonly key: string;
  /** The environment variable the value came from, when it did. */
  readonly envVar?: string;
  readonly message: string;
}

export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  readonly problems: readonly ConfigProblem[];

  constructor(
    code: ConfigErrorCode,
    problems: readonly ConfigProblem[],
    options: { source?: string; cause?: unknown } = {},
  ) {
    const lines = problems.map(
      (p) =>
        `  - ${p.key === '' ? '(the whole document)' : p.key}${p.envVar === undefined ? '' : ` (from ${p.envVar})`}: ${p.message}`,
    );
    const from = options.source === undefined ? '' : ` (${options.source})`;
    super(
      [`Invalid configuration${from}:`, ...lines].join('\n'),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'ConfigError';
    this.code = code;
    this.problems = problems;
  }
}

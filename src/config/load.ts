/** Reading and checking the configuration at start: the file, then the environment over it. */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { applyEnv, CONFIG_FILE_VARIABLE } from './env.ts';
import { ConfigError, type ConfigProblem } from './errors.ts';
import { configSchema, type BridgeConfig } from './schema.ts';

type Env = Readonly<Record<string, string | undefined>>;

export type ConfigResult =
  | { readonly ok: true; readonly config: BridgeConfig; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly error: ConfigError };

/** `engine.lines[1].routing.queue.members[0]` */
function keyOf(path: readonly PropertyKey[]): string {
  return path
    .map((step, index) =>
      typeof step === 'number' ? `[${step}]` : `${index === 0 ? '' : '.'}${String(step)}`,
    )
    .join('');
}

const absent = Symbol('absent');

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value: unknown = root;
  for (const step of path) {
    if (
      typeof value !== 'object' ||
      value === null ||
      typeof step === 'symbol' ||
      !Object.hasOwn(value, step)
    )
      return absent;
    value = (value as Record<PropertyKey, unknown>)[step];
  }
  return value;
}

/** zod's issues as lines an operator can act on. zod never quotes an input here, nor do we. */
function problemsOf(
  issues: readonly z.core.$ZodIssue[],
  document: unknown,
  sources: ReadonlyMap<string, string>,
) {
  return issues.flatMap((issue): ConfigProblem[] => {
    if (issue.code === 'unrecognized_keys')
      return issue.keys.map((key) => ({
        key: keyOf([...issue.path, key]),
        message: 'unknown key (a typo?); remove it or check the spelling',
      }));
    const key = keyOf(issue.path);
    const missing = issue.code === 'invalid_type' && valueAt(document, issue.path) === absent;
    const envVar = sources.get(key);
    const message = missing ? `required: ${issue.message}` : issue.message;
    return [envVar === undefined ? { key, message } : { key, envVar, message }];
  });
}

/** Checks a configuration document (the parsed file, or `{}`) with `env` applied over it. */
export function parseConfig(document: unknown, env: Env = {}): ConfigResult {
  if (
    document !== undefined &&
    (typeof document !== 'object' || document === null || Array.isArray(document))
  )
    return {
      ok: false,
      error: new ConfigError('CONFIG_INVALID', [
        { key: '', message: 'expected an object of settings (a YAML mapping or a JSON object)' },
      ]),
    };
  const { document: merged, sources, warnings } = applyEnv(document ?? {}, env);
  const result = configSchema.safeParse(merged);
  if (!result.success)
    return {
      ok: false,
      error: new ConfigError('CONFIG_INVALID', problemsOf(result.error.issues, merged, sources)),
    };
  const config = result.data;
  const engine = isObject(document) ? document.engine : undefined;
  const allWarnings = [...warnings];
  if (!isObject(engine) || !Object.hasOwn(engine, 'lines'))
    allWarnings.push(
      'engine.lines is not set: the demo lines "Sales" (+74950000001) and "Support" (+74950000002) apply',
    );
  return { ok: true, config, warnings: allWarnings };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The formats a configuration file may be in, by its extension. */
const configFileFormats: Readonly<Record<string, 'yaml' | 'json'>> = {
  '.yaml': 'yaml',
  '.yml': 'yaml',
  '.json': 'json',
};

/**
 * The file's text as a document, in the format its extension names. A syntax error is reported
 * by position only: a parser's message may quote the file, secrets and all.
 */
function parseDocument(file: string, text: string): unknown {
  const format = configFileFormats[extname(file).toLowerCase()];
  if (format === undefined)
    throw new ConfigError(
      'CONFIG_FILE_TYPE',
      [{ key: '', message: 'expected a .yaml, .yml or .json file (the extension says which format it is)' }],
      { source: file },
    );
  if (format === 'json') {
    try {
      return JSON.parse(text);
    } catch (cause) {
      const position = cause instanceof Error ? /position (\d+)/.exec(cause.message)?.[1] : undefined;
      throw new ConfigError(
        'CONFIG_FILE_MALFORMED',
        [{ key: '', message: `not valid JSON${position === undefined ? '' : ` (at position ${position})`}` }],
        { source: file, cause },
      );
    }
  }
  try {
    // YAML 1.2's core schema: plain JSON-like values, no custom tags; duplicate keys are errors.
    // An empty file (or comments only) is an empty mapping: the problems then name what is missing.
    return (parseYaml(text, { schema: 'core', maxAliasCount: 100 }) as unknown) ?? {};
  } catch (cause) {
    const at = cause instanceof YAMLParseError ? cause.linePos?.[0] : undefined;
    // The reason without the excerpt of the file that follows "at line …".
    const reason = cause instanceof Error ? (cause.message.split(/ at line \d+/)[0] ?? '').slice(0, 120) : '';
    throw new ConfigError(
      'CONFIG_FILE_MALFORMED',
      [
        {
          key: '',
          message: `not valid YAML${at === undefined ? '' : ` (line ${at.line}, column ${at.col})`}${reason === '' ? '' : `: ${reason}`}`,
        },
      ],
      { source: file, cause },
    );
  }
}

export interface LoadOptions {
  /** YAML or JSON (by extension); default `$B24_BRIDGE_CONFIG`; none: defaults and the environment only. */
  readonly file?: string;
  readonly env?: Env;
  readonly readFile?: (path: string) => string;
}

/** At start: reads, merges, checks. Throws `ConfigError` with every problem listed. */
export function loadConfig(options: LoadOptions = {}): { config: BridgeConfig; warnings: readonly string[] } {
  const env = options.env ?? process.env;
  const file = options.file ?? env[CONFIG_FILE_VARIABLE];
  let document: unknown = undefined;
  if (file !== undefined) {
    let text: string;
    try {
      text = (options.readFile ?? ((path) => readFileSync(path, 'utf8')))(file);
    } catch (cause) {
      throw new ConfigError('CONFIG_FILE_UNREADABLE', [{ key: '', message: `cannot read ${file}` }], {
        source: file,
        cause,
      });
    }
    document = parseDocument(file, text);
  }
  const result = parseConfig(document, env);
  if (!result.ok) {
    const source = [file, 'environment'].filter((s) => s !== undefined).join(', ');
    throw new ConfigError(result.error.code, result.error.problems, { source });
  }
  return { config: result.config, warnings: result.warnings };
}

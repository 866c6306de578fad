/** Reading and checking the configuration at start: the file, then the environment over it. */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { applyEnv, CONFIG_FILE_VARIABLE } from './env.ts';
import { ConfigError, type ConfigProblem } from './errors.ts';
import { configSchema, type BridgeConfig } from './schema.ts';

type Env = Readonly<Record<string, string | undefined>>;

export type ConfigResult =
  | { readonly ok: true; readonly config: BridgeConfig; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly error: ConfigError };

/** `engine.lines[1].routing.queue.members[0]` */
export function keyOf(path: readonly PropertyKey[]): string {
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
      error: new ConfigError('CONFIG_INVALID', [{ key: '', message: 'expected a JSON object of settings' }]),
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

export interface LoadOptions {
  /** The JSON file; default `$B24_BRIDGE_CONFIG`; none: defaults and the environment only. */
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
    try {
      document = JSON.parse(text);
    } catch (cause) {
      // Only the position: V8's message may quote the file, secrets and all.
      const position = cause instanceof Error ? /position (\d+)/.exec(cause.message)?.[1] : undefined;
      throw new ConfigError(
        'CONFIG_FILE_MALFORMED',
        [{ key: '', message: `not valid JSON${position === undefined ? '' : ` (at position ${position})`}` }],
        { source: file, cause },
      );
    }
  }
  const result = parseConfig(document, env);
  if (!result.ok) {
    const source = [file, 'environment'].filter((s) => s !== undefined).join(', ');
    throw new ConfigError(result.error.code, result.error.problems, { source });
  }
  return { config: result.config, warnings: result.warnings };
}

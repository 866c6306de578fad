/**
 * Which keys hold secrets, read off the schema's `secret()` marks, so a new secret field is
 * redacted the day it is added. Paths use `[]` for "every element": `pbx[].token`.
 */
import { z } from 'zod';
import { configSchema, type BridgeConfig } from './schema.ts';

type JsonSchema = { [key: string]: unknown };

function isObject(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function collect(schema: unknown, path: string, out: Set<string>): void {
  if (!isObject(schema)) return;
  if (schema.secret === true) out.add(path);
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    const options = schema[key];
    if (Array.isArray(options)) for (const option of options) collect(option, path, out);
  }
  if (isObject(schema.properties))
    for (const [name, child] of Object.entries(schema.properties))
      collect(child, path === '' ? name : `${path}.${name}`, out);
  if (schema.items !== undefined) collect(schema.items, `${path}[]`, out);
}

/** The configuration as JSON Schema (for editors: `"$schema"` in the file). */
export function configJsonSchema(): JsonSchema {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
}

export const secretPaths: readonly string[] = (() => {
  const out = new Set<string>();
  collect(z.toJSONSchema(configSchema, { io: 'output', unrepresentable: 'any' }), '', out);
  return [...out].sort();
})();

/** Environment variables that carry secrets; a process dump or a log of the environment must skip them. */
export const secretEnvPattern =
  /^B24_BRIDGE_(BITRIX_CLIENT_SECRET|BITRIX_WEBHOOK_URL|POSTGRES_URL|ADMIN_TOKEN|ADMIN_PASSWORD|STORE_KEY|PBX_[A-Z0-9_]+_(TOKEN|AMI_SECRET|COMMAND_URL))$/;

const REDACTED = '[redacted]';

function redactAt(value: unknown, steps: readonly string[]): unknown {
  const [step, ...rest] = steps;
  if (step === undefined) return value === undefined ? undefined : REDACTED;
  if (step === '[]') return Array.isArray(value) ? value.map((item: unknown) => redactAt(item, rest)) : value;
  if (!isObject(value) || !(step in value)) return value;
  return { ...value, [step]: redactAt(value[step], rest) };
}

/** A copy fit to print: every secret replaced by `[redacted]`. */
export function redactConfig(config: BridgeConfig): unknown {
  let out: unknown = config;
  for (const path of secretPaths) out = redactAt(out, path.replace(/\[\]/g, '.[]').split('.'));
  return out;
}

/**
 * `npm run docs:config`: the configuration reference, `docs/configuration.md`, and the JSON
 * Schema editors read, `docs/config.schema.json`, both generated from the one schema
 * (`src/config/schema.ts`, its `.describe()` texts and defaults). Run it after changing the
 * schema; `test/docs/config-reference.test.ts` fails while the files in the repository are stale.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { configJsonSchema, envVariables } from '../src/config/index.ts';

type Schema = Record<string, unknown>;

export const referencePath = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));
export const schemaPath = fileURLToPath(new URL('../docs/config.schema.json', import.meta.url));

const isObject = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A default this long goes below its table, whole, instead of into the table's cell. */
const LONG_DEFAULT = 60;

export interface KeyRow {
  key: string;
  type: string;
  default: string;
  description: string;
}

interface Section {
  name: string;
  description: string;
  rows: KeyRow[];
  longDefaults: { key: string; value: unknown }[];
}

/** Outside code spans: URLs become code (they are examples, not links), `<` is escaped. */
const outsideCode = (text: string, change: (part: string) => string): string =>
  text
    .split('`')
    .map((part, i) => (i % 2 === 1 ? part : change(part)))
    .join('`');

/** `|` would end a table cell, `<` outside a code span would open an HTML tag. */
const cell = (text: string): string =>
  outsideCode(
    outsideCode(text.replace(/\n/g, ' '), (part) =>
      part.replace(/https?:\/\/[^\s,;)]+?(?=[.:]?(?:\s|$|[,;)]))/g, (url) => `\`${url}\``),
    ),
    (part) => part.replace(/</g, '&lt;'),
  ).replace(/\|/g, '\\|');
const code = (text: string): string => `\`${text}\``;

function typeOf(s: Schema): string {
  if (s.const !== undefined) return code(JSON.stringify(s.const));
  if (Array.isArray(s.enum)) return s.enum.map((v) => code(JSON.stringify(v))).join(' \\| ');
  const anyOf = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (Array.isArray(anyOf)) {
    const kinds = anyOf.map((o) => discriminatorOf(o));
    if (kinds.every((k) => k !== undefined)) return 'one of the kinds below';
    return anyOf.map(typeOf).join(', or ');
  }
  switch (s.type) {
    case 'array':
      return `list of ${isObject(s.items) ? plural(typeOf(s.items)) : 'values'}`;
    case 'integer':
    case 'number': {
      const whole = s.type === 'integer';
      const word = whole ? 'whole number' : 'number';
      const bound = (v: unknown): number | undefined =>
        typeof v === 'number' && Math.abs(v) < Number.MAX_SAFE_INTEGER ? v : undefined;
      const exclusive = bound(s.exclusiveMinimum);
      const min = bound(s.minimum) ?? (whole && exclusive !== undefined ? exclusive + 1 : undefined);
      const max = bound(s.maximum);
      if (min !== undefined && max !== undefined) return `${word}, ${String(min)}–${String(max)}`;
      if (min !== undefined) return `${word} ≥ ${String(min)}`;
      if (exclusive !== undefined) return `${word} > ${String(exclusive)}`;
      return word;
    }
    case 'string':
      return s.format === 'uri' ? 'URL' : 'string';
    case 'boolean':
      return '`true` \\| `false`';
    case 'object':
      return 'object';
    case 'null':
      return '`null`';
    default:
      return Array.isArray(s.type) ? s.type.join(' or ') : 'any';
  }
}

const plural = (type: string): string =>
  type === 'object' ? 'objects' : type === 'string' ? 'strings' : type.startsWith('`') ? type : `${type}s`;

/** The `kind`/`mode` constant that tells a union's variants apart, if it has one. */
function discriminatorOf(s: Schema): { key: string; value: unknown } | undefined {
  if (!isObject(s.properties)) return undefined;
  for (const [key, prop] of Object.entries(s.properties))
    if (isObject(prop) && prop.const !== undefined) return { key, value: prop.const };
  return undefined;
}

/** The environment variables that set a key (`pbx[].token` by its PBX's id). */
function envOf(key: string): string[] {
  const named = Object.entries(envVariables)
    .filter(([, v]) => v.key === key)
    .map(([name]) => name);
  if (key === 'pbx[].token') named.push('B24_BRIDGE_PBX_<ID>_TOKEN');
  if (key === 'pbx[].ami.secret') named.push('B24_BRIDGE_PBX_<ID>_AMI_SECRET');
  if (key === 'pbx[].commandUrl') named.push('B24_BRIDGE_PBX_<ID>_COMMAND_URL');
  if (key === 'store.url') named.push('DATABASE_URL');
  return named;
}

function describeRow(
  key: string,
  s: Schema,
  required: boolean,
  section: Section,
  type?: string,
  label?: string,
): void {
  const notes: string[] = [];
  if (required) notes.push('**required**');
  if (s.secret === true) notes.push('secret');
  const env = envOf(key);
  const description = [
    typeof s.description === 'string' ? s.description : '',
    env.length === 0
      ? ''
      : s.secret === true
        ? `A secret: better set through ${env.map(code).join(' or ')} than in the file.`
        : `Environment: ${env.map(code).join(', ')}.`,
  ]
    .filter((t) => t !== '')
    .join(' ');
  let shown = '';
  if (s.default !== undefined) {
    const json = JSON.stringify(s.default);
    if (json.length > LONG_DEFAULT) {
      shown = 'below the table';
      section.longDefaults.push({ key, value: s.default });
    } else shown = code(json);
  }
  section.rows.push({
    key: label ?? key,
    type: [type ?? typeOf(s), ...notes].join(', '),
    default: shown,
    description,
  });
}

/** A subtree's shape without its own description and default: two keys with it are alike. */
function shapeOf(s: Schema): string {
  const { description: _d, default: _v, ...shape } = s;
  return JSON.stringify(shape);
}

/** Rows for `s` at `key` and everything below it; a subtree documented before is referred to. */
function walk(key: string, s: Schema, required: boolean, section: Section): void {
  const variants = (s.oneOf ?? s.anyOf) as Schema[] | undefined;
  const union = Array.isArray(variants) && variants.every((v) => discriminatorOf(v) !== undefined);
  const nested = union || (s.type === 'object' && isObject(s.properties));
  const shape = shapeOf(s);
  const seen = nested ? documented.get(shape) : undefined;
  if (seen !== undefined) {
    const as = seen === key ? 'above' : code(seen);
    describeRow(key, s, required, section, `${union ? 'one of the kinds of' : 'object, as'} ${as}`);
    return;
  }
  if (nested) documented.set(shape, key);
  if (union) {
    describeRow(key, s, required, section);
    for (const variant of variants) {
      const d = discriminatorOf(variant);
      if (d === undefined) continue;
      const label = `${code(key)} with ${code(`${d.key}: ${JSON.stringify(d.value)}`)}`;
      describeRow(key, variant, false, section, 'object', label);
      walkProperties(key, variant, section, d.key);
    }
    return;
  }
  if (key !== '') describeRow(key, s, required, section);
  if (s.type === 'object') walkProperties(key, s, section);
  if (s.type === 'array' && isObject(s.items)) {
    const items = s.items;
    // The list's row says what its items are; their keys follow as `key[].name`.
    if (items.type === 'object') walkProperties(`${key}[]`, items, section);
    else if (Array.isArray(items.oneOf) || Array.isArray(items.anyOf))
      walk(`${key}[]`, items, false, section);
  }
}

function walkProperties(key: string, s: Schema, section: Section, skip?: string): void {
  if (!isObject(s.properties)) return;
  const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
  for (const [name, child] of Object.entries(s.properties)) {
    if (name === skip || !isObject(child)) continue;
    walk(
      key === '' ? name : `${key}.${name}`,
      child,
      required.has(name) && child.default === undefined,
      section,
    );
  }
}

/** Subtrees already documented, by shape → the key they were documented at. */
let documented = new Map<string, string>();

/** Every key of the configuration, section by section (the top-level keys). */
export function configSections(): Section[] {
  documented = new Map();
  const root = configJsonSchema();
  const required = new Set(Array.isArray(root.required) ? (root.required as string[]) : []);
  const sections: Section[] = [];
  for (const [name, child] of Object.entries(isObject(root.properties) ? root.properties : {})) {
    if (!isObject(child)) continue;
    const section: Section = {
      name,
      description: typeof child.description === 'string' ? child.description : '',
      rows: [],
      longDefaults: [],
    };
    walk(name, child, required.has(name) && child.default === undefined, section);
    sections.push(section);
  }
  return sections;
}

/** Keys without a description: the reference would have a hole there. */
export function undescribedKeys(): string[] {
  return configSections().flatMap((s) => s.rows.filter((r) => r.description === '').map((r) => r.key));
}

const intro = `<!-- Generated by \`npm run docs:config\` from src/config/schema.ts: change the schema's
.describe() texts and defaults, then run it again; a test fails while this file is stale. -->

# Configuration reference

The bridge reads one configuration file, **YAML** (\`.yaml\`, \`.yml\`) or **JSON** (\`.json\`), by its
extension: \`b24-bridge serve --config FILE\`, or the file named by \`B24_BRIDGE_CONFIG\`. The
\`B24_BRIDGE_*\` environment variables below are applied over it and win; secrets belong there (or
in a secret store that fills them), not in a file beside the code.

- Every key has a default unless it says **required**; a file only says what differs. Objects
  are strict: an unknown key is refused as a likely typo.
- \`b24-bridge check --config FILE\` validates a file and then tries what it names (the store, the
  portals' tokens and rights, the public URL, the AMI login); \`b24-bridge config show --config FILE\`
  prints the configuration as the bridge reads it (defaults filled in, secrets redacted).
- Editors complete and check keys from the JSON Schema: [\`config.schema.json\`](config.schema.json)
  (also printed by \`b24-bridge config schema\`). In YAML:
  \`# yaml-language-server: $schema=<path to>/config.schema.json\`; in JSON: \`"$schema": "<path to>/config.schema.json"\`.
- Commented examples for the usual setups are in [\`examples/\`](../examples/README.md).
- A value is never quoted in an error message (any value may be a secret): the message names the
  key, and the variable when the value came from the environment.

Where a key belongs to one kind of a section (\`store\` with \`kind: "postgres"\`, say), its row
follows that kind's row. A part that has the same keys as one described before (\`portals[].engine\`
and \`engine\`, say) says so instead of repeating them.
`;

function environmentSection(): string {
  const rows = Object.entries(envVariables).map(([name, v]) => `| ${code(name)} | ${code(v.key)} |`);
  return [
    '## Environment variables',
    '',
    '| variable | sets |',
    '| --- | --- |',
    ...rows,
    `| ${code('B24_BRIDGE_PBX_<ID>_TOKEN')} | ${code('pbx[].token')} of the PBX with that id (upper case, \`-\` as \`_\`); a PBX not in the file is added |`,
    `| ${code('B24_BRIDGE_PBX_<ID>_AMI_SECRET')} | ${code('pbx[].ami.secret')} of the Asterisk PBX with that id |`,
    `| ${code('B24_BRIDGE_PBX_<ID>_COMMAND_URL')} | ${code('pbx[].commandUrl')} of the PBX with that id |`,
    `| ${code('DATABASE_URL')} | ${code('store')}: PostgreSQL at that URL, when neither the file nor a \`B24_BRIDGE_*\` variable names a store |`,
    `| ${code('B24_BRIDGE_CONFIG')} | the configuration file, when \`--config\` is not given |`,
    `| ${code('B24_BRIDGE_STORE_KEY')} | not a setting: 32 bytes (base64) that seal the portals' tokens in the store (AES-256-GCM); \`openssl rand -base64 32\` |`,
    '',
    'A `B24_BRIDGE_*` variable that is none of these is reported as a warning at start.',
  ].join('\n');
}

function sectionText(section: Section): string {
  const lines = [`## \`${section.name}\``, '', section.description, ''];
  lines.push('| key | type | default | what |', '| --- | --- | --- | --- |');
  for (const r of section.rows)
    lines.push(
      `| ${r.key.includes('`') ? r.key : code(r.key)} | ${r.type} | ${r.default} | ${cell(r.description)} |`,
    );
  for (const d of section.longDefaults)
    lines.push('', `The default of \`${d.key}\`:`, '', '```json', JSON.stringify(d.value, null, 2), '```');
  return lines.join('\n');
}

/** The whole of docs/configuration.md, formatted as the repository's Prettier formats it. */
export async function configReference(): Promise<string> {
  const text = [intro, environmentSection(), ...configSections().map(sectionText)].join('\n\n');
  return format(text, { ...(await resolveConfig(referencePath)), filepath: referencePath });
}

/** docs/config.schema.json. */
export async function configSchemaFile(): Promise<string> {
  return format(JSON.stringify(configJsonSchema()), {
    ...(await resolveConfig(schemaPath)),
    filepath: schemaPath,
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const missing = undescribedKeys();
  writeFileSync(referencePath, await configReference());
  writeFileSync(schemaPath, await configSchemaFile());
  console.log(`wrote ${referencePath} and ${schemaPath}`);
  if (missing.length > 0) {
    console.error(`these keys have no description yet (add .describe() in src/config/schema.ts):`);
    for (const key of missing) console.error(`  ${key}`);
    process.exitCode = 1;
  }
}

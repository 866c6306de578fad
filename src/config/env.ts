/**
 * Settings from the environment, which win over the file: secrets belong in the environment (or a
 * secret store that fills it), not in a file next to the code. Each variable names one key.
 */

const ENV_PREFIX = 'B24_BRIDGE_';

type Doc = Record<string, unknown>;
type Env = Readonly<Record<string, string | undefined>>;

function isRecord(value: unknown): value is Doc {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object at `key`, made (or replaced) so that its `tag` field is `value`; other fields kept when the tag agrees. */
function tagged(doc: Doc, key: string, tag: string, value: string, keep: readonly string[] = []): Doc {
  const current = doc[key];
  if (isRecord(current) && (current[tag] === undefined || current[tag] === value)) {
    current[tag] = value;
    return current;
  }
  const fresh: Doc = { [tag]: value };
  if (isRecord(current)) for (const field of keep) if (field in current) fresh[field] = current[field];
  doc[key] = fresh;
  return fresh;
}

function object(doc: Doc, key: string): Doc {
  const current = doc[key];
  if (isRecord(current)) return current;
  const fresh: Doc = {};
  doc[key] = fresh;
  return fresh;
}

/** Whole numbers become numbers; anything else stays text so the schema names the key. */
const number = (text: string): string | number => (/^\d{1,9}$/.test(text) ? Number(text) : text);

interface Variable {
  /** The configuration key, for messages. */
  readonly key: string;
  readonly apply: (doc: Doc, value: string) => void;
}

export const envVariables: Readonly<Record<string, Variable>> = {
  B24_BRIDGE_HOST: { key: 'server.host', apply: (d, v) => (object(d, 'server').host = v) },
  B24_BRIDGE_PORT: { key: 'server.port', apply: (d, v) => (object(d, 'server').port = number(v)) },
  B24_BRIDGE_PUBLIC_URL: { key: 'server.publicUrl', apply: (d, v) => (object(d, 'server').publicUrl = v) },
  B24_BRIDGE_SQLITE_PATH: {
    key: 'store.path',
    apply: (d, v) => (tagged(d, 'store', 'kind', 'sqlite').path = v),
  },
  B24_BRIDGE_POSTGRES_URL: {
    key: 'store.url',
    apply: (d, v) => (tagged(d, 'store', 'kind', 'postgres').url = v),
  },
  B24_BRIDGE_BITRIX_CLIENT_ID: {
    key: 'bitrix.clientId',
    apply: (d, v) => (tagged(d, 'bitrix', 'mode', 'app', ['rateLimit', 'pacing', 'retry']).clientId = v),
  },
  B24_BRIDGE_BITRIX_CLIENT_SECRET: {
    key: 'bitrix.clientSecret',
    apply: (d, v) => (tagged(d, 'bitrix', 'mode', 'app', ['rateLimit', 'pacing', 'retry']).clientSecret = v),
  },
  B24_BRIDGE_BITRIX_WEBHOOK_URL: {
    key: 'bitrix.url',
    apply: (d, v) => (tagged(d, 'bitrix', 'mode', 'webhook', ['rateLimit', 'pacing', 'retry']).url = v),
  },
  B24_BRIDGE_ADMIN_TOKEN: { key: 'admin.token', apply: (d, v) => (object(d, 'admin').token = v) },
  B24_BRIDGE_ADMIN_PASSWORD: { key: 'admin.password', apply: (d, v) => (object(d, 'admin').password = v) },
  B24_BRIDGE_LOG_LEVEL: { key: 'logging.level', apply: (d, v) => (object(d, 'logging').level = v) },
};

/** `postgres://…`: selects the PostgreSQL store when the configuration names none. */
const DATABASE_URL_VARIABLE = 'DATABASE_URL';

/** The file the loader reads when no path is given. */
export const CONFIG_FILE_VARIABLE = 'B24_BRIDGE_CONFIG';

/** `B24_BRIDGE_PBX_<ID>_TOKEN`: the token of PBX `<id>` (upper case, `-` as `_`). */
const pbxToken = /^B24_BRIDGE_PBX_([A-Z0-9_]+)_TOKEN$/;
/** `B24_BRIDGE_PBX_<ID>_AMI_SECRET`: the AMI password of Asterisk PBX `<id>`. */
const pbxAmiSecret = /^B24_BRIDGE_PBX_([A-Z0-9_]+)_AMI_SECRET$/;
/** `B24_BRIDGE_PBX_<ID>_COMMAND_URL`: the command URL of PBX `<id>` (it may carry a token). */
const pbxCommandUrl = /^B24_BRIDGE_PBX_([A-Z0-9_]+)_COMMAND_URL$/;
/** Read by the store, not the configuration (`src/store/sealer.ts`): never a setting, never a warning. */
const STORE_KEY_VARIABLE = 'B24_BRIDGE_STORE_KEY';
/** Read by `bin/b24-bridge.js` (`1`: run src/ through tsx instead of dist/): not a setting either. */
const FROM_SOURCES_VARIABLE = 'B24_BRIDGE_FROM_SOURCES';

const envNameOf = (pbxId: string) => pbxId.toUpperCase().replace(/-/g, '_');

interface EnvApplied {
  readonly document: Doc;
  /** Configuration key → the variable that set it, so messages can say where a bad value came from. */
  readonly sources: ReadonlyMap<string, string>;
  readonly warnings: readonly string[];
}

/** The document with the environment applied; the input is not changed. */
export function applyEnv(input: unknown, env: Env): EnvApplied {
  const document: Doc = isRecord(input) ? structuredClone(input) : {};
  const sources = new Map<string, string>();
  const warnings: string[] = [];
  for (const [variable, value] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (
      !variable.startsWith(ENV_PREFIX) ||
      value === undefined ||
      variable === CONFIG_FILE_VARIABLE ||
      variable === STORE_KEY_VARIABLE ||
      variable === FROM_SOURCES_VARIABLE
    )
      continue;
    const known = envVariables[variable];
    if (known !== undefined) {
      known.apply(document, value);
      sources.set(known.key, variable);
      continue;
    }
    const amiOf = pbxAmiSecret.exec(variable)?.[1];
    const commandOf = pbxCommandUrl.exec(variable)?.[1];
    const of = amiOf ?? commandOf;
    if (of !== undefined) {
      // A setting of a PBX the file names: without the PBX there is nothing to set it on.
      const pbxes = Array.isArray(document.pbx) ? (document.pbx as unknown[]) : (document.pbx = []);
      const index = pbxes.findIndex((p) => isRecord(p) && typeof p.id === 'string' && envNameOf(p.id) === of);
      const pbx = pbxes[index];
      if (index === -1 || !isRecord(pbx)) {
        warnings.push(`${variable} names no PBX of the configuration; ignored`);
        continue;
      }
      if (amiOf !== undefined) {
        if (pbx.kind !== 'asterisk' && !isRecord(pbx.ami)) {
          warnings.push(`${variable}: PBX ${String(pbx.id)} is not of kind "asterisk"; ignored`);
          continue;
        }
        const ami = isRecord(pbx.ami) ? pbx.ami : (pbx.ami = {});
        if (isRecord(ami)) ami.secret = value;
        sources.set(`pbx[${index}].ami.secret`, variable);
      } else {
        pbx.commandUrl = value;
        sources.set(`pbx[${index}].commandUrl`, variable);
      }
      continue;
    }
    const pbxId = pbxToken.exec(variable)?.[1];
    if (pbxId !== undefined) {
      const pbxes = Array.isArray(document.pbx) ? (document.pbx as unknown[]) : (document.pbx = []);
      let index = pbxes.findIndex(
        (p) => isRecord(p) && typeof p.id === 'string' && envNameOf(p.id) === pbxId,
      );
      if (index === -1) index = pbxes.push({ id: pbxId.toLowerCase().replace(/_/g, '-') }) - 1;
      const pbx = pbxes[index];
      if (isRecord(pbx)) pbx.token = value;
      sources.set(`pbx[${index}].token`, variable);
      continue;
    }
    warnings.push(`${variable} is not a setting of the bridge; ignored`);
  }
  // The platform's conventional variable (CI, Heroku-style hosts) picks PostgreSQL, but only where
  // neither the file nor a B24_BRIDGE_* variable names a store: a configuration that says SQLite
  // keeps it, whatever else runs on the machine.
  const databaseUrl = env[DATABASE_URL_VARIABLE];
  if (databaseUrl !== undefined && databaseUrl !== '' && document.store === undefined) {
    document.store = { kind: 'postgres', url: databaseUrl };
    sources.set('store.url', DATABASE_URL_VARIABLE);
  }
  return { document, sources, warnings };
}

/**
 * `b24-bridge check --config FILE`: is this setup ready for its first call? The file is checked
 * first (nothing else is tried with a configuration the bridge would refuse), then everything it
 * names is tried as the bridge would use it: the store, the recordings directory, each portal's
 * tokens, rights and event handlers, the public URL, each PBX's link. Nothing is changed on the
 * portal or the PBX: only reads (`scope`, `app.info`, `event.get`, `user.get`, AMI `ListCommands`).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { boundEvents, grantedScopes } from '../app/index.ts';
import { offlineBoundEvents } from '../app/install.ts';
import { eventsMode } from '../app/offline/index.ts';
import { BitrixClient, isBitrixError, type PortalApi } from '../bitrix/index.ts';
import { bridgeDataDir } from '../bridge/index.ts';
import { ConfigError, loadConfig, type BridgeConfig, type LoadOptions } from '../config/index.ts';
import { addConfigSecrets, SecretSet } from '../log/index.ts';
import { openStore, sealerFromEnv, type PortalRecord, type Store } from '../store/index.ts';
import { fail, ok, skip, warn, type CheckItem, type CheckReport } from './checklist.ts';
import { checkAmi, checkCommandUrl, checkPublicUrl, runningBridge } from './probes.ts';

/** The rights the bridge calls methods of: telephony.*, crm.*, user.get. */
const requiredScopes = ['telephony', 'crm', 'user'] as const;

interface CheckOptions extends LoadOptions {
  /** Now, for token expiry (tests). */
  now?: () => number;
}

export async function runCheck(options: CheckOptions = {}): Promise<CheckReport> {
  const file = options.file ?? (options.env ?? process.env).B24_BRIDGE_CONFIG;
  let config: BridgeConfig;
  const items: CheckItem[] = [];
  try {
    const loaded = loadConfig(options);
    config = loaded.config;
    items.push(ok('configuration', describe(config)));
    for (const w of loaded.warnings) items.push(warn('configuration', w, 'see docs/configuration.md'));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    items.push(
      fail(
        'configuration',
        e.message,
        e.code === 'CONFIG_INVALID'
          ? 'correct the keys named above (every key is in docs/configuration.md)'
          : e.code === 'CONFIG_FILE_TYPE'
            ? 'name the file .yaml, .yml or .json after its format'
            : 'make the file readable and valid YAML or JSON',
        e.code,
      ),
    );
    return { file, items, ready: false };
  }
  const secrets = new SecretSet();
  addConfigSecrets(secrets, config);
  const now = options.now ?? Date.now;

  const bridge = await runningBridge(config);
  items.push(
    bridge === null
      ? ok('bridge', `not running at ${config.server.host}:${config.server.port}: checked as it would start`)
      : ok('bridge', `running at ${config.server.host}:${config.server.port}`),
  );
  items.push(...admin(config));

  let store: Store | undefined;
  const sealed = sealerFromEnv(options.env ?? process.env);
  try {
    store = await openStore(config, sealed.sealer);
    items.push(
      ok(
        'store',
        config.store.kind === 'sqlite'
          ? `SQLite ${config.store.path}, open and writable`
          : 'PostgreSQL, connected',
      ),
    );
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    items.push(
      fail(
        'store',
        `cannot open the ${config.store.kind === 'sqlite' ? `SQLite file ${config.store.path}` : 'PostgreSQL store'}: ${(e as Error).message}`,
        config.store.kind === 'sqlite'
          ? "put store.path (B24_BRIDGE_SQLITE_PATH) in a directory the bridge's user may write"
          : 'start PostgreSQL (15 or later), or correct store.url (B24_BRIDGE_POSTGRES_URL): host, port, user, password, database',
        typeof code === 'string' ? code : 'STORE_UNAVAILABLE',
      ),
    );
  }
  if (!sealed.sealed)
    items.push(
      warn(
        'store key',
        'B24_BRIDGE_STORE_KEY is not set: the portals\u2019 tokens are kept unencrypted in the store',
        'set B24_BRIDGE_STORE_KEY to 32 random bytes, base64 (openssl rand -base64 32), the same on every instance',
      ),
    );
  items.push(await recordingsDirectory(config));

  try {
    if (store) items.push(...(await portals(config, store, secrets, bridge !== null, now)));
    else
      items.push(
        skip('portals', 'not tried without the store (it holds the installations and their tokens)'),
      );
  } finally {
    await store?.close();
  }

  items.push(await checkPublicUrl(config, bridge !== null));
  for (const pbx of config.pbx) {
    if (pbx.kind === 'asterisk' && pbx.ami !== undefined) items.push(...(await checkAmi(pbx.id, pbx.ami)));
    else if (pbx.commandUrl !== undefined) items.push(await checkCommandUrl(pbx.id, pbx.commandUrl));
    else
      items.push(
        ok(
          `pbx ${pbx.id}`,
          `${pbx.kind}: calls the HTTP API, fetches its commands with GET /pbx/v1/commands`,
        ),
      );
  }
  const clean = items.map((item) => ({
    ...item,
    detail: secrets.scrub(item.detail),
    ...(item.fix === undefined ? {} : { fix: secrets.scrub(item.fix) }),
  }));
  return { file, items: clean, ready: clean.every((i) => i.status !== 'fail') };
}

function describe(config: BridgeConfig): string {
  const lines = [config.engine, ...config.portals.map((p) => p.engine)].reduce(
    (n, e) => n + e.lines.length,
    0,
  );
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  return `valid: bitrix ${config.bitrix.mode}, ${plural(config.pbx.length, 'PBX')} (${config.pbx
    .map((p) => `${p.id}: ${p.kind}`)
    .join(', ')}), ${plural(lines, 'line')}, ${config.store.kind} store`;
}

function admin(config: BridgeConfig): CheckItem[] {
  if (config.admin.password === undefined && config.admin.token === undefined)
    return [
      warn(
        'admin UI',
        'neither admin.password nor admin.token is set: nobody can log in to the admin UI',
        'set B24_BRIDGE_ADMIN_PASSWORD (people) and/or B24_BRIDGE_ADMIN_TOKEN (scripts)',
      ),
    ];
  return [ok('admin UI', `login by ${config.admin.password === undefined ? 'token' : 'password'}`)];
}

/** Where uploaded recordings go: beside the store's file, as the bridge keeps them. */
async function recordingsDirectory(config: BridgeConfig): Promise<CheckItem> {
  const dir = join(bridgeDataDir(config), 'recordings');
  const probe = join(dir, `.check-${randomBytes(6).toString('hex')}`);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(probe, 'b24-bridge check', { mode: 0o600 });
    await rm(probe, { force: true });
    return ok('recordings directory', `${dir}, writable`);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return fail(
      'recordings directory',
      `cannot write to ${dir} (${typeof code === 'string' ? code : 'error'})`,
      `make ${dir} a directory the bridge's user may write (it lives beside the store's file)`,
      'RECORDINGS_NOT_WRITABLE',
    );
  }
}

/** A failure of a portal's request, in the terms of its fix. */
function portalFailure(name: string, e: unknown, publicUrl: string): CheckItem {
  const code = isBitrixError(e) ? e.code : 'ERROR';
  const message = e instanceof Error ? e.message : String(e);
  if (code === 'NEEDS_REINSTALL' || code === 'AUTH_FAILED' || code === 'TOKEN_EXPIRED')
    return fail(
      name,
      `the portal refuses the bridge's tokens: ${message}`,
      `re-install the application in Bitrix24 (its install path ${publicUrl}/bitrix/install); the bridge stores the new tokens`,
      'PORTAL_TOKENS_REFUSED',
    );
  if (code === 'NETWORK' || code === 'TIMEOUT' || code === 'SERVER_ERROR' || code === 'BAD_RESPONSE')
    return fail(
      name,
      `the portal cannot be reached: ${message}`,
      "check this host's internet link, DNS and proxy to the portal (and bitrix.oauthUrl)",
      'PORTAL_UNREACHABLE',
    );
  return fail(
    name,
    `the portal refused a request: ${message}`,
    'see the message; docs/bitrix24-app.md',
    code,
  );
}

async function portals(
  config: BridgeConfig,
  store: Store,
  secrets: SecretSet,
  running: boolean,
  now: () => number,
): Promise<CheckItem[]> {
  const bitrix = config.bitrix;
  const publicUrl = config.server.publicUrl?.replace(/\/+$/, '') ?? '<server.publicUrl>';
  const records = (await store.listPortals()).filter((p) =>
    bitrix.mode === 'app' ? p.authKind === 'oauth' : p.authKind === 'webhook',
  );
  const items: CheckItem[] = [];
  if (bitrix.mode === 'app' && records.length === 0) {
    items.push(
      fail(
        'portals',
        'no portal has installed the application yet',
        `${running ? '' : 'start the bridge, then '}install the application in Bitrix24 with the handler and install path ${publicUrl}/bitrix/install and the rights ${requiredScopes.join(', ')} (docs/bitrix24-app.md)`,
        'NO_PORTAL',
      ),
    );
    return [...items, ...pbxPortals(config, records)];
  }
  const client = new BitrixClient({
    app:
      bitrix.mode === 'app'
        ? { clientId: bitrix.clientId, clientSecret: bitrix.clientSecret, oauthUrl: bitrix.oauthUrl }
        : undefined,
    tokenStore: store.tokens,
    shared: store.coordination,
    retry: { maxAttempts: 1 },
    requestTimeoutMs: 10_000,
    // Tokens are renewed only once they have run out: a check renews nothing the bridge still uses.
    refreshAheadMs: 0,
  });
  try {
    if (bitrix.mode === 'webhook') {
      const record: PortalRecord = {
        memberId: `webhook:${new URL(bitrix.url).host}`,
        domain: new URL(bitrix.url).host,
        clientEndpoint: null,
        authKind: 'webhook',
        webhookUrl: bitrix.url,
        applicationToken: null,
      };
      const api = await client.addPortal({
        memberId: record.memberId,
        auth: { kind: 'webhook', url: bitrix.url },
      });
      const name = `portal ${record.domain ?? record.memberId} (webhook)`;
      const scopes = await grantedScopes(api).catch((e: unknown) => portalFailure(name, e, publicUrl));
      if (!Array.isArray(scopes)) return [scopes];
      items.push(...scopeItems(name, scopes));
      items.push(
        fail(
          name,
          'Bitrix24 refuses telephony.externalcall.register and finish to incoming webhooks: calls would not be logged',
          'install the bridge as a Bitrix24 application: bitrix.mode "app" (docs/bitrix24-app.md)',
          'WEBHOOK_CANNOT_LOG_CALLS',
        ),
      );
      return items;
    }
    for (const record of records) {
      const name = `portal ${record.domain ?? record.memberId}`;
      const tokens = await store.tokens.get(record.memberId);
      secrets.add(tokens?.accessToken);
      secrets.add(tokens?.refreshToken);
      secrets.add(record.applicationToken);
      if (tokens?.needsReinstall) {
        items.push(
          fail(
            name,
            `the OAuth server refused its tokens (${tokens.needsReinstall.reason}) since ${new Date(tokens.needsReinstall.since).toISOString()}`,
            `re-install the application in the portal (its install path ${publicUrl}/bitrix/install)`,
            'PORTAL_NEEDS_REINSTALL',
          ),
        );
        continue;
      }
      if (running && config.store.kind === 'sqlite' && tokens !== undefined && tokens.expiresAt <= now()) {
        // Renewing here would leave the running bridge with a refresh token that no longer works.
        items.push(
          skip(
            name,
            'its access token has run out; the running bridge renews it at its next request: run the check again then, or with the bridge stopped',
          ),
        );
        continue;
      }
      const api = await client.addPortal({
        memberId: record.memberId,
        domain: record.domain ?? undefined,
        clientEndpoint: record.clientEndpoint ?? undefined,
        auth: { kind: 'oauth' },
      });
      items.push(...(await portalChecks(name, api, config, publicUrl)));
    }
  } finally {
    client.close();
  }
  return [...items, ...pbxPortals(config, records)];
}

function scopeItems(name: string, scopes: readonly string[]): CheckItem[] {
  const missing = requiredScopes.filter((s) => !scopes.includes(s));
  if (missing.length === 0) return [ok(`${name}: rights`, scopes.join(', '))];
  return [
    fail(
      `${name}: rights`,
      `the application lacks the right${missing.length === 1 ? '' : 's'} ${missing.join(', ')} (it has: ${scopes.join(', ') || 'none'})`,
      `add ${missing.join(', ')} to the application's rights in Bitrix24 (Developer resources → the application → Rights), then re-install it`,
      'PORTAL_SCOPES_MISSING',
    ),
  ];
}

/** One installed portal: its tokens work, its rights, the install finished, the events come here. */
async function portalChecks(
  name: string,
  api: PortalApi,
  config: BridgeConfig,
  publicUrl: string,
): Promise<CheckItem[]> {
  let scopes: string[];
  try {
    scopes = await grantedScopes(api);
  } catch (e) {
    return [portalFailure(name, e, publicUrl)];
  }
  const items: CheckItem[] = [ok(name, 'its tokens work')];
  items.push(...scopeItems(name, scopes));
  try {
    const info = await api.app.info();
    if (!info.installed)
      items.push(
        fail(
          `${name}: installation`,
          'the installation was not finished (app.info INSTALLED is false): the portal sends no events',
          'open the application in Bitrix24 once as an administrator, so its install page finishes the installation',
          'PORTAL_INSTALL_UNFINISHED',
        ),
      );
  } catch (e) {
    items.push(portalFailure(`${name}: installation`, e, publicUrl));
  }
  if (eventsMode(config) === 'offline') {
    items.push(...(await offlineEventItems(name, api)));
    if (scopes.includes('user')) items.push(...(await extensions(name, api, config)));
    return items;
  }
  try {
    const handler = `${publicUrl}/bitrix/events`;
    const bound = await api.event.get();
    const missing = boundEvents.filter(
      (event) => !bound.some((b) => b.event === event && b.handler === handler),
    );
    if (missing.length === 0)
      items.push(ok(`${name}: events`, `${boundEvents.length} events bound to ${handler}`));
    else {
      const elsewhere = [
        ...new Set(bound.filter((b) => missing.some((m) => m === b.event)).map((b) => b.handler)),
      ];
      items.push(
        fail(
          `${name}: events`,
          `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not bound to ${handler}${elsewhere.length > 0 ? ` (bound to ${elsewhere.join(', ')})` : ''}: click-to-call and callbacks would not reach the bridge`,
          'start the bridge with this configuration and re-install the application (or open its page): the bridge binds its events to its public URL',
          'PORTAL_EVENTS_ELSEWHERE',
        ),
      );
    }
  } catch (e) {
    items.push(portalFailure(`${name}: events`, e, publicUrl));
  }
  if (scopes.includes('user')) items.push(...(await extensions(name, api, config)));
  return items;
}

/** Outbound-only: the events must be bound as offline events (the bridge reads them itself). */
async function offlineEventItems(name: string, api: PortalApi): Promise<CheckItem[]> {
  try {
    const bound = await api.event.get();
    const missing = offlineBoundEvents.filter((event) => !bound.some((b) => b.event === event && b.offline));
    if (missing.length === 0)
      return [
        ok(`${name}: events`, `${offlineBoundEvents.length} events bound as offline events (outbound-only)`),
      ];
    return [
      fail(
        `${name}: events`,
        `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not bound as offline events: click-to-call and callbacks would not reach the bridge`,
        'start the bridge with this configuration and re-install the application from its page: the bridge binds its events as offline events',
        'PORTAL_EVENTS_NOT_OFFLINE',
      ),
    ];
  } catch (e) {
    return [portalFailure(`${name}: events`, e, '')];
  }
}

/** Queue members and direct extensions without a Bitrix24 user: their calls land on nobody. */
async function extensions(name: string, api: PortalApi, config: BridgeConfig): Promise<CheckItem[]> {
  try {
    const users = await api.user.all({ filter: { ACTIVE: true } });
    const known = new Set([
      ...users.flatMap((u) => (u.extension === null ? [] : [u.extension])),
      ...config.engine.directory.filter((d) => d.userId !== null).map((d) => d.extension),
    ]);
    const members = new Set<string>();
    for (const line of config.engine.lines) {
      const r = line.routing;
      const queue = r.kind === 'queue' ? r.queue : r.kind === 'responsible' ? r.then : null;
      for (const m of queue?.members ?? []) members.add(m);
      if (r.kind === 'direct' && r.extension !== undefined) members.add(r.extension);
    }
    const unmapped = [...members].filter((m) => !known.has(m));
    if (unmapped.length === 0)
      return [
        ok(`${name}: extensions`, `${known.size} extensions mapped to users; every queue member has a user`),
      ];
    return [
      warn(
        `${name}: extensions`,
        `queue members without a Bitrix24 user (no user has them as internal number): ${unmapped.join(', ')}`,
        "set those users' internal number (UF_PHONE_INNER) in Bitrix24, or map them in engine.directory",
        'EXTENSIONS_UNMAPPED',
      ),
    ];
  } catch (e) {
    return [portalFailure(`${name}: extensions`, e, '')];
  }
}

/** With several portals, every PBX must name the one its calls belong to. */
function pbxPortals(config: BridgeConfig, records: readonly PortalRecord[]): CheckItem[] {
  const items: CheckItem[] = [];
  for (const pbx of config.pbx) {
    if (pbx.portal === undefined) {
      if (records.length > 1)
        items.push(
          fail(
            `pbx ${pbx.id}: portal`,
            `names no portal, and the bridge serves ${records.length}: its events would be refused`,
            `set pbx[].portal of ${pbx.id} to the member_id or domain of its portal`,
            'PBX_PORTAL_MISSING',
          ),
        );
      continue;
    }
    const found = records.some((r) => r.memberId === pbx.portal || r.domain === pbx.portal);
    if (!found && records.length > 0)
      items.push(
        fail(
          `pbx ${pbx.id}: portal`,
          `names ${pbx.portal}, which has not installed the application (installed: ${records.map((r) => r.domain ?? r.memberId).join(', ')})`,
          `install the application on ${pbx.portal}, or correct pbx[].portal`,
          'PBX_PORTAL_UNKNOWN',
        ),
      );
  }
  return items;
}

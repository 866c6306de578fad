/**
 * One connected portal: its typed API in the client, its engine (the configuration plus the
 * portal's extension directory) and its durable outbox.
 */
import type { BitrixClient, PortalApi, PortalTokens, PortalUser } from '../bitrix/index.ts';
import { toEngineConfig, type BridgeConfig } from '../config/index.ts';
import { createEngine, type DirectoryEntry } from '../core/index.ts';
import { CrmPhoneIndex, learnFrom } from '../crm-index/index.ts';
import type { EventIntake } from '../intake/index.ts';
import { Outbox, type OutboxOptions } from '../outbox/index.ts';
import type { PortalRecord, Store } from '../store/index.ts';
import { directoryCachePath, loadDirectoryCache, saveDirectoryCache } from './directory-cache.ts';

/** The portal's extension map as last read (a failed read keeps the last good one). */
export interface DirectoryState {
  /** Active users, with or without an extension. */
  users: PortalUser[];
  /** The user the bridge acts as on the portal (who installed the app, or whose webhook it is). */
  installerUserId: number | null;
  refreshedAt: number | null;
  /** Why the last read failed (an error code), or null. */
  error: string | null;
}

export interface PortalRuntime {
  memberId: string;
  record: PortalRecord;
  api: PortalApi;
  outbox: Outbox;
  /** Who the portal's callers are in its CRM, and who is responsible for them. */
  callers: CrmPhoneIndex;
  /** What a PBX of this portal feeds: the outbox, with the CRM phone index to tell who calls. */
  intake: EventIntake;
  /** The engine rules of this portal: its own `portals[]` entry, else the top-level `engine`. */
  rules: BridgeConfig['engine'];
  directory: DirectoryState;
  /** Reads the users again; on success the engine maps extensions by the new list. */
  refreshDirectory(): Promise<DirectoryState>;
  /** Stops its timers and closes its outbox. */
  close(): void;
}

/** The rules for a portal: a `portals[]` entry naming its member_id or domain wins. */
function rulesFor(config: BridgeConfig, record: Pick<PortalRecord, 'memberId' | 'domain'>) {
  const own = config.portals.find((p) => p.portal === record.memberId || p.portal === record.domain);
  return own?.engine ?? config.engine;
}

export interface ConnectContext {
  config: BridgeConfig;
  store: Store;
  client: BitrixClient;
  warn: (message: string) => void;
  /** Uploaded recordings: read for a file upload, or served by URL (preferred). */
  recordings?: Pick<OutboxOptions, 'recordings' | 'recordingUrl' | 'recordingDownload'> | undefined;
}

/** Extension → user from the portal's active users (UF_PHONE_INNER); users without one are left out. */
export function directoryOf(users: readonly PortalUser[]): DirectoryEntry[] {
  return users.flatMap((u) => (u.extension === null ? [] : [{ extension: u.extension, userId: u.id }]));
}

/**
 * Adds the portal to the client (OAuth tokens given, or loaded from the store) and opens its
 * outbox. A portal that cannot be read right now (an outage at start) still gets its outbox, with
 * the configured directory only: calls are taken and stored, and reach Bitrix24 when it returns.
 */
export async function connectPortal(
  ctx: ConnectContext,
  record: PortalRecord,
  tokens?: PortalTokens,
): Promise<PortalRuntime> {
  const { config, store, client } = ctx;
  const api = await client.addPortal({
    memberId: record.memberId,
    domain: record.domain ?? undefined,
    clientEndpoint: record.clientEndpoint ?? undefined,
    auth:
      record.authKind === 'webhook'
        ? { kind: 'webhook', url: record.webhookUrl ?? '' }
        : { kind: 'oauth', ...(tokens ? { tokens } : {}) },
    rateLimit: config.bitrix.rateLimit,
    pacing: config.bitrix.pacing,
  });
  const rules = rulesFor(config, record);
  const engineFor = (d: DirectoryState) =>
    createEngine(
      toEngineConfig({ ...config, engine: rules }, directoryOf(d.users), {
        onConflict: ctx.warn,
        installerUserId: d.installerUserId ?? undefined,
      }),
    );
  const directory: DirectoryState = { users: [], installerUserId: null, refreshedAt: null, error: null };
  const cachePath = directoryCachePath(config, record.memberId);
  const read = async (): Promise<boolean> => {
    try {
      const users = await api.user.all({ filter: { ACTIVE: true } });
      // Who the bridge acts as does not change while it runs: asked once, when not known yet.
      const me =
        directory.installerUserId ??
        (await api.user.current().then(
          (u) => u.id,
          () => null,
        ));
      directory.users = users;
      directory.installerUserId = me;
      directory.refreshedAt = Date.now();
      directory.error = null;
      // Kept for a start while the portal cannot be read; a failed write only loses that.
      saveDirectoryCache(cachePath, directory.users, directory.refreshedAt, directory.installerUserId).catch(
        () => undefined,
      );
      return true;
    } catch (e) {
      directory.error = (e as { code?: string }).code ?? 'ERROR';
      return false;
    }
  };
  const readAtStart = await read();
  if (!readAtStart) {
    // A restart during an outage: the last directory read, rather than no extension at all.
    const cached = loadDirectoryCache(cachePath);
    if (cached) {
      directory.users = cached.users;
      directory.installerUserId = cached.installerUserId;
      directory.refreshedAt = cached.savedAt;
    }
    ctx.warn(
      `portal ${record.memberId}: cannot read its users (${directory.error ?? 'error'}); ` +
        (cached
          ? `extensions map as last read (${new Date(cached.savedAt).toISOString()}) until it can`
          : 'only the configured directory maps extensions until the next refresh'),
    );
  }
  const callers = new CrmPhoneIndex({
    portalId: record.memberId,
    store: store.callers,
    api,
    settings: config.crmIndex,
  });
  const outbox = await Outbox.open({
    portalId: record.memberId,
    store,
    engine: engineFor(directory),
    // Every lookup of a call's CRM record teaches the index who the caller is.
    api: learnFrom(api, callers),
    ...(ctx.recordings ?? {}),
  });
  callers.start();
  const intake: EventIntake = {
    accept: (input, options) => outbox.accept(input, options),
    acceptMany: (inputs, options) => outbox.acceptMany(inputs, options),
    preview: (input, now) => outbox.preview(input, now),
    // Which calls the bridge knows: a recording for any other is refused before it is stored.
    get engineState() {
      return outbox.engineState;
    },
    callers,
  };
  let refreshing: Promise<DirectoryState> | null = null;
  const refreshDirectory = (): Promise<DirectoryState> => {
    // One read at a time: a click on the page during the periodic refresh joins it.
    refreshing ??= read()
      .then((ok) => {
        if (ok) outbox.setEngine(engineFor(directory));
        return directory;
      })
      .finally(() => {
        refreshing = null;
      });
    return refreshing;
  };
  const refreshSec = config.bitrix.mode === 'app' ? config.bitrix.directoryRefreshSec : 900;
  const timer = setInterval(() => void refreshDirectory(), refreshSec * 1000);
  timer.unref();
  // A read that failed at start is tried again soon, not only at the next periodic refresh.
  let retry: NodeJS.Timeout | null = null;
  const retryRead = (delayMs: number): void => {
    retry = setTimeout(() => {
      void refreshDirectory().then((d) => {
        if (d.error !== null) retryRead(Math.min(delayMs * 2, refreshSec * 1000));
      });
    }, delayMs);
    retry.unref();
  };
  if (!readAtStart) retryRead(Math.min(5_000, refreshSec * 1000));
  return {
    memberId: record.memberId,
    record,
    api,
    outbox,
    callers,
    intake,
    rules,
    directory,
    refreshDirectory,
    close: () => {
      clearInterval(timer);
      if (retry) clearTimeout(retry);
      callers.close();
      outbox.close();
    },
  };
}

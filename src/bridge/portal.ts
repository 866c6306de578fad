/**
 * One connected portal: its typed API in the client, its engine (the configuration plus the
 * portal's extension directory) and its durable outbox.
 */
import type { BitrixClient, PortalApi, PortalTokens } from '../bitrix/index.ts';
import { toEngineConfig, type BridgeConfig } from '../config/index.ts';
import { createEngine, type DirectoryEntry } from '../core/index.ts';
import { Outbox, type OutboxOptions } from '../outbox/index.ts';
import type { PortalRecord, Store } from '../store/index.ts';

export interface PortalRuntime {
  memberId: string;
  api: PortalApi;
  outbox: Outbox;
}

export interface ConnectContext {
  config: BridgeConfig;
  store: Store;
  client: BitrixClient;
  warn: (message: string) => void;
  /** Uploaded recordings: read for a file upload, or served by URL (preferred). */
  recordings?: Pick<OutboxOptions, 'recordings' | 'recordingUrl'> | undefined;
}

/** Extension → user from the portal's active users (UF_PHONE_INNER). */
export async function readDirectory(api: PortalApi): Promise<DirectoryEntry[]> {
  const users = await api.user.all({ filter: { ACTIVE: true } });
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
  });
  let directory: DirectoryEntry[] = [];
  try {
    directory = await readDirectory(api);
  } catch (e) {
    ctx.warn(
      `portal ${record.memberId}: cannot read its users (${(e as { code?: string }).code ?? 'error'}); ` +
        'only the configured directory maps extensions until the next start',
    );
  }
  const engine = createEngine(toEngineConfig(config, directory, { onConflict: ctx.warn }));
  const outbox = await Outbox.open({
    portalId: record.memberId,
    store,
    engine,
    api,
    ...(ctx.recordings ?? {}),
  });
  return { memberId: record.memberId, api, outbox };
}

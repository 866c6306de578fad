/**
 * The composition root (design.md names none; it lives here, in `src/bridge/`): the store, the
 * Bitrix24 client, one engine + outbox per connected portal, and the HTTP server.
 */
import { BitrixClient, type ClientOptions } from '../bitrix/index.ts';
import { ConfigError, type BridgeConfig } from '../config/index.ts';
import { buildServer, type BridgeServer, type InstallCallback, type ServerOptions } from '../server/index.ts';
import { SqliteStore, type PortalRecord, type Store } from '../store/index.ts';
import { dirname, join, resolve } from 'node:path';
import { RecordingStore } from '../server/index.ts';
import { registerLines, tokensOf, verifyInstall } from './install.ts';
import { connectPortal, type ConnectContext, type PortalRuntime } from './portal.ts';

export interface BridgeOptions {
  /** Instead of `server.port`; 0 picks a free port. */
  port?: number | undefined;
  host?: string | undefined;
  /** Told of things an operator should know (a portal that cannot be read, a line conflict). */
  warn?: ((message: string) => void) | undefined;
  logger?: ServerOptions['logger'];
  client?: Omit<ClientOptions, 'app' | 'tokenStore'> | undefined;
}

export interface Bridge {
  /** Where it listens, `http://host:port`. */
  url: string;
  config: BridgeConfig;
  store: Store;
  client: BitrixClient;
  server: BridgeServer;
  /** Connected portals by member_id. */
  portals: ReadonlyMap<string, PortalRuntime>;
  close(): Promise<void>;
}

/** A webhook portal has no member_id of its own until asked; its host names it meanwhile. */
const webhookMemberId = (url: string): string => `webhook:${new URL(url).host}`;

/**
 * The bridge's own client retry defaults: few, quick tries. The durable outbox is the long-term
 * retry layer (it probes an unreachable portal and rewrites the card operations of calls that have
 * ended); it only learns of an outage when the client gives up, so the client must give up soon.
 */
export const bridgeClientRetry = { maxAttempts: 2, minDelayMs: 200, maxDelayMs: 2_000 } as const;

export async function startBridge(config: BridgeConfig, options: BridgeOptions = {}): Promise<Bridge> {
  if (config.store.kind !== 'sqlite')
    throw new ConfigError('CONFIG_INVALID', [
      { key: 'store.kind', message: 'only "sqlite" is supported by this version' },
    ]);
  const warn = options.warn ?? ((message: string) => console.warn(`b24-bridge: ${message}`));
  const bitrix = config.bitrix;
  const app =
    bitrix.mode === 'app'
      ? { clientId: bitrix.clientId, clientSecret: bitrix.clientSecret, oauthUrl: bitrix.oauthUrl }
      : undefined;
  const store = await SqliteStore.open({ path: config.store.path });
  const client = new BitrixClient({
    retry: bridgeClientRetry,
    ...(options.client ?? {}),
    app,
    tokenStore: store.tokens,
  });
  const portals = new Map<string, PortalRuntime>();
  // Beside the database: the store's data directory is where the bridge keeps what it must find again.
  const recordings = await RecordingStore.open(join(dirname(resolve(config.store.path)), 'recordings'));
  /** Where the portal downloads recordings from: the public URL, else where the server listens. */
  let baseUrl = config.server.publicUrl?.replace(/\/+$/, '') ?? '';
  const ctx: ConnectContext = {
    config,
    store,
    client,
    warn,
    recordings: {
      recordings: async (ref) => (await recordings.get(ref)).content,
      recordingUrl: (ref) => (baseUrl === '' ? undefined : `${baseUrl}/recordings/${ref}`),
    },
  };

  try {
    if (bitrix.mode === 'webhook') {
      const record: PortalRecord = {
        memberId: webhookMemberId(bitrix.url),
        domain: new URL(bitrix.url).host,
        clientEndpoint: null,
        authKind: 'webhook',
        webhookUrl: bitrix.url,
        applicationToken: null,
      };
      await store.savePortal(record, Date.now());
      portals.set(record.memberId, await connectPortal(ctx, record));
    } else {
      for (const record of await store.listPortals()) {
        if (record.authKind !== 'oauth') continue;
        portals.set(record.memberId, await connectPortal(ctx, record));
      }
    }
  } catch (e) {
    for (const p of portals.values()) p.outbox.close();
    client.close();
    await store.close();
    throw e;
  }

  /** Installs serialize: two callbacks of one portal must not connect it twice. */
  let installs: Promise<unknown> = Promise.resolve();
  const install = (callback: InstallCallback): Promise<void> => {
    const run = installs.then(() => installPortal(callback));
    installs = run.catch(() => undefined);
    return run;
  };
  async function installPortal(callback: InstallCallback): Promise<void> {
    if (!app) return;
    const tokens = tokensOf(callback, Date.now());
    await verifyInstall(app, callback, tokens);
    const record: PortalRecord = {
      memberId: callback.memberId,
      domain: callback.domain,
      clientEndpoint: callback.clientEndpoint,
      authKind: 'oauth',
      webhookUrl: null,
      applicationToken: callback.applicationToken ?? null,
    };
    await store.savePortal(record, Date.now());
    let runtime = portals.get(record.memberId);
    if (runtime) await client.setTokens(record.memberId, tokens);
    else {
      runtime = await connectPortal(ctx, record, tokens);
      portals.set(record.memberId, runtime);
      wire(runtime);
    }
    await registerLines(runtime.api, config);
  }

  /**
   * The portal a PBX's calls belong to. The configuration does not map PBXes to portals yet, so
   * every PBX serves the first connected portal: right for one office, wrong for several portals.
   */
  const outboxFor = (_pbxId: string) => portals.values().next().value?.outbox;

  const server = buildServer({
    config,
    outboxFor,
    ...(app ? { install } : {}),
    recordings,
    logger: options.logger,
    health: () => ({
      portals: [...portals.values()].map((p) => ({ memberId: p.memberId, link: p.outbox.link })),
    }),
  });
  /**
   * Every step's transfers and originations reach the PBX, not only those of a PBX's own request:
   * a timer's or a Bitrix24 result's step (the responsible manager found, S3) emits them too.
   */
  function wire(runtime: PortalRuntime): void {
    runtime.outbox.on('pbx', ({ effects }) => server.router.dispatch(effects));
  }
  for (const runtime of portals.values()) wire(runtime);
  const host = options.host ?? config.server.host;
  const port = options.port ?? config.server.port;
  const address = await server.app.listen({ host, port });
  const url = address.replace('[::1]', 'localhost');
  if (baseUrl === '') baseUrl = url;

  return {
    url,
    config,
    store,
    client,
    server,
    portals,
    close: async () => {
      await server.app.close();
      for (const p of portals.values()) p.outbox.close();
      client.close();
      await store.close();
    },
  };
}

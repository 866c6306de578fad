/**
 * The composition root (design.md names none; it lives here, in `src/bridge/`): the store, the
 * Bitrix24 client, one engine + outbox per connected portal, and the HTTP server.
 */
import { BitrixClient, type ClientOptions } from '../bitrix/index.ts';
import { ConfigError, type BridgeConfig } from '../config/index.ts';
import { buildServer, type BridgeServer, type InstallCallback, type ServerOptions } from '../server/index.ts';
import { SqliteStore, type PortalRecord, type Store } from '../store/index.ts';
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
  const client = new BitrixClient({ ...(options.client ?? {}), app, tokenStore: store.tokens });
  const portals = new Map<string, PortalRuntime>();
  const ctx: ConnectContext = { config, store, client, warn };

  try {
    if (bitrix.mode === 'webhook') {
      const record: PortalRecord = {
        memberId: webhookMemberId(bitrix.url),
        domain: new URL(bitrix.url).host,
        clientEndpoint: null,
        authKind: 'webhook',
        webhookUrl: bitrix.url,
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
    };
    await store.savePortal(record, Date.now());
    // TODO(issue 7): keep callback.applicationToken (the store has no field for it yet) to check
    // the portal's events.
    let runtime = portals.get(record.memberId);
    if (runtime) await client.setTokens(record.memberId, tokens);
    else {
      runtime = await connectPortal(ctx, record, tokens);
      portals.set(record.memberId, runtime);
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
    logger: options.logger,
    health: () => ({
      portals: [...portals.values()].map((p) => ({ memberId: p.memberId, link: p.outbox.link })),
    }),
  });
  const host = options.host ?? config.server.host;
  const port = options.port ?? config.server.port;
  const address = await server.app.listen({ host, port });
  const url = address.replace('[::1]', 'localhost');

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

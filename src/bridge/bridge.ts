/**
 * The composition root (design.md names none; it lives here, in `src/bridge/`): the store, the
 * Bitrix24 client, one engine + outbox per connected portal, and the HTTP server.
 */
import { BitrixClient, type ClientOptions } from '../bitrix/index.ts';
import type { BridgeConfig } from '../config/index.ts';
import {
  buildServer,
  type BitrixEvent,
  type BridgeServer,
  type InstallCallback,
  type ServerOptions,
} from '../server/index.ts';
import { openStore, sealerFromEnv, type PortalRecord, type Store } from '../store/index.ts';
import { dirname, join, resolve } from 'node:path';
import { RecordingStore } from '../recordings/index.ts';
import { BitrixApp } from '../app/index.ts';
import { directoryCachePath, removeDirectoryCache } from './directory-cache.ts';
import { startPbxAdapters } from './adapters.ts';
import { pendingOriginations } from '../core/index.ts';
import { connectPortal, type ConnectContext, type PortalRuntime } from './portal.ts';
import { linesFilePath, withEditedLines } from './lines-file.ts';
import { observeBridge } from './observe.ts';
import type { Registry } from '../metrics/index.ts';
import { addConfigSecrets, tokensAsSecrets, type SecretSet } from '../log/index.ts';

export interface BridgeOptions {
  /** Instead of `server.port`; 0 picks a free port. */
  port?: number | undefined;
  host?: string | undefined;
  /** Told of things an operator should know (a portal that cannot be read, a line conflict). */
  warn?: ((message: string) => void) | undefined;
  logger?: ServerOptions['logger'];
  /** The logger (src/log/) for the server; wins over `logger`. */
  loggerInstance?: ServerOptions['loggerInstance'];
  /** Where `/metrics` figures go; a registry of this bridge's own (with the process figures) by default. */
  metrics?: Registry | undefined;
  /** The log scrubber: OAuth tokens are added to it as they are loaded or issued. */
  secrets?: SecretSet | undefined;
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

/**
 * Where the bridge keeps what it must find again (recordings, admin-lines.json): beside the
 * SQLite file; on PostgreSQL (several instances) ./data, see the README on shared recordings.
 */
export function bridgeDataDir(config: BridgeConfig): string {
  return config.store.kind === 'sqlite' ? dirname(resolve(config.store.path)) : resolve('data');
}

export async function startBridge(given: BridgeConfig, options: BridgeOptions = {}): Promise<Bridge> {
  // Queues edited in the admin UI (admin-lines.json beside the store) win over the file's.
  const config = withEditedLines(given, linesFilePath(given));
  if (options.secrets) addConfigSecrets(options.secrets, config);
  const warn = options.warn ?? ((message: string) => console.warn(`b24-bridge: ${message}`));
  const bitrix = config.bitrix;
  const app =
    bitrix.mode === 'app'
      ? { clientId: bitrix.clientId, clientSecret: bitrix.clientSecret, oauthUrl: bitrix.oauthUrl }
      : undefined;
  const { sealer, sealed } = sealerFromEnv();
  if (!sealed)
    warn(
      'B24_BRIDGE_STORE_KEY is not set: portal tokens are stored unencrypted' +
        (config.store.kind === 'sqlite' ? ` in ${config.store.path} (a file only its owner can read)` : ''),
    );
  const store = await openStore(config, sealer);
  const client = new BitrixClient({
    retry: bridgeClientRetry,
    ...(options.client ?? {}),
    app,
    // Several instances on one PostgreSQL: one rate budget and one token refresh per portal.
    shared: store.coordination,
    tokenStore: options.secrets ? tokensAsSecrets(store.tokens, options.secrets) : store.tokens,
  });
  const portals = new Map<string, PortalRuntime>();
  const recordings = await RecordingStore.open(join(bridgeDataDir(config), 'recordings'));
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
    for (const p of portals.values()) p.close();
    client.close();
    await store.close();
    throw e;
  }

  /** A PBX's `portal` names a member_id or a domain. */
  const serves = (pbx: BridgeConfig['pbx'][number], runtime: PortalRuntime): boolean =>
    pbx.portal === runtime.memberId || pbx.portal === runtime.record.domain;
  /**
   * The portal a PBX's calls belong to: the one its `portal` names; without one, the only portal.
   * With several portals an unassigned PBX gets none (its events are refused): calls never cross
   * portals.
   */
  const portalOfPbx = (pbxId: string): PortalRuntime | undefined => {
    const pbx = config.pbx.find((p) => p.id === pbxId);
    if (!pbx) return undefined;
    if (pbx.portal !== undefined) return [...portals.values()].find((r) => serves(pbx, r));
    return portals.size === 1 ? portals.values().next().value : undefined;
  };
  /** The PBXes of a portal: those naming it, or the unassigned ones while it is the only portal. */
  const pbxOf = (memberId: string): string[] => {
    const runtime = portals.get(memberId);
    if (!runtime) return [];
    return config.pbx
      .filter((p) => (p.portal === undefined ? portals.size === 1 : serves(p, runtime)))
      .map((p) => p.id);
  };
  const outboxFor = (pbxId: string) => portalOfPbx(pbxId)?.outbox;

  /**
   * Bitrix24 refuses register/finish to incoming webhooks (WRONG_AUTH_TYPE, spec §2): in webhook
   * mode that is a configuration error, not an outage, and it is said once, plainly.
   */
  let configProblem: string | null = null;
  if (bitrix.mode === 'webhook')
    client.on('operation', (op) => {
      if (op.ok || op.code !== 'ACCESS_DENIED' || configProblem !== null) return;
      if (!/^telephony\.externalcall\.(register|finish)$/i.test(op.method)) return;
      configProblem =
        'the portal refuses telephony.externalcall.register/finish to an incoming webhook ' +
        '(WRONG_AUTH_TYPE): install the bridge as a Bitrix24 application (bitrix.mode "app")';
      warn(`configuration error: ${configProblem}`);
    });

  const observed = observeBridge({
    config,
    client,
    store,
    portals,
    registry: options.metrics,
    secrets: options.secrets,
    log: () => server.app.log,
  });
  const bitrixApp = app
    ? new BitrixApp({
        app,
        store,
        client,
        portals,
        connect: async (record, tokens) => {
          const runtime = await connectPortal(ctx, record, tokens);
          wire(runtime);
          return runtime;
        },
        publicUrl: () => baseUrl,
        pbxOf,
        warn,
        forget: (memberId) => removeDirectoryCache(directoryCachePath(config, memberId)),
      })
    : undefined;

  const server = buildServer({
    config,
    outboxFor,
    ...(bitrixApp
      ? {
          install: (callback: InstallCallback) => bitrixApp.install(callback),
          bitrixEvents: (event: BitrixEvent) => bitrixApp.event(event),
          appPage: bitrixApp,
        }
      : {}),
    recordings,
    logger: options.logger,
    loggerInstance: options.loggerInstance,
    admin: observed.admin,
    health: () => ({
      portals: [...portals.values()].map((p) => ({ memberId: p.memberId, link: p.outbox.link })),
      ...(configProblem === null ? {} : { problem: configProblem }),
    }),
  });
  /**
   * Every step's transfers and originations reach the PBX, not only those of a PBX's own request:
   * a timer's or a Bitrix24 result's step (the responsible manager found, S3) emits them too.
   */
  function wire(runtime: PortalRuntime): void {
    observed.watch(runtime);
    runtime.outbox.on('pbx', ({ effects }) =>
      server.router.dispatch(effects, undefined, pbxOf(runtime.memberId)[0]),
    );
  }
  for (const runtime of portals.values()) wire(runtime);
  const host = options.host ?? config.server.host;
  const port = options.port ?? config.server.port;
  const address = await server.app.listen({ host, port });
  const url = address.replace('[::1]', 'localhost');
  if (baseUrl === '') baseUrl = url;
  // PBXes the bridge talks to itself (Asterisk over AMI): they connect in the background.
  const pbxAdapters = await startPbxAdapters({
    config,
    outboxFor,
    router: server.router,
    storeRecording: (upload) => recordings.put(upload),
    log: (level, message, data) => server.app.log[level](data ?? {}, message),
    amiConnected: observed.metrics.amiConnected,
  });
  // Commands wait in memory: originations a previous process asked for and the PBX has not
  // reported on yet are sent again (the PBX acts on a commandId once).
  for (const runtime of portals.values())
    server.router.dispatch(
      pendingOriginations(runtime.outbox.engineState),
      undefined,
      pbxOf(runtime.memberId)[0],
    );

  return {
    url,
    config,
    store,
    client,
    server,
    portals,
    close: async () => {
      await pbxAdapters.stop();
      await server.app.close();
      observed.close();
      for (const p of portals.values()) p.close();
      client.close();
      // Several instances: hand this one's calls to the others now rather than at lease expiry.
      await Promise.all([...portals.values()].map((p) => p.outbox.release().catch(() => undefined)));
      await store.close();
    },
  };
}

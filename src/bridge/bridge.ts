/**
 * The composition root (design.md names none; it lives here, in `src/bridge/`): the store, the
 * Bitrix24 client, one engine + outbox per connected portal, and the HTTP server.
 */
import { BitrixClient, type ClientOptions } from '../bitrix/index.ts';
import type { BridgeConfig } from '../config/index.ts';
import { buildServer, type BridgeServer, type ServerOptions } from '../server/index.ts';
import { openStore, isPostgresStore, sealerFromEnv, type PortalRecord, type Store } from '../store/index.ts';
import { dirname, join, resolve } from 'node:path';
import {
  downloadRecording,
  FileRecordingStore,
  keepRecordings,
  PostgresRecordingStore,
  RecordingLinks,
} from '../recordings/index.ts';
import { ConfigError } from '../config/index.ts';
import { ambiguities, portalOf } from './pbx-portals.ts';
import { BitrixApp, type BitrixEvent, type InstallCallback } from '../app/index.ts';
import {
  defaultProcessId,
  eventsMode,
  liveCallsOf,
  offlinePollers,
  type OfflinePollers,
} from '../app/offline/index.ts';
import { startPbxAdapters } from './adapters.ts';
import { pendingOriginations } from '../core/index.ts';
import { LiveCallCap } from '../intake/index.ts';
import {
  connectPortal,
  directoryCachePath,
  removeDirectoryCache,
  type ConnectContext,
  type PortalRuntime,
} from '../portal/index.ts';
import { linesFilePath, loadEditedLines } from './lines-file.ts';
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
  /** Outbound-only mode: this instance's `process_id` on the offline queue (default: host, data dir, port). */
  offlineProcessId?: string | undefined;
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
  /** Outbound-only mode: the readers of each portal's offline event queue. */
  offline: OfflinePollers | undefined;
  close(): Promise<void>;
}

/** The host (`host[:port]`, lower case) of a portal's REST endpoint. */
function hostOf(endpoint: string | null): string | null {
  if (endpoint === null) return null;
  try {
    return new URL(endpoint).host.toLowerCase();
  } catch {
    return null;
  }
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
/** On PostgreSQL: who holds each PBX's connection (an advisory lock), and the store's relay. */
async function leadershipOf(settings: BridgeConfig['store'], store: Store) {
  if (settings.kind !== 'postgres' || !store.relay) return undefined;
  const { url } = settings;
  const { LeaderLock } = await import('../store/postgres/index.ts');
  return { lock: (name: string) => new LeaderLock({ url, name }), relay: store.relay };
}

export function bridgeDataDir(config: BridgeConfig): string {
  return config.store.kind === 'sqlite' ? dirname(resolve(config.store.path)) : resolve('data');
}

export async function startBridge(given: BridgeConfig, options: BridgeOptions = {}): Promise<Bridge> {
  if (options.secrets) addConfigSecrets(options.secrets, given);
  const warn = options.warn ?? ((message: string) => console.warn(`b24-bridge: ${message}`));
  const bitrix = given.bitrix;
  const app =
    bitrix.mode === 'app'
      ? { clientId: bitrix.clientId, clientSecret: bitrix.clientSecret, oauthUrl: bitrix.oauthUrl }
      : undefined;
  const { sealer, sealed } = sealerFromEnv();
  if (!sealed)
    warn(
      'B24_BRIDGE_STORE_KEY is not set: portal tokens are stored unencrypted' +
        (given.store.kind === 'sqlite' ? ` in ${given.store.path} (a file only its owner can read)` : ''),
    );
  const store = await openStore(given, sealer);
  // Queues edited in the admin UI (kept in the store) win over the configuration file's.
  let edited;
  try {
    edited = await loadEditedLines(store, given, linesFilePath(given), Date.now());
  } catch (e) {
    await store.close();
    throw e;
  }
  const config = edited.config;
  const client = new BitrixClient({
    retry: bridgeClientRetry,
    ...(options.client ?? {}),
    app,
    // Several instances on one PostgreSQL: one rate budget and one token refresh per portal.
    shared: store.coordination,
    tokenStore: options.secrets ? tokensAsSecrets(store.tokens, options.secrets) : store.tokens,
  });
  const portals = new Map<string, PortalRuntime>();
  // On PostgreSQL in the database, so every instance serves every recording; else files.
  const recordings = isPostgresStore(store)
    ? await PostgresRecordingStore.open(store.database)
    : await FileRecordingStore.open(join(bridgeDataDir(config), 'recordings'));
  /** Where the portal downloads recordings from: the public URL, else where the server listens. */
  let baseUrl = config.server.publicUrl?.replace(/\/+$/, '') ?? '';
  const links = new RecordingLinks(recordings.linkSecret, config.recordings.linkTtlSec * 1000, () => baseUrl);
  const offline = eventsMode(config) === 'offline';
  const ctx: ConnectContext = {
    config,
    store,
    client,
    warn,
    recordings: {
      recordings: async (ref) => (await recordings.get(ref)).content,
      // Outbound-only: the portal cannot fetch from the bridge, so every recording is uploaded;
      // nor from the PBX beside it, so a PBX's recording URL is fetched here and uploaded too.
      ...(offline
        ? {
            recordingDownload: (url: string) => downloadRecording(url, { maxBytes: recordings.maxBytes }),
          }
        : { recordingUrl: (ref: string) => links.url(ref, Date.now()) }),
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
      const stored = (await store.listPortals())
        .filter((r) => r.authKind === 'oauth')
        // The domain is the host of the endpoint the OAuth server gave, whatever an older install kept.
        .map((r) => ({ ...r, domain: hostOf(r.clientEndpoint) ?? r.domain }));
      const problems = ambiguities(config.pbx, stored);
      if (problems.length > 0)
        throw new ConfigError(
          'CONFIG_INVALID',
          problems.map((message) => ({ key: 'pbx', message })),
        );
      for (const record of stored) portals.set(record.memberId, await connectPortal(ctx, record));
    }
  } catch (e) {
    for (const p of portals.values()) p.close();
    client.close();
    await store.close();
    throw e;
  }

  /**
   * The portal a PBX's calls belong to (`pbx-portals.ts`): the one its `portal` names; without one,
   * the only portal. With several portals an unassigned PBX gets none (its events are refused):
   * calls never cross portals.
   */
  const identities = () =>
    [...portals.values()].map((r) => ({ memberId: r.memberId, domain: r.record.domain }));
  const portalOfPbx = (pbxId: string): PortalRuntime | undefined => {
    const pbx = config.pbx.find((p) => p.id === pbxId);
    const memberId = pbx ? portalOf(pbx, identities()) : undefined;
    return memberId === undefined ? undefined : portals.get(memberId);
  };
  /** The PBXes of a portal: those naming it, or the unassigned ones while it is the only portal. */
  const pbxOf = (memberId: string): string[] => {
    const known = identities();
    return config.pbx.filter((p) => portalOf(p, known) === memberId).map((p) => p.id);
  };
  // The outbox, with the portal's CRM phone index to tell who an inbound caller is, behind the
  // PBX's cap of live calls.
  const caps = new Map<string, LiveCallCap>();
  const capOf = (pbxId: string): LiveCallCap => {
    let cap = caps.get(pbxId);
    if (!cap) {
      cap = new LiveCallCap({
        pbxId,
        maxLiveCalls: config.pbx.find((p) => p.id === pbxId)?.maxLiveCalls ?? 20_000,
        onRefused: ({ pbxId: pbx, maxLiveCalls, callId, first }) => {
          observed.metrics.liveCallsRefused.inc({ pbx });
          if (first)
            server.app.log.warn(
              { pbxId: pbx, maxLiveCalls, callId },
              `PBX ${pbx} has ${String(maxLiveCalls)} live calls, its cap (pbx[].maxLiveCalls): new calls are not followed until some end`,
            );
        },
        onRecovered: ({ pbxId: pbx, maxLiveCalls }) =>
          server.app.log.info(
            { pbxId: pbx, maxLiveCalls },
            `PBX ${pbx} is under its cap of live calls again`,
          ),
      });
      caps.set(pbxId, cap);
    }
    return cap;
  };
  const outboxFor = (pbxId: string) => {
    const intake = portalOfPbx(pbxId)?.intake;
    return intake && capOf(pbxId).wrap(intake);
  };

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
    linesRevision: edited.revision,
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
        conflictOf: (memberId, domain) => {
          const after = identities()
            .filter((r) => r.memberId !== memberId)
            .concat([{ memberId, domain }]);
          return ambiguities(config.pbx, after)[0] ?? null;
        },
        warn,
        eventMaxAgeMs: bitrix.mode === 'app' ? bitrix.eventMaxAgeSec * 1000 : undefined,
        offlineEvents: offline,
        forget: async (memberId) => {
          await removeDirectoryCache(directoryCachePath(config, memberId));
          await recordings.deletePortal(memberId);
        },
      })
    : undefined;
  const pollers =
    bitrixApp && offline
      ? offlinePollers({
          config,
          app: bitrixApp,
          processId: options.offlineProcessId ?? defaultProcessId(config, bridgeDataDir(config)),
          warn,
          liveCalls: (memberId) => {
            const runtime = portals.get(memberId);
            return runtime ? liveCallsOf(runtime.outbox.engineState) : 0;
          },
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
    recordings: { store: recordings, links, portalOf: (pbxId) => portalOfPbx(pbxId)?.memberId },
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
    pollers?.watch(runtime);
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
    recordingsOf: (pbxId) => (upload) => {
      const portal = portalOfPbx(pbxId)?.memberId;
      if (portal === undefined) return Promise.reject(new Error('no portal serves this PBX yet'));
      return recordings.put({ ...upload, portal }, Date.now());
    },
    log: (level, message, data) => server.app.log[level](data ?? {}, message),
    amiConnected: observed.metrics.amiConnected,
    // A PBX's live calls in its portal's engine (when the portal serves that PBX alone: the engine
    // does not say which PBX a call came from): one a resync does not find is over.
    openCallsOf: (pbxId) => {
      const runtime = portalOfPbx(pbxId);
      if (!runtime || pbxOf(runtime.memberId).length !== 1) return [];
      const open: string[] = [];
      for (const shard of Object.values(runtime.outbox.engineState.shards))
        for (const call of Object.values(shard))
          if (call.origin === 'pbx' && call.phase !== 'done' && call.phase !== 'wrapping')
            open.push(call.pbxCallId);
      return open;
    },
    // Events that come before a portal is installed wait in the store, not in memory.
    parked: store.parked,
    eventsParked: observed.metrics.eventsParked,
    eventsDropped: observed.metrics.eventsDropped,
    // Several instances: one AMI connection per PBX, held by the leader; the others relay commands.
    leadership: await leadershipOf(config.store, store),
  });
  // Commands wait in memory: originations a previous process asked for and the PBX has not
  // reported on yet are sent again (the PBX acts on a commandId once).
  for (const runtime of portals.values())
    server.router.dispatch(
      pendingOriginations(runtime.outbox.engineState),
      undefined,
      pbxOf(runtime.memberId)[0],
    );

  const retention = keepRecordings(recordings, {
    retentionMs: config.recordings.retentionDays * 86_400_000,
    onSwept: (deleted) => server.app.log.info({ deleted }, 'recordings past their retention deleted'),
    onError: (e) =>
      server.app.log.warn({ code: (e as { code?: string }).code }, 'the recording retention sweep failed'),
  });

  return {
    url,
    config,
    store,
    client,
    server,
    portals,
    offline: pollers,
    close: async () => {
      retention.stop();
      await pollers?.close();
      await pbxAdapters.stop();
      // Long polls end now rather than at their wait; a client that opened a connection and sent
      // nothing (a PBX aborting a poll) would hold the shutdown until its headers timeout, so the
      // requests in flight get a few seconds, then every connection goes.
      server.drain();
      const force = setTimeout(() => server.app.server.closeAllConnections(), 3_000);
      await server.app.close();
      clearTimeout(force);
      await observed.close();
      for (const p of portals.values()) p.close();
      client.close();
      // Several instances: hand this one's calls to the others now rather than at lease expiry.
      await Promise.all([...portals.values()].map((p) => p.outbox.release().catch(() => undefined)));
      await store.close();
    },
  };
}

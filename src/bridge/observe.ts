/**
 * What the bridge shows of itself: the admin view and the metrics, both fed by the events of the
 * client and of each portal's outbox. `watch` is called for every portal the bridge connects.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { AdminOptions } from '../admin/index.ts';
import type { BitrixClient } from '../bitrix/index.ts';
import type { BridgeConfig } from '../config/index.ts';
import {
  bridgeMetrics,
  collectPortals,
  Registry,
  watchClient,
  watchOutbox,
  type BridgeMetrics,
} from '../metrics/index.ts';
import type { SecretSet } from '../log/index.ts';
import type { Store } from '../store/index.ts';
import { keepJournal, type JournalFeed } from '../journal/index.ts';
import { BridgeAdminView } from './admin-view.ts';
import type { PortalRuntime } from '../portal/index.ts';

interface Observed {
  admin: AdminOptions;
  view: BridgeAdminView;
  registry: Registry;
  /** The figures in `registry`; the PBX adapters set `amiConnected`. */
  metrics: BridgeMetrics;
  /** The call journal's feed (absent on a store without journal tables). */
  journal: JournalFeed | undefined;
  watch(runtime: PortalRuntime): void;
  close(): Promise<void>;
}

/** How often an instance looks for queue edits made through another instance. */
const EDITS_POLL_MS = 1000;

export function observeBridge(parts: {
  config: BridgeConfig;
  client: BitrixClient;
  store: Store;
  portals: ReadonlyMap<string, PortalRuntime>;
  /** The revision of the edited lines the configuration holds. */
  linesRevision?: number | undefined;
  registry?: Registry | undefined;
  /** The log scrubber: each portal's application token is added to it. */
  secrets?: SecretSet | undefined;
  /** Where link changes and background faults are logged (the server's logger, once it exists). */
  log?: (() => Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'> | undefined) | undefined;
}): Observed {
  const { config, client, store, portals } = parts;
  // This bridge's own registry unless one is given: two bridges in one process never mix figures.
  const registry = parts.registry ?? new Registry({ defaultMetrics: true });
  const view = new BridgeAdminView({ config, portals, client, store, linesRevision: parts.linesRevision });
  const m = bridgeMetrics(registry);
  // Other instances on the store may edit queues: look for their edits every second.
  const stopFollowing = store.shared
    ? view.followEdits(EDITS_POLL_MS, (e) =>
        parts.log?.()?.warn({ code: (e as { code?: string }).code }, 'could not read the edited lines'),
      )
    : () => undefined;
  watchClient(m, client);
  const stopCollecting = collectPortals(registry, m, () => portals.values(), store, client);
  const kept = keepJournal({
    store,
    client,
    portals,
    retentionMs: config.journal.retentionDays * 86_400_000,
    scrub: parts.secrets ? (text) => parts.secrets?.scrub(text) ?? text : undefined,
    onError: (where, e) =>
      parts
        .log?.()
        ?.warn({ where, code: (e as { code?: string }).code }, 'the call journal could not be written'),
  });
  const routingOf = (lineId: string): string => {
    for (const rules of [config.engine, ...config.portals.map((p) => p.engine)]) {
      const line = rules.lines.find((l) => l.id === lineId);
      if (line) return line.routing.kind;
    }
    return config.engine.defaultLine.routing.kind;
  };
  return {
    admin: {
      view,
      credentials: { token: config.admin.token, password: config.admin.password },
      sessions: store.admin,
      metrics: registry,
      secureCookies: config.server.publicUrl?.startsWith('https:') ?? false,
      login: config.admin.login,
      publicUrl: config.server.publicUrl,
      journal: kept?.reader,
      board: config.admin.board,
    },
    view,
    registry,
    metrics: m,
    journal: kept?.feed,
    watch: (runtime) => {
      kept?.feed.watchOutbox(runtime.memberId, runtime.outbox);
      parts.secrets?.add(runtime.record.applicationToken);
      view.watch(runtime);
      watchOutbox(m, runtime.outbox, routingOf);
      const portal = runtime.memberId;
      runtime.outbox.on('link', ({ state, code }) => {
        const log = parts.log?.();
        if (state === 'up') log?.info({ portal }, 'portal link is up');
        else log?.warn({ portal, link: state, code }, 'portal link is not up; calls wait in the outbox');
      });
      runtime.outbox.on('entry', (e) => {
        if (e.status === 'failed')
          parts.log?.()?.warn({ portal, opId: e.opId, kind: e.kind, code: e.code }, 'outbox entry failed');
      });
      runtime.outbox.on('fault', ({ where, error, entry }) => {
        if (entry)
          parts.log?.()?.error(
            {
              portal,
              where,
              err: error,
              entry: entry.id,
              opId: entry.opId,
              kind: entry.kind,
              call: entry.callKey,
            },
            'outbox delivery failed with an unknown error; the entry stays pending and is retried',
          );
        else parts.log?.()?.error({ portal, where, err: error }, 'outbox background work failed; retried');
      });
    },
    close: async () => {
      stopFollowing();
      stopCollecting();
      await kept?.close();
    },
  };
}

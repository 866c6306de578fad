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
import { BridgeAdminView } from './admin-view.ts';
import { linesFilePath } from './lines-file.ts';
import type { PortalRuntime } from './portal.ts';

export interface Observed {
  admin: AdminOptions;
  view: BridgeAdminView;
  registry: Registry;
  /** The figures in `registry`; the PBX adapters set `amiConnected`. */
  metrics: BridgeMetrics;
  watch(runtime: PortalRuntime): void;
  close(): void;
}

export function observeBridge(parts: {
  config: BridgeConfig;
  client: BitrixClient;
  store: Store;
  portals: ReadonlyMap<string, PortalRuntime>;
  registry?: Registry | undefined;
  /** The log scrubber: each portal's application token is added to it. */
  secrets?: SecretSet | undefined;
  /** Where link changes and background faults are logged (the server's logger, once it exists). */
  log?: (() => Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'> | undefined) | undefined;
}): Observed {
  const { config, client, store, portals } = parts;
  // This bridge's own registry unless one is given: two bridges in one process never mix figures.
  const registry = parts.registry ?? new Registry({ defaultMetrics: true });
  const view = new BridgeAdminView({ config, portals, client, store, linesFile: linesFilePath(config) });
  const m = bridgeMetrics(registry);
  watchClient(m, client);
  const stopCollecting = collectPortals(registry, m, () => portals.values(), store, client);
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
      metrics: registry,
      secureCookies: config.server.publicUrl?.startsWith('https:') ?? false,
      login: config.admin.login,
      publicUrl: config.server.publicUrl,
    },
    view,
    registry,
    metrics: m,
    watch: (runtime) => {
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
    close: stopCollecting,
  };
}

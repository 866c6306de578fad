/**
 * The PBX adapters the bridge runs itself (today: Asterisk over AMI), as opposed to PBXes that
 * call the HTTP API. Each gets a sink that stores its events exactly as `POST /pbx/v1/events`
 * would (same outbox, same dedupe keys, same command dispatch), and the command router hands its
 * PBX's commands to the adapter instead of a command URL or the long poll.
 */
import type { BridgeConfig } from '../config/index.ts';
import type { Gauge } from '../metrics/index.ts';
import { AsteriskAdapter, type AsteriskAdapterOptions } from '../pbx/asterisk/index.ts';
import type { PbxAdapter, PbxEvent, PbxEventSink, PlanStep, RouteRequested } from '../pbx/index.ts';
import type { StoreRecording } from '../pbx/webhook/index.ts';
import {
  acceptPbxEvents,
  fallbackPlan,
  routeCall,
  timedEventKey,
  type CommandRouter,
  type EventIntake,
} from '../intake/index.ts';

export interface PbxAdaptersOptions {
  config: BridgeConfig;
  /** The outbox of the portal a PBX's calls belong to; undefined while no portal is connected. */
  outboxFor: (pbxId: string) => EventIntake | undefined;
  router: CommandRouter;
  /** Where recordings read from a PBX's directory go (its portal's recordings). */
  recordingsOf?: ((pbxId: string) => StoreRecording) | undefined;
  /** How long a route request waits for the engine before the fallback plan. Default 300 ms. */
  routeTimeoutMs?: number | undefined;
  log?: ((level: 'info' | 'warn', message: string, data?: Record<string, unknown>) => void) | undefined;
  /** The bridge's `b24_bridge_ami_connected` gauge: 1 while a PBX's AMI link is up, 0 while down. */
  amiConnected?: Gauge | undefined;
  /** Tests: quicker reconnects and the like. */
  asterisk?: Partial<Omit<AsteriskAdapterOptions, 'pbxId' | 'ami'>> | undefined;
}

export interface PbxAdapters {
  readonly adapters: ReadonlyMap<string, PbxAdapter>;
  stop(): Promise<void>;
}

class NoPortalYet extends Error {
  readonly code = 'NO_PORTAL';
  constructor() {
    super('no Bitrix24 portal is connected yet');
  }
}

/** The sink of one PBX: its events into its portal's outbox, its route requests to the engine. */
export function pbxSink(pbxId: string, o: PbxAdaptersOptions): PbxEventSink {
  const dispatch = (effects: Parameters<CommandRouter['dispatch']>[0]): void =>
    o.router.dispatch(effects, pbxId);
  return {
    async deliver(events: readonly PbxEvent[]): Promise<void> {
      // Refused, not dropped: the adapter offers the events again until a portal is there.
      const outbox = o.outboxFor(pbxId);
      if (!outbox) throw new NoPortalYet();
      const inputs = events.map((event) => {
        o.router.remember(pbxId, event.callId);
        return { input: event, dedupeKey: timedEventKey(pbxId, event) };
      });
      await acceptPbxEvents(outbox, inputs, dispatch);
    },
    route(request: RouteRequested): Promise<readonly PlanStep[]> {
      const outbox = o.outboxFor(pbxId);
      if (outbox) o.router.remember(pbxId, request.callId);
      return routeCall(outbox, request, {
        fallback: () => fallbackPlan(o.config.engine, request),
        timeoutMs: o.routeTimeoutMs ?? 300,
        dispatch,
      });
    },
  };
}

/** Starts an adapter for every `pbx[]` the bridge talks to itself; they connect in the background. */
export async function startPbxAdapters(o: PbxAdaptersOptions): Promise<PbxAdapters> {
  const adapters = new Map<string, PbxAdapter>();
  for (const pbx of o.config.pbx) {
    if (pbx.kind !== 'asterisk' || pbx.ami === undefined) continue;
    const adapter = new AsteriskAdapter({
      ...(o.asterisk ?? {}),
      pbxId: pbx.id,
      ami: pbx.ami,
      storeRecording: o.recordingsOf?.(pbx.id),
      log: o.log,
    });
    adapters.set(pbx.id, adapter);
    adapter.on('synced', () => o.amiConnected?.set({ pbx: pbx.id }, 1));
    adapter.on('down', () => o.amiConnected?.set({ pbx: pbx.id }, 0));
    o.router.attach(pbx.id, (command) =>
      adapter.execute(command).catch((e: unknown) => {
        o.log?.('warn', 'PBX command failed', {
          pbxId: pbx.id,
          commandId: command.commandId,
          type: command.type,
          code: (e as { code?: string }).code,
        });
        throw e;
      }),
    );
    await adapter.start(pbxSink(pbx.id, o));
  }
  return {
    adapters,
    stop: async () => {
      await Promise.all([...adapters.values()].map((a) => a.stop()));
    },
  };
}

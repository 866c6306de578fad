/**
 * The PBX adapters the bridge runs itself (today: Asterisk over AMI), as opposed to PBXes that
 * call the HTTP API. Each gets a sink that stores its events exactly as `POST /pbx/v1/events`
 * would (same outbox, same dedupe keys, same command dispatch), and the command router hands its
 * PBX's commands to the adapter instead of a command URL or the long poll.
 */
import type { BridgeConfig } from '../config/index.ts';
import type { Counter, Gauge } from '../metrics/index.ts';
import { AsteriskAdapter, type AsteriskAdapterOptions } from '../pbx/asterisk/index.ts';
import type { PbxAdapter, PbxEvent, PbxEventSink, PlanStep, RouteRequested } from '../pbx/index.ts';
import type { StoreRecording } from '../pbx/webhook/index.ts';
import type { CommandRelay, ParkedEvents } from '../store/index.ts';
import type { PbxCommand } from '../pbx/index.ts';
import {
  acceptPbxEvents,
  fallbackPlan,
  routeCall,
  timedEventKey,
  type CommandRouter,
  type EventIntake,
} from '../intake/index.ts';
import { Parking } from './parking.ts';

interface PbxAdaptersOptions {
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
  /**
   * Where events that arrive while no portal is installed are kept (the store); without it they
   * are refused and the adapter offers them again.
   */
  parked?: ParkedEvents | undefined;
  /** `b24_bridge_pbx_events_parked{pbx}` and `b24_bridge_pbx_events_dropped_total{pbx,where}`. */
  eventsParked?: Gauge | undefined;
  eventsDropped?: Counter | undefined;
  /**
   * The calls of this PBX the bridge holds open: after an AMI resync, those the PBX no longer has
   * are ended (they ended while no link was up, e.g. during a takeover).
   */
  openCallsOf?: ((pbxId: string) => readonly string[]) | undefined;
  /** Tests: quicker reconnects and the like. */
  asterisk?: Partial<Omit<AsteriskAdapterOptions, 'pbxId' | 'ami'>> | undefined;
  /**
   * Several instances on one PostgreSQL: one instance at a time holds a PBX's connection (the
   * leader of `ami:<pbx id>`), and the others queue that PBX's commands for it.
   */
  leadership?: { lock(name: string): Leadership; relay: CommandRelay } | undefined;
}

/** An election of one holder among the instances (`LeaderLock`). */
interface Leadership {
  readonly isLeader: boolean;
  start(): Promise<void>;
  close(): Promise<void>;
  on(event: 'gained', listener: () => void): unknown;
  on(event: 'lost', listener: (e: { reason: string }) => void): unknown;
}

interface PbxAdapters {
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
export function pbxSink(pbxId: string, o: PbxAdaptersOptions, parking?: Parking): PbxEventSink {
  const dispatch = (effects: Parameters<CommandRouter['dispatch']>[0]): void =>
    o.router.dispatch(effects, pbxId);
  return {
    async deliver(events: readonly PbxEvent[]): Promise<void> {
      const feed = feedOf(pbxId, o);
      // Parked in the store while no portal is there; without a store, refused, not dropped: the
      // adapter offers the events again.
      if (parking) return parking.deliver(events, feed);
      if (!feed) throw new NoPortalYet();
      await feed(events);
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

/** How events reach the outbox of the PBX's portal now; undefined while there is none. */
function feedOf(
  pbxId: string,
  o: PbxAdaptersOptions,
): ((events: readonly PbxEvent[]) => Promise<void>) | undefined {
  const outbox = o.outboxFor(pbxId);
  if (!outbox) return undefined;
  const dispatch = (effects: Parameters<CommandRouter['dispatch']>[0]): void =>
    o.router.dispatch(effects, pbxId);
  return async (events) => {
    const inputs = events.map((event) => {
      o.router.remember(pbxId, event.callId);
      return { input: event, dedupeKey: timedEventKey(pbxId, event) };
    });
    await acceptPbxEvents(outbox, inputs, dispatch);
  };
}

/** pbx[].ami.maxParkedEvents when unset. */
const DEFAULT_MAX_PARKED = 10_000;

/** Starts an adapter for every `pbx[]` the bridge talks to itself; they connect in the background. */
export async function startPbxAdapters(o: PbxAdaptersOptions): Promise<PbxAdapters> {
  const adapters = new Map<string, PbxAdapter>();
  const stops: (() => Promise<void>)[] = [];
  for (const pbx of o.config.pbx) {
    if (pbx.kind !== 'asterisk' || pbx.ami === undefined) continue;
    const ami = pbx.ami;
    const open = (): AsteriskAdapter => {
      const adapter = new AsteriskAdapter({
        ...(o.asterisk ?? {}),
        pbxId: pbx.id,
        ami,
        storeRecording: o.recordingsOf?.(pbx.id),
        openCalls: o.openCallsOf && (() => o.openCallsOf?.(pbx.id) ?? []),
        log: o.log,
      });
      adapters.set(pbx.id, adapter);
      adapter.on('synced', () => o.amiConnected?.set({ pbx: pbx.id }, 1));
      adapter.on('down', () => o.amiConnected?.set({ pbx: pbx.id }, 0));
      adapter.on('dropped', (n) => o.eventsDropped?.inc({ pbx: pbx.id, where: 'memory' }, n));
      return adapter;
    };
    const execute = (adapter: PbxAdapter, command: PbxCommand): Promise<void> =>
      adapter.execute(command).catch((e: unknown) => {
        o.log?.('warn', 'PBX command failed', {
          pbxId: pbx.id,
          commandId: command.commandId,
          type: command.type,
          code: (e as { code?: string }).code,
        });
        throw e;
      });
    const parking = o.parked
      ? new Parking({
          pbxId: pbx.id,
          store: o.parked,
          max: ami.maxParkedEvents ?? DEFAULT_MAX_PARKED,
          parkedGauge: o.eventsParked,
          droppedCounter: o.eventsDropped,
          log: o.log,
        })
      : undefined;
    const sink = pbxSink(pbx.id, o, parking);
    /** Whether this instance drives the PBX's adapter now (it always does without leadership). */
    let driving = false;
    if (parking) {
      // A portal installed since: what was parked goes to it now, not at the PBX's next event.
      const feeder = setInterval(() => {
        const feed = feedOf(pbx.id, o);
        if (driving && feed)
          parking.drain(feed).catch((e: unknown) =>
            o.log?.('warn', 'the kept PBX events could not be fed to the portal yet', {
              pbxId: pbx.id,
              code: (e as { code?: string }).code,
            }),
          );
      }, 1000);
      feeder.unref();
      stops.push(() => {
        clearInterval(feeder);
        return Promise.resolve();
      });
    }
    if (!o.leadership) {
      const adapter = open();
      o.router.attach(pbx.id, (command) => execute(adapter, command));
      await adapter.start(sink);
      driving = true;
      stops.push(() => adapter.stop());
      continue;
    }
    stops.push(
      await leadPbx(pbx.id, o.leadership, {
        open,
        execute,
        sink,
        o,
        onDriving: (on) => {
          driving = on;
          // Another instance may have parked events while it held the PBX.
          if (on) parking?.recount();
        },
      }),
    );
  }
  return {
    adapters,
    stop: async () => {
      await Promise.all(stops.map((stop) => stop()));
    },
  };
}

/**
 * One PBX among instances: this instance connects only while it leads; commands decided here go
 * to its own adapter while it leads, and into the store's relay otherwise, which the leader drains
 * (woken by a notification, and every second in case one was missed).
 */
async function leadPbx(
  pbxId: string,
  leadership: NonNullable<PbxAdaptersOptions['leadership']>,
  parts: {
    open: () => AsteriskAdapter;
    execute: (adapter: PbxAdapter, command: PbxCommand) => Promise<void>;
    sink: PbxEventSink;
    o: PbxAdaptersOptions;
    onDriving: (driving: boolean) => void;
  },
): Promise<() => Promise<void>> {
  const { relay } = leadership;
  const lock = leadership.lock(`ami:${pbxId}`);
  let adapter: AsteriskAdapter | null = null;
  let unwatch: (() => void) | null = null;
  let poll: NodeJS.Timeout | null = null;
  let draining: Promise<void> = Promise.resolve();
  let stopping: Promise<void> = Promise.resolve();
  const warn = (message: string, e: unknown): void =>
    parts.o.log?.('warn', message, { pbxId, code: (e as { code?: string }).code });
  const drain = (): void => {
    draining = draining
      .then(async () => {
        for (;;) {
          const current = adapter;
          if (current === null) return;
          const commands = (await relay.take(pbxId, 50)) as PbxCommand[];
          for (const command of commands) await parts.execute(current, command).catch(() => undefined);
          if (commands.length < 50) return;
        }
      })
      .catch((e: unknown) => warn('queued PBX commands could not be read', e));
  };
  lock.on('gained', () => {
    const current = (adapter = parts.open());
    parts.onDriving(true);
    parts.o.log?.('info', 'this instance holds the PBX connection', { pbxId });
    current.start(parts.sink).then(
      () => {
        unwatch = relay.watch(pbxId, drain);
        poll = setInterval(drain, 1000);
        poll.unref();
        drain();
      },
      (e: unknown) => warn('the PBX adapter did not start', e),
    );
  });
  lock.on('lost', ({ reason }) => {
    const current = adapter;
    adapter = null;
    parts.onDriving(false);
    unwatch?.();
    if (poll) clearInterval(poll);
    parts.o.log?.('warn', 'this instance no longer holds the PBX connection', { pbxId, reason });
    if (current) stopping = current.stop().catch((e: unknown) => warn('the PBX adapter did not stop', e));
  });
  parts.o.router.attach(pbxId, (command) =>
    adapter !== null && lock.isLeader
      ? parts.execute(adapter, command)
      : relay.send(pbxId, command, Date.now()),
  );
  await lock.start();
  return async () => {
    await lock.close();
    await stopping;
    await draining;
  };
}

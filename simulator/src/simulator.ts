/**
 * `startSimulator`: a simulated PBX that speaks the generic PBX API (`/pbx/v1`) to a bridge over
 * real HTTP — events out, route requests, the command long poll and its acks — and serves its
 * own recordings.
 */
import { EventEmitter } from 'node:events';
import { routeResponseSchema } from '../../src/pbx/webhook/index.ts';
import { Activity } from './activity.ts';
import { BridgeClient } from './bridge-client.ts';
import { systemClock, type SimClock } from './clock.ts';
import { CommandPoller, type CommandPollOptions } from './commands.ts';
import { EventDelivery, type DeliveryOptions } from './delivery.ts';
import { seededRandom, type SecRange } from './random.ts';
import { startRecordingServer, wavFile, type RecordingServerOptions } from './recordings.ts';
import { defaultCallSettings, demoAgents, type CalleeSettings, type CallSettings } from './settings.ts';
import { startSteadyStream, type SteadyStream, type SteadyStreamOptions } from './stream.ts';
import { Switchboard, type RouteAnswer } from './switchboard.ts';
import type {
  AgentSpec,
  CallSpec,
  PlanStepWire,
  SimulatedCallResult,
  SimulatorEventMap,
  SimulatorStats,
} from './types.ts';

export interface SimulatorOptions {
  /** The bridge's base URL, e.g. `http://127.0.0.1:3000`. */
  readonly bridgeUrl: string;
  /** The PBX's bearer token (the demo's is `demo-token`). */
  readonly token: string;
  /** Default: the wall clock, `speed` times faster for the office's own waits. */
  readonly clock?: SimClock;
  readonly speed?: number;
  /** Same seed, same office: who answers, how long they talk (default 1). */
  readonly seed?: number;
  /** Default: 100–104 of the demo office (`demoAgents`). */
  readonly agents?: readonly AgentSpec[];
  /** Prefix of generated call ids (default `sim-<start time in base 36>`, unique across restarts). */
  readonly callIdPrefix?: string;
  readonly talkSec?: SecRange;
  readonly callerPatienceSec?: SecRange;
  readonly recordingDelaySec?: SecRange;
  readonly transferRingSec?: number;
  readonly originatePickupSec?: SecRange;
  readonly callee?: Partial<CalleeSettings>;
  /** Numbers that are lines (default the demo's Sales and Support). */
  readonly lines?: readonly string[];
  readonly delivery?: DeliveryOptions;
  /** The command long poll; `false` for a bridge that POSTs commands elsewhere, or none at all. */
  readonly commands?: CommandPollOptions | false;
  readonly recordings?: RecordingServerOptions;
  /** A route answer later than this (real ms, default 2000) is not waited for: the PBX's own fallback rings. */
  readonly routeTimeoutMs?: number;
}

export interface Simulator {
  /** Places a call; resolves when it is over (after its recording, if it has one). */
  placeCall(spec: CallSpec): Promise<SimulatedCallResult>;
  /** Starts a stream of calls; several may run, each stops on its own. */
  steadyStream(options: SteadyStreamOptions): SteadyStream;
  readonly events: EventEmitter<SimulatorEventMap>;
  stats(): SimulatorStats;
  /** Resolves once no request to the bridge is in flight (tests drive a manual clock with it). */
  idle(): Promise<void>;
  readonly recordingsUrl: string;
  stop(): Promise<void>;
}

export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  const clock = options.clock ?? systemClock(options.speed ?? 1);
  const seed = options.seed ?? 1;
  const events = new EventEmitter<SimulatorEventMap>();
  const report = <K extends keyof SimulatorEventMap>(name: K, ...args: SimulatorEventMap[K]): void => {
    // The map's tuples are checked at the call sites; EventEmitter's own overloads cannot follow K.
    (events as unknown as EventEmitter).emit(name, ...args);
  };
  const activity = new Activity();
  const client = new BridgeClient(options, activity);
  const routeClient = new BridgeClient(
    { ...options, requestTimeoutMs: options.routeTimeoutMs ?? 2000 },
    activity,
  );
  const plumbingRandom = seededRandom(seed ^ 0x5eed);
  const delivery = new EventDelivery(client, clock, plumbingRandom, report, options.delivery);
  let recordingsFetched = 0;
  const recordings = await startRecordingServer(options.recordings ?? {}, (callId) => {
    recordingsFetched++;
    report('recording.fetched', { callId });
  });

  const settings: CallSettings = {
    talkSec: options.talkSec ?? defaultCallSettings.talkSec,
    callerPatienceSec: options.callerPatienceSec ?? defaultCallSettings.callerPatienceSec,
    recordingDelaySec: options.recordingDelaySec ?? defaultCallSettings.recordingDelaySec,
    transferRingSec: options.transferRingSec ?? defaultCallSettings.transferRingSec,
    originatePickupSec: options.originatePickupSec ?? defaultCallSettings.originatePickupSec,
    callee: { ...defaultCallSettings.callee, ...options.callee },
    lines: options.lines ?? defaultCallSettings.lines,
  };
  const agents = options.agents ?? demoAgents;
  const prefix = options.callIdPrefix ?? `sim-${clock.now().toString(36)}`;
  let nextId = 0;

  /** The PBX's own dialplan when the bridge cannot answer: the extension dialled, or everybody at once. */
  const fallbackPlan = (to: string): PlanStepWire[] => {
    const extensions = agents.some((a) => a.extension === to) ? [to] : agents.map((a) => a.extension);
    return [{ extensions, timeoutSec: 30 }];
  };

  const route = async (request: {
    callId: string;
    from: string;
    to: string;
    line?: string;
  }): Promise<RouteAnswer> => {
    const outcome = await routeClient.request('POST', '/pbx/v1/route', request);
    if (outcome.kind === 'ok') {
      const parsed = routeResponseSchema.safeParse(outcome.body);
      if (parsed.success) return { plan: parsed.data.plan, fallback: false };
      report('bridge.rejected', {
        request: 'route',
        status: outcome.status,
        body: JSON.stringify(outcome.body),
      });
    } else if (outcome.kind === 'rejected') {
      report('bridge.rejected', { request: 'route', status: outcome.status, body: outcome.body });
    } else {
      // The caller is waiting: no retry, the PBX's own plan rings instead.
      report('bridge.retry', { request: 'route', attempt: 1, delayMs: 0, problem: outcome.problem });
    }
    return { plan: fallbackPlan(request.to), fallback: true };
  };

  const switchboard = new Switchboard({
    clock,
    seed,
    settings,
    agents,
    send: (event) => delivery.send(event),
    route,
    recordingUrl: (callId) => recordings.add(callId),
    recordingContent: options.recordings?.upload === true ? () => wavFile().toString('base64') : undefined,
    report,
    newCallId: () => `${prefix}-${++nextId}`,
  });

  const poller =
    options.commands === false
      ? null
      : new CommandPoller(
          client,
          clock,
          plumbingRandom,
          report,
          (command) =>
            command.type === 'transfer' ? switchboard.transfer(command) : switchboard.originate(command),
          options.commands,
        );
  poller?.start();

  const streams = new Set<SteadyStream>();
  let stopped = false;

  return {
    placeCall(spec) {
      if (stopped) return Promise.reject(new Error('the simulator is stopped'));
      return switchboard.place(spec);
    },
    steadyStream(streamOptions) {
      const stream = startSteadyStream(
        {
          clock,
          active: () => switchboard.active,
          isFree: (extension) => switchboard.isFree(extension),
          place: (spec) => switchboard.place(spec),
        },
        { seed, ...streamOptions },
      );
      streams.add(stream);
      return stream;
    },
    events,
    stats: () => ({
      callsStarted: switchboard.started,
      callsActive: switchboard.active,
      callsEnded: switchboard.ended,
      callsAnswered: switchboard.answered,
      eventsDelivered: delivery.delivered,
      eventsQueued: delivery.queued,
      retries: delivery.retries,
      rejected: delivery.rejected,
      commandsReceived: poller?.received ?? 0,
      recordingsFetched,
      busyExtensions: switchboard.busyExtensions(),
    }),
    idle: () => activity.idle(),
    recordingsUrl: recordings.baseUrl,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const stream of streams) stream.stop();
      poller?.stop();
      switchboard.abandon();
      delivery.stop();
      await recordings.close();
    },
  };
}

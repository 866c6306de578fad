/**
 * The PBX side of the bridge, as every adapter (the generic HTTP API, the simulator, Asterisk)
 * sees it: normalized events in, commands out.
 *
 * The normalized events ARE the engine's PBX inputs (`call.*`, `recording.ready`, with `at` in
 * epoch ms): the engine's input union was written after the public PBX API, so defining them a
 * second time here would only let the two drift apart.
 */
import type { PbxEvent, PlanStep, RouteRequested } from '../core/index.ts';

export type {
  Direction,
  EndReason,
  PbxEvent,
  PlanStep,
  RecordingReady,
  RouteRequested,
} from '../core/index.ts';

export type PbxEventType = PbxEvent['type'];

/** Which adapter speaks to a PBX. */
/** The kinds of PBX the bridge talks to: the configuration offers exactly these. */
export const pbxKinds = ['webhook', 'simulator', 'asterisk'] as const;
export type PbxKind = (typeof pbxKinds)[number];

/** Ring `extension`; once it answers, dial `number`, and report that call's events under `callId`. */
export interface OriginateCommand {
  readonly commandId: string;
  readonly type: 'originate';
  readonly callId: string;
  readonly extension: string;
  readonly number: string;
}

/** Move the live call `callId` to `extension`. */
export interface TransferCommand {
  readonly commandId: string;
  readonly type: 'transfer';
  readonly callId: string;
  readonly extension: string;
}

/**
 * What the bridge asks a PBX to do. `commandId` comes from the engine and is the same on a replay,
 * so an adapter (and the PBX) can recognise a command it has already carried out.
 */
export type PbxCommand = OriginateCommand | TransferCommand;

/**
 * What the bridge offers one adapter. One sink per PBX: call ids are the PBX's own, so the bridge
 * tells two PBXes' calls apart by the sink they arrive through.
 */
export interface PbxEventSink {
  /**
   * Hands events over in the PBX's order. Resolves once they are stored durably, and only then may
   * the adapter acknowledge them to the PBX (HTTP 202); a rejection means none of them was applied.
   * Delivering the same event twice is harmless.
   */
  deliver(events: readonly PbxEvent[]): Promise<void>;
  /** The PBX asks what to ring for a new call; the bridge answers in time even when the portal is slow. */
  route(request: RouteRequested): Promise<readonly PlanStep[]>;
}

/** Every PBX adapter implements this; one conformance suite checks them all (`test/pbx/conformance.ts`). */
export interface PbxAdapter {
  /** The PBX's id in the configuration (`pbx[].id`). */
  readonly pbxId: string;
  readonly kind: PbxKind;
  /** Connects (or starts listening) and from then on delivers the PBX's events into `sink`. */
  start(sink: PbxEventSink): Promise<void>;
  /** Stops delivering; resolves once no delivery is in flight. */
  stop(): Promise<void>;
  /**
   * Carries a command out. Resolves once the PBX has accepted it; rejects with a `PbxError`. The
   * same `commandId` twice must not act twice: the outbox repeats a command whose answer it lost.
   */
  execute(command: PbxCommand): Promise<void>;
}

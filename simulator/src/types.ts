/** The simulator's public vocabulary: agents, callers' calls, results and what it reports. */
import type { EndReason, PbxCommand } from '../../src/pbx/types.ts';
import type { ApiEvent } from '../../src/pbx/webhook/index.ts';
import type { SecRange } from './random.ts';

/** How a person at an extension picks up. */
export interface AgentBehaviour {
  /** Chance (0–1) that a ringing leg is answered at all. */
  readonly answerProbability: number;
  /** How long the phone rings before they pick up, when they do. */
  readonly answerAfterSec: SecRange;
}

export interface AgentSpec extends Partial<AgentBehaviour> {
  readonly extension: string;
}

/** A call from outside to an extension (S1) or to a line (S2, S3). */
export interface InboundCallSpec {
  readonly direction?: 'inbound';
  readonly from: string;
  /** An extension (`"101"`) or a line's number. */
  readonly to: string;
  /** Default: `to` when it is one of the simulator's lines. */
  readonly line?: string;
  readonly callId?: string;
  /** The caller hangs up if nobody has answered by then (default: drawn from `callerPatienceSec`). */
  readonly patienceSec?: number;
  /** How long the conversation lasts once answered (default: drawn from `talkSec`). */
  readonly talkSec?: number;
}

/** An agent dials out from the desk phone. */
export interface OutboundCallSpec {
  readonly direction: 'outbound';
  readonly extension: string;
  readonly number: string;
  readonly callId?: string;
  /** Whether the far end answers (default: drawn from `callee.answerProbability`). */
  readonly answered?: boolean;
  readonly answerAfterSec?: number;
  readonly talkSec?: number;
}

export type CallSpec = InboundCallSpec | OutboundCallSpec;

/** How a call ended: the bridge's own vocabulary, which the simulator reports in. */
export type { EndReason } from '../../src/pbx/types.ts';

/** How a simulated call went, on the simulator's clock (epoch ms). */
export interface SimulatedCallResult {
  readonly callId: string;
  readonly direction: 'inbound' | 'outbound';
  readonly from: string;
  readonly to: string;
  readonly reason: EndReason;
  /** The extension that had the call last, if anyone answered. */
  readonly answeredBy: string | null;
  readonly startedAt: number;
  readonly answeredAt: number | null;
  readonly endedAt: number;
  readonly recordingUrl: string | null;
}

/** Which request of the PBX API something happened to. */
export type BridgeRequest = 'events' | 'route' | 'commands' | 'ack';

/** What the simulator reports, for tests, logs and the demo's console. */
export interface SimulatorEventMap {
  'call.started': [call: { callId: string; direction: 'inbound' | 'outbound'; from: string; to: string }];
  'call.ended': [result: SimulatedCallResult];
  /** A batch the bridge accepted (2xx). */
  'events.delivered': [events: readonly ApiEvent[]];
  'route.planned': [route: { callId: string; plan: readonly PlanStepWire[]; fallback: boolean }];
  'command.received': [command: PbxCommand];
  'command.acked': [ack: { command: PbxCommand; status: 'done' | 'failed'; reason?: string }];
  /** A 5xx, 429 or network error; the request is repeated after `delayMs`. */
  'bridge.retry': [retry: { request: BridgeRequest; attempt: number; delayMs: number; problem: string }];
  /**
   * A 4xx: the simulator sent something the bridge will never accept (a bug, or a wrong token).
   * Not repeated. Not named `error` so an unlistened report cannot crash the process.
   */
  'bridge.rejected': [rejection: { request: BridgeRequest; status: number; body: string }];
  'recording.fetched': [download: { callId: string }];
}

export interface PlanStepWire {
  readonly extensions: readonly string[];
  readonly timeoutSec: number;
}

export interface SimulatorStats {
  readonly callsStarted: number;
  readonly callsActive: number;
  readonly callsEnded: number;
  readonly callsAnswered: number;
  readonly eventsDelivered: number;
  /** Waiting to be delivered, including a batch being retried. */
  readonly eventsQueued: number;
  readonly retries: number;
  readonly rejected: number;
  readonly commandsReceived: number;
  readonly recordingsFetched: number;
  readonly busyExtensions: readonly string[];
}

/**
 * Everything the engine reacts to. PBX events carry the names of the public PBX API (`/pbx/v1`)
 * and `at`, the epoch milliseconds at which it happened on the PBX: start dates and durations are
 * computed from it, so events delivered late or in a burst still log the right times.
 */

export type Direction = 'inbound' | 'outbound';
export type EndReason = 'completed' | 'no_answer' | 'busy' | 'failed' | 'cancelled';

/**
 * What the host knows of an inbound caller when the call starts, from its CRM phone index: the
 * CRM record the number belongs to and the manager responsible for it. Never sent by a PBX.
 */
export interface KnownCaller {
  readonly crmEntityType: string;
  readonly crmEntityId: number;
  /** ASSIGNED_BY_ID of the record. */
  readonly userId: number;
  /** The manager's TIMEMAN_STATUS when recent enough to go by (OPENED, CLOSED, PAUSED…), else null. */
  readonly timemanStatus: string | null;
}

export interface CallStarted {
  readonly type: 'call.started';
  readonly callId: string;
  readonly at: number;
  readonly direction: Direction;
  readonly from: string;
  readonly to: string;
  readonly line?: string;
  /** Added by the host for an inbound call from a number its CRM phone index knows. */
  readonly caller?: KnownCaller;
}

export interface CallRinging {
  readonly type: 'call.ringing';
  readonly callId: string;
  readonly at: number;
  readonly extensions: readonly string[];
}

export interface CallRingStopped {
  readonly type: 'call.ring_stopped';
  readonly callId: string;
  readonly at: number;
  readonly extensions: readonly string[];
}

export interface CallAnswered {
  readonly type: 'call.answered';
  readonly callId: string;
  readonly at: number;
  readonly extension: string;
}

export interface CallTransferred {
  readonly type: 'call.transferred';
  readonly callId: string;
  readonly at: number;
  readonly to: string;
}

export interface CallEnded {
  readonly type: 'call.ended';
  readonly callId: string;
  readonly at: number;
  readonly reason?: EndReason;
}

export interface RecordingReady {
  readonly type: 'recording.ready';
  readonly callId: string;
  readonly at: number;
  readonly url?: string;
  /** Where the adapter stored an uploaded recording; the engine never holds the bytes. */
  readonly contentRef?: string;
  readonly filename?: string;
}

export type PbxEvent =
  CallStarted | CallRinging | CallRingStopped | CallAnswered | CallTransferred | CallEnded | RecordingReady;

/** The PBX asks what to ring; answered with a `pbx.plan` effect in the same step. */
export interface RouteRequested {
  readonly type: 'route.requested';
  readonly callId: string;
  readonly from: string;
  readonly to: string;
  readonly line?: string;
  /** As on `call.started`: for a route asked before the call's start arrived. */
  readonly caller?: KnownCaller;
}

export interface BitrixRegistered {
  readonly type: 'bitrix.registered';
  readonly callKey: string;
  readonly bitrixCallId: string;
  /** `''` or null when the number matched nothing and no lead was created. */
  readonly crmEntityType: string | null;
  readonly crmEntityId: number | null;
  readonly createdLead: boolean;
}

export interface BitrixResponsible {
  readonly type: 'bitrix.responsible';
  readonly callKey: string;
  /** ASSIGNED_BY_ID of the call's CRM record; null when it has none or could not be read. */
  readonly userId: number | null;
  /** That user's TIMEMAN_STATUS, when the lookup told it. */
  readonly timemanStatus?: string | null;
}

/** A Bitrix operation that failed for good (the outbox gave up); only lookups need to know. */
export interface BitrixFailed {
  readonly type: 'bitrix.failed';
  readonly callKey: string;
  readonly opId: string;
  readonly operation: 'bitrix.register' | 'bitrix.findResponsible' | 'bitrix.other';
}

export interface TimerFired {
  readonly type: 'timer.fired';
  readonly timerId: string;
}

/** ONEXTERNALCALLSTART: the portal has already registered the call and shown its card. */
export interface ClickToCallRequested {
  readonly type: 'click_to_call.requested';
  readonly bitrixCallId: string;
  readonly userId: number;
  readonly phoneNumber: string;
  readonly callListId: number | null;
  readonly lineNumber: string | null;
  readonly crmEntityType?: string;
  readonly crmEntityId?: number;
}

/** ONEXTERNALCALLBACKSTART: a customer asked to be called back. */
export interface CallbackRequested {
  readonly type: 'callback.requested';
  readonly phoneNumber: string;
  readonly lineNumber: string | null;
  readonly crmEntityType?: string;
  readonly crmEntityId?: number;
}

export type EngineInput =
  | PbxEvent
  | RouteRequested
  | BitrixRegistered
  | BitrixResponsible
  | BitrixFailed
  | TimerFired
  | ClickToCallRequested
  | CallbackRequested;

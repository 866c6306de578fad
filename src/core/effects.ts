/**
 * What the engine asks the world to do. Bitrix operations name their call by the engine's
 * `callKey`: a `register` and the `show` that follows it are emitted together, before any CALL_ID
 * exists, and the outbox resolves it (or sends both in one batch with `$result[...]`). Each
 * operation and PBX command carries a deterministic id (`<callKey>:<n>`), so replaying the same
 * inputs yields the same ids and the durable outbox can deduplicate.
 */

/** TYPE of `telephony.externalCall.register`: outgoing, incoming, callback. */
export type CallType = 1 | 2 | 4;

/** STATUS_CODE of `finish`: answered, missed, busy, unavailable, cancelled by the caller. */
export type StatusCode = '200' | '304' | '486' | '503' | '603-S';

export interface PlanStep {
  readonly extensions: readonly string[];
  readonly timeoutSec: number;
}

interface BitrixOp {
  readonly opId: string;
  readonly callKey: string;
  /** Present once the engine has learnt it (from `bitrix.registered`, or from click-to-call). */
  readonly bitrixCallId?: string;
}

export interface RegisterEffect extends BitrixOp {
  readonly type: 'bitrix.register';
  readonly userId: number;
  readonly phoneNumber: string;
  readonly callType: CallType;
  readonly lineNumber?: string;
  readonly externalCallId: string;
  /** Epoch ms; the client formats it as ISO-8601. */
  readonly callStartDate: number;
  readonly show: boolean;
  readonly crmCreate: boolean;
  readonly crmSource?: string;
  readonly callListId?: number;
  readonly crmEntityType?: string;
  readonly crmEntityId?: number;
}

export interface ShowEffect extends BitrixOp {
  readonly type: 'bitrix.show';
  readonly userIds: readonly number[];
}

export interface HideEffect extends BitrixOp {
  readonly type: 'bitrix.hide';
  readonly userIds: readonly number[];
}

export interface FinishEffect extends BitrixOp {
  readonly type: 'bitrix.finish';
  readonly userId: number;
  readonly durationSec: number;
  readonly statusCode: StatusCode;
  readonly failedReason?: string;
  readonly addToChat?: boolean;
}

export interface AttachRecordEffect extends BitrixOp {
  readonly type: 'bitrix.attachRecord';
  readonly filename: string;
  readonly url?: string;
  readonly contentRef?: string;
}

export interface FindResponsibleEffect extends BitrixOp {
  readonly type: 'bitrix.findResponsible';
  readonly phoneNumber: string;
  readonly crmEntityType: string;
  readonly crmEntityId: number;
}

export type BitrixEffect =
  RegisterEffect | ShowEffect | HideEffect | FinishEffect | AttachRecordEffect | FindResponsibleEffect;

export interface PlanEffect {
  readonly type: 'pbx.plan';
  readonly callId: string;
  readonly plan: readonly PlanStep[];
}

export interface TransferEffect {
  readonly type: 'pbx.transfer';
  readonly commandId: string;
  readonly callKey: string;
  readonly callId: string;
  readonly extension: string;
}

export interface OriginateEffect {
  readonly type: 'pbx.originate';
  readonly commandId: string;
  readonly callKey: string;
  readonly callId: string;
  /** Rung first; once answered, the PBX dials `number` and reports the call under `callId`. */
  readonly extension: string;
  readonly number: string;
}

export type PbxEffect = PlanEffect | TransferEffect | OriginateEffect;

interface TimerStartEffect {
  readonly type: 'timer.start';
  readonly timerId: string;
  /** Epoch ms at which the host feeds `timer.fired` back. */
  readonly at: number;
}

interface TimerCancelEffect {
  readonly type: 'timer.cancel';
  readonly timerId: string;
}

export type TimerEffect = TimerStartEffect | TimerCancelEffect;

export type Effect = BitrixEffect | PbxEffect | TimerEffect;

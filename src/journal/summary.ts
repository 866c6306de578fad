/** A journal summary from the engine's call, as the engine keeps it (pure). */
import type { Call } from '../core/index.ts';
import type { CallOutcome, CallSummary } from './types.ts';

function outcomeOf(call: Pick<Call, 'phase' | 'answeredAt' | 'endReason'>): CallOutcome {
  if (call.phase === 'live' || call.phase === 'pending') return 'live';
  if (call.answeredAt !== null) return 'answered';
  switch (call.endReason) {
    case 'busy':
      return 'busy';
    // The caller hung up before anybody answered.
    case 'cancelled':
      return 'abandoned';
    case 'failed':
      return 'failed';
    default:
      return 'missed';
  }
}

export function summaryOf(portalId: string, call: Call, now: number): CallSummary {
  const recording = call.recordingAttached ? (call.recording?.url ?? call.recording?.filename ?? null) : null;
  return {
    portalId,
    callKey: call.key,
    pbxCallId: call.pbxCallId,
    direction: call.direction,
    phoneNumber: call.phoneNumber,
    calledNumber: call.calledNumber,
    lineId: call.lineId,
    userId: call.handlerUserId ?? call.finishUserId ?? call.lastRungUserId ?? call.card.userId,
    startedAt: call.startedAt,
    answeredAt: call.answeredAt,
    endedAt: call.endedAt,
    outcome: outcomeOf(call),
    endReason: call.endReason,
    cardLatencyMs: null,
    crmEntityType: call.crm?.entityType ?? null,
    crmEntityId: call.crm?.entityId ?? null,
    activityId: null,
    recording,
    updatedAt: now,
  };
}

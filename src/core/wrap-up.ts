/**
 * The end of a call (S5): who it is logged to, with which status and duration, and the wait for
 * its recording. A call is finished exactly once; a recording that comes after the finish is
 * attached to the finished call instead.
 */
import { ensureRegistered, hideCard, hideCardExcept } from './card.ts';
import type { StatusCode } from './effects.ts';
import type { EndReason } from './inputs.ts';
import type { Call, RecordingRef } from './state.ts';
import { cancelTimer, emitAttachRecord, emitFinish, startTimer, type Turn } from './turn.ts';

/** Hang-up: the PBX said so (`at` from the PBX), or the engine gave up waiting (`at` = now). */
export function endCall(turn: Turn, call: Call, at: number, reason: EndReason | null): void {
  call.endedAt = at;
  call.endReason = reason;
  for (const extension of Object.keys(call.legs)) call.legs[extension] = 'stopped';
  call.hunt = null;
  for (const name of Object.keys(call.timers)) {
    if (name !== 'grace' && name !== 'recording') cancelTimer(turn, call, name);
  }
  if (call.internal) {
    markDone(turn, call);
    return;
  }
  call.phase = 'wrapping';
  const line = turn.rules.lineById(call.lineId);
  if (!call.card.registered && neverRang(call) && line.logUnrungCalls === false) {
    // The line logs only calls that rang somebody; one already registered is finished all the same.
    markDone(turn, call);
    return;
  }
  const user = finishUser(turn, call);
  if (user === null) {
    // Nobody to log it to: the card was never shown (a shown card has a registered user).
    markDone(turn, call);
    return;
  }
  call.finishUserId = user;
  hideCardExcept(turn, call, user);

  const waitMs = turn.rules.recordingMaxWaitMs;
  if (call.answeredAt === null || call.recording !== null || waitMs === 0) {
    finishCall(turn, call);
    return;
  }
  const graceMs = turn.rules.hideGraceMs;
  if (graceMs === 0) hideCard(turn, call, [user]);
  else if (graceMs < waitMs && call.card.holders.includes(user)) startTimer(turn, call, 'grace', graceMs);
  startTimer(turn, call, 'recording', waitMs);
}

/** Emits the one finish of the call (with its recording when there is one). */
export function finishCall(turn: Turn, call: Call, failedReason?: string): void {
  const user = call.finishUserId;
  if (call.finished || user === null) return;
  cancelTimer(turn, call, 'grace');
  cancelTimer(turn, call, 'recording');
  hideCardExcept(turn, call, user);
  ensureRegistered(turn, call, user);
  emitFinish(turn, call, {
    userId: user,
    durationSec: durationSec(call),
    statusCode: statusCode(call),
    ...(failedReason === undefined ? {} : { failedReason }),
  });
  // Bitrix24 hides the finishing user's card itself (spec §2.4); the others were hidden above.
  call.card.holders = [];
  call.finished = true;
  markDone(turn, call);
  if (call.recording !== null) {
    emitAttachRecord(turn, call);
    call.recordingAttached = true;
  }
}

export function recordingArrived(turn: Turn, call: Call, recording: RecordingRef): void {
  if (call.recording !== null || call.recordingAttached) return;
  call.recording = recording;
  if (call.phase === 'wrapping') {
    finishCall(turn, call);
  } else if (call.phase === 'done' && call.finished) {
    // Finished without it after the maximum wait: attach it now.
    emitAttachRecord(turn, call);
    call.recordingAttached = true;
  }
}

function markDone(turn: Turn, call: Call): void {
  call.phase = 'done';
  call.doneAt = turn.now;
}

/** No phone rang for it: busy, every member busy, the caller gone in the IVR, no route. */
function neverRang(call: Call): boolean {
  return call.answeredAt === null && Object.keys(call.legs).length === 0;
}

/**
 * An answered call belongs to whoever had it last; a missed one to the line's missed-call user or
 * the last member rung, so somebody sees it and calls back; one that rang nobody to the user of the
 * extension dialled, else the line's missed-call user. Failing all of those, the default user,
 * then the portal's installer: a call is never dropped for want of a user to log it under.
 */
function finishUser(turn: Turn, call: Call): number | null {
  const { rules } = turn;
  const line = rules.lineById(call.lineId);
  const owned = call.answeredAt !== null || call.direction === 'outbound';
  const candidates = owned
    ? [call.handlerUserId, call.card.userId, line.missedCallUserId]
    : neverRang(call)
      ? [rules.userOf(call.calledNumber), line.missedCallUserId, call.card.userId]
      : [line.missedCallUserId, call.lastRungUserId, call.card.userId];
  for (const user of [...candidates, rules.defaultUserId, rules.installerUserId])
    if (user !== undefined && user !== null) return user;
  return null;
}

function durationSec(call: Call): number {
  if (call.answeredAt === null || call.endedAt === null) return 0;
  // An answered call lasts at least a second, so Bitrix24 counts it as answered (CALL_STATUS=1).
  return Math.max(1, Math.ceil((call.endedAt - call.answeredAt) / 1000));
}

function statusCode(call: Call): StatusCode {
  if (call.answeredAt !== null) return '200';
  // A busy line that rang nobody says so; otherwise an unanswered incoming call is a missed call,
  // whatever the reason: that is what gets called back.
  if (call.direction === 'inbound' && call.endReason === 'busy' && neverRang(call)) return '486';
  if (call.direction === 'inbound' || call.origin === 'callback') return '304';
  switch (call.endReason) {
    case 'busy':
      return '486';
    case 'cancelled':
      return '603-S';
    case 'failed':
      return '503';
    default:
      return '304';
  }
}

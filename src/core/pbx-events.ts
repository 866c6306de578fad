/**
 * The PBX's events on one call. Each handler works on a private copy of the call; an event that
 * makes no sense any more (ringing after hang-up, a repeated answer) changes nothing, so repeated
 * and reordered deliveries are harmless.
 */
import { hideCard, hideCardExcept, showCard } from './card.ts';
import type {
  CallAnswered,
  CallEnded,
  CallRinging,
  CallRingStopped,
  CallStarted,
  RecordingReady,
} from './inputs.ts';
import { isFeatureCode } from './config.ts';
import {
  engineTarget,
  huntNext,
  knownCaller,
  managerRings,
  responsibleFailed,
  responsibleUserForRegister,
  stopSteering,
} from './routing.ts';
import { legOf, newCall, setOwn, type Call } from './state.ts';
import { cancelTimer, emitRegister, startTimer, type Turn } from './turn.ts';
import { endCall, recordingArrived } from './wrap-up.ts';

/**
 * A new call, or the PBX reporting a call the engine asked it to originate, or the late start of a
 * call whose end came first (a tombstone); null: a repeat.
 */
export function callStarted(turn: Turn, existing: Call | null, input: CallStarted): Call | null {
  if (existing?.tombstone === true) return lateStart(turn, existing, input);
  if (existing !== null) {
    if (existing.phase !== 'pending') return null;
    existing.phase = 'live';
    cancelTimer(turn, existing, 'originate');
    startStaleTimer(turn, existing);
    return existing;
  }
  const call = openCall(turn, input);
  startStaleTimer(turn, call);
  return call;
}

/** The call of a `call.started`, with what its first moment asks for (a card, a CRM lookup). */
function openCall(turn: Turn, input: CallStarted): Call {
  const { rules } = turn;
  const inbound = input.direction === 'inbound';
  const line = rules.resolveLine(input.line, inbound ? input.to : undefined);
  const call = newCall({
    pbxCallId: input.callId,
    origin: 'pbx',
    direction: input.direction,
    callType: inbound ? 2 : 1,
    // A phone dialling a feature code (*97: its voicemail) is no call with anybody.
    internal: rules.isExtension(inbound ? input.from : input.to) || (!inbound && isFeatureCode(input.to)),
    phase: 'live',
    lineId: line.id,
    lineNumber: line.number ?? input.line ?? null,
    phoneNumber: inbound ? input.from : input.to,
    calledNumber: inbound ? input.to : input.from,
    startedAt: input.at,
  });
  // The caller's own phone is busy for as long as the call lasts.
  if (!inbound || call.internal) setOwn(call.legs, input.from, 'talking');
  if (call.internal) return call;

  if (!inbound) {
    const user = rules.userOf(input.from);
    if (user !== null) {
      call.handlerUserId = user;
      showCard(turn, call, [user]);
    }
    return call;
  }
  if (line.routing.kind === 'responsible') {
    if (input.caller !== undefined) {
      // The index knows the manager: no lookup, the first ring (the manager's) registers the call.
      knownCaller(turn, call, input.caller);
      return call;
    }
    const user = responsibleUserForRegister(turn, line);
    if (user !== null) {
      emitRegister(turn, call, user, false);
      call.responsible = { status: 'registering', userId: null, extension: null };
    }
  }
  return call;
}

/** The start of a call that has already ended: logged at once, and no phone shows a card for it. */
function lateStart(turn: Turn, tombstone: Call, input: CallStarted): Call {
  const call = openCall(turn, { ...input, at: Math.min(input.at, tombstone.endedAt ?? input.at) });
  endCall(turn, call, tombstone.endedAt ?? input.at, tombstone.endReason);
  return call;
}

/** `call.ended` of a call never heard of: kept for a while, in case its start is only late. */
export function tombstoneOf(turn: Turn, input: CallEnded): Call {
  const call = newCall({
    pbxCallId: input.callId,
    origin: 'pbx',
    direction: 'inbound',
    callType: 2,
    internal: false,
    phase: 'done',
    lineId: '',
    lineNumber: null,
    phoneNumber: '',
    calledNumber: '',
    startedAt: input.at,
  });
  call.endedAt = input.at;
  call.endReason = input.reason ?? null;
  call.doneAt = turn.now;
  call.tombstone = true;
  call.forgetAt = turn.now + turn.rules.tombstoneMs;
  return call;
}

function startStaleTimer(turn: Turn, call: Call): void {
  if (turn.rules.maxCallMs > 0) startTimer(turn, call, 'stale', turn.rules.maxCallMs);
}

export function callRinging(turn: Turn, call: Call, input: CallRinging): void {
  if (call.phase !== 'live') return;
  if (call.answeredAt !== null) {
    consultationRings(turn, call, input.extensions);
    return;
  }
  const users: number[] = [];
  const extensions = new Set(input.extensions);
  for (const extension of extensions) {
    if (legOf(call, extension) === 'talking') continue;
    setOwn(call.legs, extension, 'ringing');
    const user = turn.rules.userOf(extension);
    if (user === null) continue;
    users.push(user);
    call.lastRungUserId = user;
  }
  const responsible = call.responsible;
  // The PBX rings on its own while the manager is known: the call goes to the manager instead, and
  // the phones it leaves never show its card.
  if (responsible?.status === 'known' && managerRings(turn, call, [...extensions])) return;
  // An outgoing call's card belongs to the caller; phones ringing for it show nothing.
  if (call.direction === 'inbound') showCard(turn, call, users);
}

/**
 * Another phone rings for a call someone is on: the target of a transfer being prepared (an
 * attended transfer rings it inside the call while the call's holder waits). Its user sees the
 * card while it rings, not only once they pick up.
 */
function consultationRings(turn: Turn, call: Call, extensions: readonly string[]): void {
  const users: number[] = [];
  for (const extension of new Set(extensions)) {
    if (legOf(call, extension) === 'talking') continue;
    setOwn(call.legs, extension, 'ringing');
    const user = turn.rules.userOf(extension);
    if (user !== null) users.push(user);
  }
  showCard(turn, call, users);
}

export function callRingStopped(turn: Turn, call: Call, input: CallRingStopped): void {
  if (call.phase !== 'live') return;
  const responsible = call.responsible;
  const echo =
    responsible?.status === 'transferred' && responsible.rering === true ? responsible.extension : null;
  let stopped = [...new Set(input.extensions)].filter((e) => legOf(call, e) === 'ringing');
  if (echo !== null && stopped.includes(echo) && responsible !== null) {
    // The queue's ringing of the manager ended as the transfer took the call: they ring on alone.
    responsible.rering = false;
    stopped = stopped.filter((e) => e !== echo);
  }
  for (const extension of stopped) setOwn(call.legs, extension, 'stopped');
  if (stopped.length === 0) return;
  if (call.answeredAt !== null) {
    // Once answered, the call belongs to whoever took it; a phone that rang for it since (a
    // transfer's target) loses its card when it stops, unless its user is on the call.
    hideCard(
      turn,
      call,
      usersOf(turn, stopped).filter((u) => !ringsElsewhere(turn, call, u) && !talksIn(turn, call, u)),
    );
    return;
  }
  if (call.direction === 'inbound') {
    hideCard(
      turn,
      call,
      usersOf(turn, stopped).filter((u) => !ringsElsewhere(turn, call, u)),
    );
  }
  const target = engineTarget(call);
  if (target === null || !stopped.includes(target)) return;
  if (call.responsible?.status === 'transferred') {
    responsibleFailed(turn, call);
  } else if (call.hunt !== null) {
    cancelTimer(turn, call, `hunt.${call.hunt.index}`);
    huntNext(turn, call, null);
  }
}

function usersOf(turn: Turn, extensions: readonly string[]): number[] {
  return extensions.map((e) => turn.rules.userOf(e)).filter((u) => u !== null);
}

function ringsElsewhere(turn: Turn, call: Call, user: number): boolean {
  return Object.entries(call.legs).some(([e, leg]) => leg === 'ringing' && turn.rules.userOf(e) === user);
}

function talksIn(turn: Turn, call: Call, user: number): boolean {
  return Object.entries(call.legs).some(([e, leg]) => leg === 'talking' && turn.rules.userOf(e) === user);
}

export function callAnswered(turn: Turn, call: Call, input: CallAnswered): void {
  if (call.phase !== 'live') return;
  const extension = input.extension;
  if (call.answeredAt !== null) {
    // Answered again on another phone: the call moved there.
    if (legOf(call, extension) !== 'talking') moveCall(turn, call, extension);
    return;
  }
  call.answeredAt = input.at;
  for (const [other, leg] of Object.entries(call.legs)) {
    if (leg === 'ringing' && other !== extension) setOwn(call.legs, other, 'stopped');
  }
  setOwn(call.legs, extension, 'talking');
  stopSteering(turn, call);
  // An outgoing call answered by the far end reports no office phone: it stays the caller's.
  if (call.direction === 'outbound' && !turn.rules.isExtension(extension)) return;
  const user = turn.rules.userOf(extension);
  if (user !== null) call.handlerUserId = user;
  hideCardExcept(turn, call, user);
  if (user !== null) showCard(turn, call, [user]);
}

/**
 * A transfer sends the call to ring at `to`. Even an answered call belongs to the new phone only
 * once it is answered there (the PBX reports `call.answered` for it): a transfer nobody picks up
 * must not hand the call to that person. That matters most when the engine's own transfer to the
 * responsible manager (S3) reaches the PBX just after a queue member answered: the call was the
 * member's, and stays theirs unless the manager answers.
 */
export function callTransferred(turn: Turn, call: Call, to: string): void {
  if (call.phase !== 'live') return;
  const responsible = call.responsible;
  // The PBX's echo of the engine's transfer: from now on the manager's phone rings by it.
  if (responsible?.status === 'transferred' && responsible.extension === to) responsible.rering = false;
  moveCall(turn, call, to, { ringing: true });
}

/** The card follows the call: down for whoever had it, up for the phone it went to. */
function moveCall(turn: Turn, call: Call, extension: string, o: { ringing?: boolean } = {}): void {
  const answered = call.answeredAt !== null && o.ringing !== true;
  const leg = legOf(call, extension);
  if (leg === 'talking') return;
  const steered = engineTarget(call) === extension;
  if (steered && leg === 'ringing') return;
  if (!steered) stopSteering(turn, call);
  for (const [other, otherLeg] of Object.entries(call.legs)) {
    if (other !== extension && otherLeg !== 'stopped') setOwn(call.legs, other, 'stopped');
  }
  setOwn(call.legs, extension, answered ? 'talking' : 'ringing');
  const user = turn.rules.userOf(extension);
  if (user !== null) {
    if (answered) call.handlerUserId = user;
    else call.lastRungUserId = user;
  }
  hideCardExcept(turn, call, user);
  if (user !== null) showCard(turn, call, [user]);
}

export function callEnded(turn: Turn, call: Call, input: CallEnded): void {
  if (call.phase !== 'live' && call.phase !== 'pending') return;
  endCall(turn, call, input.at, input.reason ?? null);
}

export function recordingReady(turn: Turn, call: Call, input: RecordingReady): void {
  const url = input.url ?? null;
  const contentRef = input.contentRef ?? null;
  if (url === null && contentRef === null) return;
  const filename = input.filename ?? (url === null ? null : filenameOf(url)) ?? `${safeName(call.key)}.mp3`;
  recordingArrived(turn, call, { url, contentRef, filename });
}

/** Bitrix24 accepts only .mp3 and .wav names (spec §2.5). */
function filenameOf(url: string): string | null {
  const path = url.split(/[?#]/, 1)[0] ?? '';
  const name = path.slice(path.lastIndexOf('/') + 1);
  return /\.(mp3|wav)$/i.test(name) ? name : null;
}

function safeName(key: string): string {
  return `call-${key.replace(/[^A-Za-z0-9._-]/g, '_')}`;
}

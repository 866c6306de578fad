/**
 * One step's working context: the rules, the clock, presence as it was before the step, and the
 * effects emitted so far. Handlers change a private copy of one call and emit through here,
 * the way xstate's `transition` collects actions through its actor scope instead of running them.
 */
import { createsLead, type Rules } from './config.ts';
import type { Effect, RegisterEffect, StatusCode } from './effects.ts';
import { isBusy } from './presence.ts';
import type { Call, EngineState } from './state.ts';

export interface Turn {
  readonly rules: Rules;
  readonly now: number;
  readonly effects: Effect[];
  /** Free for `call`: mapped to a user and neither ringing nor talking in another call. */
  isFree(call: Call | null, extension: string): boolean;
}

export function createTurn(rules: Rules, before: EngineState, now: number): Turn {
  return {
    rules,
    now,
    effects: [],
    isFree: (call, extension) =>
      rules.userOf(extension) !== null && !isBusy(before, extension, call?.key ?? null),
  };
}

function nextId(call: Call): string {
  const id = `${call.key}:${call.ops}`;
  call.ops += 1;
  return id;
}

function opBase(call: Call) {
  return {
    opId: nextId(call),
    callKey: call.key,
    ...(call.bitrixCallId === null ? {} : { bitrixCallId: call.bitrixCallId }),
  };
}

export function emitRegister(turn: Turn, call: Call, userId: number, show: boolean): void {
  const line = turn.rules.lineById(call.lineId);
  // A callback is the customer reaching out, whichever side dials.
  const crmCreate = createsLead(line, call.origin === 'callback' ? 'inbound' : call.direction);
  const effect: RegisterEffect = {
    type: 'bitrix.register',
    ...opBase(call),
    userId,
    phoneNumber: call.phoneNumber,
    callType: call.callType,
    ...(call.lineNumber === null ? {} : { lineNumber: call.lineNumber }),
    externalCallId: call.key,
    callStartDate: call.startedAt,
    show,
    crmCreate,
    ...(crmCreate && line.crmSource !== undefined ? { crmSource: line.crmSource } : {}),
    ...(call.callListId === null ? {} : { callListId: call.callListId }),
    ...(call.crm === null ? {} : { crmEntityType: call.crm.entityType, crmEntityId: call.crm.entityId }),
  };
  turn.effects.push(effect);
  call.card.registered = true;
  call.card.userId = userId;
}

export function emitShow(turn: Turn, call: Call, userIds: readonly number[]): void {
  turn.effects.push({ type: 'bitrix.show', ...opBase(call), userIds: [...userIds] });
}

export function emitHide(turn: Turn, call: Call, userIds: readonly number[]): void {
  turn.effects.push({ type: 'bitrix.hide', ...opBase(call), userIds: [...userIds] });
}

export function emitFinish(
  turn: Turn,
  call: Call,
  finish: { userId: number; durationSec: number; statusCode: StatusCode; failedReason?: string },
): void {
  const addToChat = turn.rules.addToChat;
  turn.effects.push({
    type: 'bitrix.finish',
    ...opBase(call),
    ...finish,
    ...(addToChat === null ? {} : { addToChat }),
  });
}

export function emitAttachRecord(turn: Turn, call: Call): void {
  const recording = call.recording;
  if (recording === null) return;
  turn.effects.push({
    type: 'bitrix.attachRecord',
    ...opBase(call),
    filename: recording.filename,
    ...(recording.url === null ? {} : { url: recording.url }),
    ...(recording.contentRef === null ? {} : { contentRef: recording.contentRef }),
  });
}

export function emitFindResponsible(
  turn: Turn,
  call: Call,
  crmEntityType: string,
  crmEntityId: number,
): void {
  turn.effects.push({
    type: 'bitrix.findResponsible',
    ...opBase(call),
    phoneNumber: call.phoneNumber,
    crmEntityType,
    crmEntityId,
  });
}

export function emitTransfer(turn: Turn, call: Call, extension: string): void {
  turn.effects.push({
    type: 'pbx.transfer',
    commandId: nextId(call),
    callKey: call.key,
    callId: call.pbxCallId,
    extension,
  });
}

export function emitOriginate(turn: Turn, call: Call, extension: string): void {
  const commandId = nextId(call);
  call.originateCommandId = commandId;
  turn.effects.push({
    type: 'pbx.originate',
    commandId,
    callKey: call.key,
    callId: call.pbxCallId,
    extension,
    number: call.phoneNumber,
  });
}

function timerId(call: Call, name: string): string {
  return `${call.key}#${name}`;
}

/** A timer id is `<callKey>#<name>`; names never contain `#`, keys may. */
export function parseTimerId(id: string): { callKey: string; name: string } | null {
  const hash = id.lastIndexOf('#');
  return hash < 0 ? null : { callKey: id.slice(0, hash), name: id.slice(hash + 1) };
}

export function startTimer(turn: Turn, call: Call, name: string, afterMs: number): void {
  const at = turn.now + afterMs;
  call.timers[name] = at;
  turn.effects.push({ type: 'timer.start', timerId: timerId(call, name), at });
}

export function cancelTimer(turn: Turn, call: Call, name: string): void {
  if (!Object.hasOwn(call.timers, name)) return;
  // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- timer names are the engine's own
  delete call.timers[name];
  turn.effects.push({ type: 'timer.cancel', timerId: timerId(call, name) });
}

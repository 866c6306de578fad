/**
 * Where a call rings. Two ways, because PBXes differ:
 * - the PBX asks (`route.requested`) and rings the plan it is given, while the engine mirrors its
 *   ringing events on the cards;
 * - the engine moves the call itself with transfers: to the responsible manager (S3) and, when the
 *   manager does not answer, back to the queue.
 */
import { queueOf, type LineConfig, type QueueConfig } from './config.ts';
import { hideCard, showCard } from './card.ts';
import type { PlanStep } from './effects.ts';
import type { KnownCaller, RouteRequested } from './inputs.ts';
import { legOf, setOwn, type Call } from './state.ts';
import { cancelTimer, emitFindResponsible, emitTransfer, startTimer, type Turn } from './turn.ts';

/** Free members only: one step with all of them, or one step per member in turn. */
function queuePlan(
  turn: Turn,
  call: Call | null,
  queue: QueueConfig,
  skip: string | null = null,
): PlanStep[] {
  const free = queue.members.filter((m) => m !== skip && turn.isFree(call, m));
  if (free.length === 0) return [];
  const timeoutSec = queue.memberTimeoutSec;
  return queue.strategy === 'simultaneous'
    ? [{ extensions: free, timeoutSec }]
    : free.map((m) => ({ extensions: [m], timeoutSec }));
}

/**
 * The answer to `route.requested`: what is free now, the known manager first. A manager the engine
 * already transferred the call to stays first, and the PBX takes over their timeout.
 */
export function routePlan(
  turn: Turn,
  call: Call | null,
  line: LineConfig,
  calledNumber: string,
  input?: RouteRequested,
): PlanStep[] {
  const routing = line.routing;
  if (call?.internal === true) return [{ extensions: [calledNumber], timeoutSec: turn.rules.ringTimeoutSec }];
  if (routing.kind === 'direct') {
    const timeoutSec = routing.timeoutSec ?? turn.rules.ringTimeoutSec;
    return [{ extensions: [routing.extension ?? calledNumber], timeoutSec }];
  }
  if (routing.kind === 'queue') return queuePlan(turn, call, routing.queue);

  if (call === null) {
    // Asked before the call's start arrived: what the index knows of the caller still counts.
    const manager = callerManager(turn, null, input?.caller);
    return manager === null
      ? queuePlan(turn, null, routing.then)
      : [
          { extensions: [manager.extension], timeoutSec: routing.responsibleTimeoutSec },
          ...queuePlan(turn, null, routing.then, manager.extension),
        ];
  }
  const responsible = call.responsible;
  const extension = responsible?.extension ?? null;
  if (responsible?.status === 'known') cancelTimer(turn, call, 'route');
  if (
    responsible !== null &&
    extension !== null &&
    (responsible.status === 'transferred' ||
      responsible.status === 'planned' ||
      responsible.status === 'known') &&
    (legOf(call, extension) === 'ringing' || turn.isFree(call, extension))
  ) {
    // The PBX takes over the manager's timeout and the fall back to the queue.
    cancelTimer(turn, call, 'responsible');
    responsible.status = 'planned';
    responsible.rering = false;
    return [
      { extensions: [extension], timeoutSec: routing.responsibleTimeoutSec },
      ...queuePlan(turn, call, routing.then, extension),
    ];
  }
  if (responsible?.status === 'known') responsible.status = 'none';
  return queuePlan(turn, call, routing.then, responsible?.status === 'failed' ? extension : null);
}

/** Off work by Bitrix24's time tracking: the workday is closed or on a break. */
function offWork(turn: Turn, timemanStatus: string | null | undefined): boolean {
  if (!turn.rules.skipClosedWorkday || timemanStatus == null) return false;
  const status = timemanStatus.toUpperCase();
  return status === 'CLOSED' || status === 'PAUSED';
}

/** The known caller's manager, when they can take the call now: mapped to a phone, at work, free. */
function callerManager(
  turn: Turn,
  call: Call | null,
  caller: KnownCaller | undefined,
): { userId: number; extension: string } | null {
  if (caller === undefined) return null;
  const extension = turn.rules.extensionOf(caller.userId);
  if (extension === null || offWork(turn, caller.timemanStatus) || !turn.isFree(call, extension)) return null;
  return { userId: caller.userId, extension };
}

/**
 * The call starts with its manager known (the CRM phone index): nothing to look up. The PBX's
 * request for a plan puts the manager first; a PBX that rings on its own, or does not ask within
 * `routeWaitSec`, gets the call transferred to the manager. A manager who cannot take it (no
 * phone, off work, busy) leaves the call to the queue.
 */
export function knownCaller(turn: Turn, call: Call, caller: KnownCaller): void {
  const manager = callerManager(turn, call, caller);
  call.responsible = {
    status: manager === null ? 'none' : 'known',
    userId: caller.userId,
    extension: manager?.extension ?? turn.rules.extensionOf(caller.userId),
  };
  if (manager !== null) startTimer(turn, call, 'route', turn.rules.routeWaitMs);
}

/**
 * Phones ring for a call whose manager is known, before any plan was asked for. The manager alone:
 * the PBX rings them first by itself. Anybody else: the PBX routes on its own, and the call is
 * transferred to the manager (true: the phones it leaves are not to show its card).
 */
export function managerRings(turn: Turn, call: Call, extensions: readonly string[]): boolean {
  const responsible = call.responsible;
  const extension = responsible?.extension ?? null;
  if (responsible?.status !== 'known' || extension === null || responsible.userId === null) return false;
  cancelTimer(turn, call, 'route');
  if (extensions.every((e) => e === extension)) {
    responsible.status = 'planned';
    return false;
  }
  if (legOf(call, extension) !== 'ringing' && !turn.isFree(call, extension)) {
    responsible.status = 'none';
    return false;
  }
  transferToManager(turn, call, extension, responsible.userId);
  return true;
}

/** The known manager's wait for a plan is over: the engine moves the call there itself. */
export function routeWaitOver(turn: Turn, call: Call): void {
  const responsible = call.responsible;
  const extension = responsible?.extension ?? null;
  if (responsible?.status !== 'known' || extension === null || responsible.userId === null) return;
  if (legOf(call, extension) !== 'ringing' && !turn.isFree(call, extension)) {
    responsible.status = 'none';
    return;
  }
  transferToManager(turn, call, extension, responsible.userId);
}

/** S3 starts with a register without a card, to learn which CRM record the caller is. */
export function responsibleUserForRegister(turn: Turn, line: LineConfig): number | null {
  const candidates = [line.missedCallUserId, turn.rules.defaultUserId];
  for (const user of candidates) if (user !== undefined && user !== null) return user;
  for (const member of queueOf(line)?.members ?? []) {
    const user = turn.rules.userOf(member);
    if (user !== null) return user;
  }
  return turn.rules.installerUserId;
}

export function registered(
  turn: Turn,
  call: Call,
  crm: { entityType: string; entityId: number } | null,
  createdLead: boolean,
): void {
  const responsible = call.responsible;
  if (responsible?.status !== 'registering') return;
  // A lead created just now has no manager of its own yet: the queue takes the call.
  if (crm === null || createdLead || call.phase !== 'live' || call.answeredAt !== null) {
    responsible.status = 'none';
    return;
  }
  emitFindResponsible(turn, call, crm.entityType, crm.entityId);
  responsible.status = 'looking';
}

/**
 * The manager is known. Transfer the call there and show the card, unless the call is answered,
 * the manager has no phone, is off work or busy (the PBX's own routing, the queue, carries on), or
 * the manager's phone already rings for it alone. When it rings for it with the rest of the queue,
 * the call is transferred to the manager alone: the other members stop ringing.
 */
export function responsibleFound(
  turn: Turn,
  call: Call,
  userId: number | null,
  timemanStatus: string | null = null,
): void {
  const responsible = call.responsible;
  if (responsible?.status !== 'looking') return;
  responsible.userId = userId;
  const extension = userId === null ? null : turn.rules.extensionOf(userId);
  responsible.extension = extension;
  if (
    userId === null ||
    extension === null ||
    call.phase !== 'live' ||
    call.answeredAt !== null ||
    offWork(turn, timemanStatus)
  ) {
    responsible.status = 'none';
    return;
  }
  if (legOf(call, extension) === 'ringing') {
    const others = Object.entries(call.legs).some(([e, leg]) => e !== extension && leg === 'ringing');
    if (!others) {
      responsible.status = 'planned';
      return;
    }
    transferToManager(turn, call, extension, userId);
    return;
  }
  if (!turn.isFree(call, extension)) {
    responsible.status = 'none';
    return;
  }
  transferToManager(turn, call, extension, userId);
}

/** Rings the manager by a transfer, with the card, for as long as the line gives them. */
function transferToManager(turn: Turn, call: Call, extension: string, userId: number): void {
  const responsible = call.responsible;
  if (responsible === null) return;
  // Ringing already (with the queue): the PBX will report that ringing stopped, as the transfer's echo.
  const rering = legOf(call, extension) === 'ringing';
  ringByTransfer(turn, call, extension, userId);
  const line = turn.rules.lineById(call.lineId);
  const timeoutSec = line.routing.kind === 'responsible' ? line.routing.responsibleTimeoutSec : 0;
  startTimer(turn, call, 'responsible', timeoutSec * 1000);
  responsible.status = 'transferred';
  responsible.rering = rering;
}

/**
 * The manager did not answer (timeout, or their phone stopped ringing): give the call back to the
 * queue. With no free member and no queue number, the manager's phone simply rings on.
 */
export function responsibleFailed(turn: Turn, call: Call): void {
  const responsible = call.responsible;
  if (responsible?.status !== 'transferred') return;
  responsible.status = 'failed';
  cancelTimer(turn, call, 'responsible');
  const queue = queueOf(turn.rules.lineById(call.lineId));
  if (queue === null) return;
  const extension = responsible.extension;
  if (queue.extension !== undefined) {
    leaveExtension(turn, call, extension);
    emitTransfer(turn, call, queue.extension);
    return;
  }
  const targets = queue.members.filter((m) => m !== extension && turn.isFree(call, m));
  if (targets.length === 0) return;
  call.hunt = { targets, index: -1 };
  huntNext(turn, call, extension);
}

/** Next free member of the engine's own hunt; the last one rings on when everyone else is taken. */
export function huntNext(turn: Turn, call: Call, leaving: string | null): void {
  const hunt = call.hunt;
  if (hunt === null) return;
  const line = turn.rules.lineById(call.lineId);
  const queue = queueOf(line);
  let next = hunt.index + 1;
  while (next < hunt.targets.length && !turn.isFree(call, hunt.targets[next] ?? '')) next += 1;
  const target = hunt.targets[next];
  if (queue === null || target === undefined) return;
  const user = turn.rules.userOf(target);
  if (user === null) return;
  leaveExtension(turn, call, leaving ?? hunt.targets[hunt.index] ?? null);
  hunt.index = next;
  ringByTransfer(turn, call, target, user);
  startTimer(turn, call, `hunt.${next}`, queue.memberTimeoutSec * 1000);
}

/** The call goes elsewhere: that phone stops ringing for it and its card goes down. */
function leaveExtension(turn: Turn, call: Call, extension: string | null): void {
  if (extension === null) return;
  if (legOf(call, extension) === 'ringing') setOwn(call.legs, extension, 'stopped');
  const user = turn.rules.userOf(extension);
  if (user !== null) hideCard(turn, call, [user]);
}

function ringByTransfer(turn: Turn, call: Call, extension: string, userId: number): void {
  // The call leaves whatever the PBX was ringing for it; those cards go down with it, in one hide.
  const left: number[] = [];
  for (const [other, leg] of Object.entries(call.legs)) {
    if (other === extension || leg !== 'ringing') continue;
    setOwn(call.legs, other, 'stopped');
    const user = turn.rules.userOf(other);
    if (user !== null && user !== userId) left.push(user);
  }
  hideCard(turn, call, left);
  setOwn(call.legs, extension, 'ringing');
  call.lastRungUserId = userId;
  emitTransfer(turn, call, extension);
  showCard(turn, call, [userId]);
}

/** Where the engine itself sent the call, if it did: the PBX's echo of that move changes nothing. */
export function engineTarget(call: Call): string | null {
  if (call.responsible?.status === 'transferred') return call.responsible.extension;
  if (call.hunt !== null) return call.hunt.targets[call.hunt.index] ?? null;
  return null;
}

/** Answered, or moved by the PBX or a person: the engine stops steering the call. */
export function stopSteering(turn: Turn, call: Call): void {
  const status = call.responsible?.status;
  if (call.responsible && (status === 'transferred' || status === 'known'))
    call.responsible.status = 'settled';
  call.hunt = null;
  for (const name of Object.keys(call.timers)) {
    if (name === 'responsible' || name === 'route' || name.startsWith('hunt.')) cancelTimer(turn, call, name);
  }
}

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
import { legOf, setOwn, type Call } from './state.ts';
import { cancelTimer, emitFindResponsible, emitTransfer, startTimer, type Turn } from './turn.ts';

/** Free members only: one step with all of them, or one step per member in turn. */
export function queuePlan(
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
export function routePlan(turn: Turn, call: Call | null, line: LineConfig, calledNumber: string): PlanStep[] {
  const routing = line.routing;
  if (call?.internal === true) return [{ extensions: [calledNumber], timeoutSec: turn.rules.ringTimeoutSec }];
  if (routing.kind === 'direct') {
    const timeoutSec = routing.timeoutSec ?? turn.rules.ringTimeoutSec;
    return [{ extensions: [routing.extension ?? calledNumber], timeoutSec }];
  }
  if (routing.kind === 'queue') return queuePlan(turn, call, routing.queue);

  const responsible = call?.responsible ?? null;
  const extension = responsible?.extension ?? null;
  if (
    call !== null &&
    responsible !== null &&
    extension !== null &&
    (responsible.status === 'transferred' || responsible.status === 'planned') &&
    (legOf(call, extension) === 'ringing' || turn.isFree(call, extension))
  ) {
    // The PBX takes over the manager's timeout and the fall back to the queue.
    cancelTimer(turn, call, 'responsible');
    responsible.status = 'planned';
    return [
      { extensions: [extension], timeoutSec: routing.responsibleTimeoutSec },
      ...queuePlan(turn, call, routing.then, extension),
    ];
  }
  return queuePlan(turn, call, routing.then, responsible?.status === 'failed' ? extension : null);
}

/** S3 starts with a register without a card, to learn which CRM record the caller is. */
export function responsibleUserForRegister(turn: Turn, line: LineConfig): number | null {
  const candidates = [line.missedCallUserId, turn.rules.defaultUserId];
  for (const user of candidates) if (user !== undefined && user !== null) return user;
  for (const member of queueOf(line)?.members ?? []) {
    const user = turn.rules.userOf(member);
    if (user !== null) return user;
  }
  return null;
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
 * the manager has no phone or is busy (the PBX's own routing, the queue, carries on), or the
 * manager's phone already rings for it.
 */
export function responsibleFound(turn: Turn, call: Call, userId: number | null): void {
  const responsible = call.responsible;
  if (responsible?.status !== 'looking') return;
  responsible.userId = userId;
  const extension = userId === null ? null : turn.rules.extensionOf(userId);
  responsible.extension = extension;
  if (userId === null || extension === null || call.phase !== 'live' || call.answeredAt !== null) {
    responsible.status = 'none';
    return;
  }
  if (legOf(call, extension) === 'ringing') {
    responsible.status = 'planned';
    return;
  }
  if (!turn.isFree(call, extension)) {
    responsible.status = 'none';
    return;
  }
  ringByTransfer(turn, call, extension, userId);
  const line = turn.rules.lineById(call.lineId);
  const timeoutSec = line.routing.kind === 'responsible' ? line.routing.responsibleTimeoutSec : 0;
  startTimer(turn, call, 'responsible', timeoutSec * 1000);
  responsible.status = 'transferred';
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
  // The call leaves whatever the PBX was ringing for it; those cards go down with it.
  for (const [other, leg] of Object.entries(call.legs)) {
    if (other !== extension && leg === 'ringing') leaveExtension(turn, call, other);
  }
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
  if (call.responsible?.status === 'transferred') call.responsible.status = 'settled';
  call.hunt = null;
  for (const name of Object.keys(call.timers)) {
    if (name === 'responsible' || name.startsWith('hunt.')) cancelTimer(turn, call, name);
  }
}

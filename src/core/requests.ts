/**
 * Calls the engine starts itself, on Bitrix24's request: click-to-call (S4) and callback. The
 * engine names the PBX call (`callId` of `pbx.originate`), and the PBX reports it under that name.
 */
import { queueOf, type LineConfig } from './config.ts';
import { showCard } from './card.ts';
import type { CallbackRequested, ClickToCallRequested } from './inputs.ts';
import { allCalls, newCall, setOwn, type Call, type EngineState } from './state.ts';
import type { OriginateEffect } from './effects.ts';
import { emitOriginate, startTimer, type Turn } from './turn.ts';
import { endCall, finishCall } from './wrap-up.ts';

export function clickToCallCallId(bitrixCallId: string): string {
  return `c2c.${bitrixCallId}`;
}

function callbackCallId(seq: number): string {
  return `cb.${seq}`;
}

/** The portal registered the call and shows its card: the engine only dials and later finishes it. */
export function clickToCall(turn: Turn, input: ClickToCallRequested): Call {
  const line = turn.rules.resolveLine(input.lineNumber ?? undefined, undefined);
  const extension = turn.rules.extensionOf(input.userId);
  const call = newCall({
    pbxCallId: clickToCallCallId(input.bitrixCallId),
    origin: 'click_to_call',
    direction: 'outbound',
    callType: 1,
    internal: false,
    phase: 'pending',
    lineId: line.id,
    lineNumber: input.lineNumber ?? line.number ?? null,
    phoneNumber: input.phoneNumber,
    calledNumber: extension ?? '',
    startedAt: turn.now,
  });
  call.bitrixCallId = input.bitrixCallId;
  // Kept so that any later register of this call carries it: recordings land in the call list.
  call.callListId = input.callListId !== null && input.callListId > 0 ? input.callListId : null;
  if (input.crmEntityType !== undefined && input.crmEntityId !== undefined)
    call.crm = { entityType: input.crmEntityType, entityId: input.crmEntityId };
  call.card = { registered: true, userId: input.userId, holders: [input.userId] };
  call.handlerUserId = input.userId;

  if (extension === null) {
    call.endedAt = turn.now;
    call.endReason = 'failed';
    call.finishUserId = input.userId;
    call.phase = 'wrapping';
    finishCall(turn, call, 'The user has no extension on the PBX');
    return call;
  }
  originate(turn, call, extension);
  return call;
}

/** Register TYPE 4 for a free agent, ring the agent, then dial the customer. */
export function callback(turn: Turn, input: CallbackRequested, seq: number): Call {
  const line = turn.rules.resolveLine(input.lineNumber ?? undefined, undefined);
  const agent = freeAgent(turn, line);
  const call = newCall({
    pbxCallId: callbackCallId(seq),
    origin: 'callback',
    direction: 'outbound',
    callType: 4,
    internal: false,
    phase: 'pending',
    lineId: line.id,
    lineNumber: line.number ?? input.lineNumber ?? null,
    phoneNumber: input.phoneNumber,
    calledNumber: agent ?? '',
    startedAt: turn.now,
  });
  if (input.crmEntityType !== undefined && input.crmEntityId !== undefined)
    call.crm = { entityType: input.crmEntityType, entityId: input.crmEntityId };
  const user = agent === null ? null : turn.rules.userOf(agent);
  if (agent === null || user === null) {
    // Nobody free: logged at once as a missed callback, so that it is seen and called back later.
    endCall(turn, call, turn.now, null);
    return call;
  }
  call.handlerUserId = user;
  showCard(turn, call, [user]);
  originate(turn, call, agent);
  return call;
}

function originate(turn: Turn, call: Call, extension: string): void {
  setOwn(call.legs, extension, 'ringing');
  emitOriginate(turn, call, extension);
  startTimer(turn, call, 'originate', turn.rules.originateTimeoutMs);
}

function freeAgent(turn: Turn, line: LineConfig): string | null {
  const routing = line.routing;
  const candidates =
    routing.kind === 'direct'
      ? routing.extension === undefined
        ? []
        : [routing.extension]
      : (queueOf(line)?.members ?? []);
  return candidates.find((e) => turn.isFree(null, e)) ?? null;
}

/**
 * The originations the PBX has not reported on yet (their timer still runs), as the effects that
 * asked for them: after a restart the bridge sends them again, since commands wait in memory.
 * The PBX acts on a `commandId` once, so one it did receive is not dialled twice.
 */
export function pendingOriginations(state: EngineState): OriginateEffect[] {
  return allCalls(state).flatMap((call) =>
    call.originateCommandId !== undefined && call.timers.originate !== undefined && call.endedAt === null
      ? [
          {
            type: 'pbx.originate' as const,
            commandId: call.originateCommandId,
            callKey: call.key,
            callId: call.pbxCallId,
            extension: call.calledNumber,
            number: call.phoneNumber,
          },
        ]
      : [],
  );
}

/**
 * The step function: `step(state, input, now) → { state, effects }`, pure. It never mutates the
 * state it is given; at most one call changes per step, and it is a copy, so everything else is
 * shared with the previous state.
 */
import { compileRules, type EngineConfig } from './config.ts';
import { hideCard } from './card.ts';
import type { Effect } from './effects.ts';
import type { EngineInput, RouteRequested } from './inputs.ts';
import {
  callAnswered,
  callEnded,
  callRinging,
  callRingStopped,
  callStarted,
  callTransferred,
  recordingReady,
  tombstoneOf,
} from './pbx-events.ts';
import { callback, clickToCall, clickToCallCallId } from './requests.ts';
import {
  huntNext,
  registered,
  responsibleFailed,
  responsibleFound,
  routePlan,
  routeWaitOver,
  stopSteering,
} from './routing.ts';
import {
  findCallByKey,
  getCall,
  initialState,
  isExpired,
  putCall,
  type Call,
  type EngineState,
} from './state.ts';
import { createTurn, parseTimerId, type Turn } from './turn.ts';
import { endCall, finishCall } from './wrap-up.ts';

export interface StepResult {
  readonly state: EngineState;
  readonly effects: Effect[];
}

export interface Engine {
  initialState(): EngineState;
  step(state: EngineState, input: EngineInput, now: number): StepResult;
}

export function createEngine(config: EngineConfig): Engine {
  const rules = compileRules(config);
  return {
    initialState,
    step(state, input, now) {
      const turn = createTurn(rules, state, now);
      const next = dispatch(turn, state, input);
      return { state: next, effects: turn.effects };
    },
  };
}

function dispatch(turn: Turn, state: EngineState, input: EngineInput): EngineState {
  const byId = (id: string) => visible(turn, getCall(state, id));
  const byKey = (key: string) => visible(turn, findCallByKey(state, key));
  switch (input.type) {
    case 'call.started': {
      const existing = byId(input.callId);
      const call = callStarted(turn, existing && draft(existing), input);
      return call === null ? state : save(turn, state, call);
    }
    case 'call.ringing':
      return onCall(turn, state, byId(input.callId), (call) => callRinging(turn, call, input));
    case 'call.ring_stopped':
      return onCall(turn, state, byId(input.callId), (call) => callRingStopped(turn, call, input));
    case 'call.answered':
      return onCall(turn, state, byId(input.callId), (call) => callAnswered(turn, call, input));
    case 'call.transferred':
      return onCall(turn, state, byId(input.callId), (call) => callTransferred(turn, call, input.to));
    case 'call.ended': {
      const call = byId(input.callId);
      // An end overtook its start: remembered, so the start finishes the call when it comes.
      if (call === null) return save(turn, state, tombstoneOf(turn, input));
      return onCall(turn, state, call, (c) => callEnded(turn, c, input));
    }
    case 'recording.ready':
      return onCall(turn, state, byId(input.callId), (call) => recordingReady(turn, call, input));
    case 'route.requested':
      return route(turn, state, input, byId(input.callId));
    case 'bitrix.registered':
      return onCall(turn, state, byKey(input.callKey), (call) => {
        if (call.bitrixCallId !== null) return;
        call.bitrixCallId = input.bitrixCallId;
        call.createdLead = input.createdLead;
        const entityType = input.crmEntityType ?? '';
        if (entityType !== '' && input.crmEntityId !== null)
          call.crm = { entityType, entityId: input.crmEntityId };
        registered(turn, call, call.crm, input.createdLead);
      });
    case 'bitrix.responsible':
      return onCall(turn, state, byKey(input.callKey), (call) =>
        responsibleFound(turn, call, input.userId, input.timemanStatus ?? null),
      );
    case 'bitrix.failed':
      return onCall(turn, state, byKey(input.callKey), (call) => {
        // Without the CRM record or its manager the call simply stays with the queue.
        const status = call.responsible?.status;
        if (call.responsible !== null && (status === 'registering' || status === 'looking'))
          call.responsible.status = 'none';
      });
    case 'timer.fired': {
      const parsed = parseTimerId(input.timerId);
      if (parsed === null) return state;
      return onCall(turn, state, byKey(parsed.callKey), (call) => timerFired(turn, call, parsed.name));
    }
    case 'click_to_call.requested': {
      if (byId(clickToCallCallId(input.bitrixCallId)) !== null) return state;
      return save(turn, state, clickToCall(turn, input));
    }
    case 'callback.requested':
      return { ...save(turn, state, callback(turn, input, state.seq)), seq: state.seq + 1 };
  }
}

/** A finished call past its retention is forgotten, even before its shard is pruned. */
function visible(turn: Turn, call: Call | null): Call | null {
  return call !== null && isExpired(call, turn.now, turn.rules.retainMs) ? null : call;
}

function save(turn: Turn, state: EngineState, call: Call): EngineState {
  return putCall(state, call, turn.now, turn.rules.retainMs);
}

/** Handlers change their own copy; an input that changed nothing returns the very same state. */
function onCall(
  turn: Turn,
  state: EngineState,
  call: Call | null,
  change: (draft: Call) => void,
): EngineState {
  if (call === null) return state;
  const copy = draft(call);
  change(copy);
  if (JSON.stringify(copy) === JSON.stringify(call)) return state;
  return save(turn, state, copy);
}

function draft(call: Call): Call {
  return structuredClone(call);
}

function route(turn: Turn, state: EngineState, input: RouteRequested, existing: Call | null): EngineState {
  if (existing === null) {
    const internal = turn.rules.isExtension(input.from);
    const line = turn.rules.resolveLine(input.line, input.to);
    const plan = internal
      ? [{ extensions: [input.to], timeoutSec: turn.rules.ringTimeoutSec }]
      : routePlan(turn, null, line, input.to, input);
    turn.effects.push({ type: 'pbx.plan', callId: input.callId, plan });
    return state;
  }
  return onCall(turn, state, existing, (call) => {
    const over = call.phase === 'wrapping' || call.phase === 'done';
    const plan = over ? [] : routePlan(turn, call, turn.rules.lineById(call.lineId), call.calledNumber);
    if (!over) {
      call.routed = true;
      // The PBX rings the plan now; the engine's own hunt would fight it.
      if (call.hunt !== null) stopSteering(turn, call);
    }
    turn.effects.push({ type: 'pbx.plan', callId: input.callId, plan });
  });
}

function timerFired(turn: Turn, call: Call, name: string): void {
  // A timer cancelled or already fired (the host may deliver it twice) is stale.
  if (!Object.hasOwn(call.timers, name)) return;
  // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- timer names are the engine's own
  delete call.timers[name];
  const ringing = call.phase === 'live' && call.answeredAt === null;
  switch (name) {
    case 'grace':
      if (call.phase === 'wrapping' && call.finishUserId !== null) hideCard(turn, call, [call.finishUserId]);
      return;
    case 'recording':
      if (call.phase === 'wrapping') finishCall(turn, call);
      return;
    case 'responsible':
      if (ringing) responsibleFailed(turn, call);
      return;
    case 'route':
      if (ringing) routeWaitOver(turn, call);
      return;
    case 'originate':
      if (call.phase === 'pending') endCall(turn, call, turn.now, 'failed');
      return;
    case 'stale':
      if (call.phase === 'live') endCall(turn, call, turn.now, null);
      return;
    default:
      if (ringing && call.hunt !== null && name === `hunt.${call.hunt.index}`) huntNext(turn, call, null);
  }
}

/**
 * What a person at the demo's terminal reads: one short line per call event, from the events the
 * portals' outboxes already emit (nothing in the delivery path changes for it):
 *
 *   12:03:04  +7 916 123-45-67 → Anna Ivanova (101): card shown in 35 ms
 *   12:03:09  +7 916 123-45-67 → Anna Ivanova (101): answered
 *   12:03:30  +7 916 123-45-67 → Anna Ivanova (101): ended after 21 s
 *   12:03:32  +7 916 123-45-67 → Anna Ivanova (101): logged on contact 1, with the recording
 */
import type { PortalRuntime } from '../bridge/index.ts';
import { allCalls, getCall, type Call, type EngineInput } from '../core/index.ts';

/** `+79161234567` → `+7 916 123-45-67`; other numbers as they are. */
export function formatPhone(number: string): string {
  const ru = /^\+?7(\d{3})(\d{3})(\d{2})(\d{2})$/.exec(number);
  if (ru) return `+7 ${ru[1] ?? ''} ${ru[2] ?? ''}-${ru[3] ?? ''}-${ru[4] ?? ''}`;
  return number === '' ? 'a withheld number' : number;
}

const clock = (ms: number): string => new Date(ms).toTimeString().slice(0, 8);

const endings: Record<string, string> = {
  no_answer: 'missed: nobody answered',
  busy: 'missed: busy',
  cancelled: 'missed: the caller hung up',
  failed: 'failed',
};

const MAX_FOLLOWED = 10_000;

const callKeyOfOp = (opId: string): string => opId.slice(0, Math.max(0, opId.lastIndexOf(':')));

interface Followed {
  /** When the call began to ring (or started), for the card's latency. */
  since: number;
  cardShown: boolean;
  /** Whom the call was last with (its card's holders, or who answered): after the end too. */
  who: string | null;
}

/** Follows one portal's calls; returns a function that stops following. */
export function watchCalls(
  runtime: PortalRuntime,
  print: (line: string) => void,
  now: () => number = Date.now,
): () => void {
  const { outbox } = runtime;
  const followed = new Map<string, Followed>();
  /** Call key → the PBX's call id, which the engine state is keyed by. */
  const pbxIdOf = new Map<string, string>();

  const userName = (userId: number | null): string | null => {
    if (userId === null) return null;
    const user = runtime.directory.users.find((u) => u.id === userId);
    if (!user) return `user ${userId}`;
    const name = `${user.name} ${user.lastName}`.trim() || `user ${userId}`;
    return user.extension === null ? name : `${name} (${user.extension})`;
  };
  const forget = (key: string): void => {
    followed.delete(key);
    pbxIdOf.delete(key);
  };
  const follow = (key: string): Followed => {
    let f = followed.get(key);
    if (f) return f;
    // Calls that are never logged (nobody to log them under) must not grow this map for ever.
    if (followed.size >= MAX_FOLLOWED) forget(followed.keys().next().value ?? '');
    followed.set(key, (f = { since: now(), cardShown: false, who: null }));
    return f;
  };
  const who = (call: Call): string => {
    const f = follow(call.key);
    const handler = userName(call.handlerUserId);
    const holders = call.card.holders.map(userName).filter((n): n is string => n !== null);
    f.who = handler ?? (holders.length > 0 ? holders.join(', ') : f.who);
    return f.who ?? call.calledNumber;
  };
  const say = (call: Call, what: string): void => {
    const them = formatPhone(call.phoneNumber);
    const line =
      call.direction === 'outbound' || call.origin !== 'pbx'
        ? `${who(call)} → ${them}`
        : `${them} → ${who(call)}`;
    print(`${clock(now())}  ${line}: ${what}`);
  };
  const callOf = (key: string): Call | null => {
    const pbxId = pbxIdOf.get(key);
    const call = pbxId === undefined ? null : getCall(outbox.engineState, pbxId);
    if (call) return call;
    // A click-to-call or a callback: started by the portal, not by a PBX event with its id.
    const found = allCalls(outbox.engineState).find((c) => c.key === key) ?? null;
    if (found) pbxIdOf.set(key, found.pbxCallId);
    return found;
  };

  const onAccepted = ({ input, duplicate }: { input: EngineInput; duplicate: boolean }): void => {
    if (duplicate || !('callId' in input)) return;
    const call = getCall(outbox.engineState, input.callId);
    if (!call || call.internal) return;
    pbxIdOf.set(call.key, call.pbxCallId);
    const f = follow(call.key);
    if (input.type === 'call.ringing' && !f.cardShown) f.since = now();
    else if (input.type === 'call.answered') say(call, 'answered');
    else if (input.type === 'call.transferred') say(call, `transferred to ${input.to}`);
    else if (input.type === 'call.ended') {
      const reason = call.endReason ?? 'completed';
      const talked =
        call.answeredAt !== null && call.endedAt !== null
          ? `ended after ${Math.max(0, Math.round((call.endedAt - call.answeredAt) / 1000))} s`
          : 'ended';
      say(call, call.answeredAt !== null ? talked : (endings[reason] ?? talked));
    }
  };

  const onEntry = (e: { opId: string; kind: string; status: string; code: string | undefined }): void => {
    const key = callKeyOfOp(e.opId);
    const call = callOf(key);
    if (!call || call.internal) return;
    const f = follow(key);
    if (e.status === 'failed' || e.status === 'dropped') {
      if (e.kind === 'finish') say(call, `not logged in the CRM (${e.code ?? e.status})`);
      return;
    }
    if (e.status !== 'done') return;
    if ((e.kind === 'register' || e.kind === 'show') && !f.cardShown && call.card.holders.length > 0) {
      f.cardShown = true;
      say(call, `card shown in ${Math.max(0, now() - f.since)} ms`);
    } else if (e.kind === 'finish' && call.recording === null) {
      say(call, `logged${crmOf(call)}${call.answeredAt === null ? ' as missed' : ''}`);
      forget(key);
    } else if (e.kind === 'attachRecord') {
      say(call, `logged${crmOf(call)}, with the recording`);
      forget(key);
    }
  };

  outbox.on('accepted', onAccepted);
  outbox.on('entry', onEntry);
  return () => {
    outbox.off('accepted', onAccepted);
    outbox.off('entry', onEntry);
  };
}

function crmOf(call: Call): string {
  if (call.crm === null) return ' in the CRM';
  const type = call.crm.entityType.toLowerCase();
  return call.createdLead ? ` on a new ${type} ${call.crm.entityId}` : ` on ${type} ${call.crm.entityId}`;
}

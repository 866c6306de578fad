/**
 * Which entries go to the client now, and what an outage does to a call's card operations. Pure:
 * the outbox reads the open calls from the store, asks here, and writes what comes back.
 */
import type { EntryUpdate, OutboxEntry } from '../store/index.ts';
import { activityIdOfResult, callIdOfResult, type EntryPayload } from './entries.ts';

interface PlanContext {
  now: number;
  /** Entries this process has handed to the client and not yet seen settle. */
  inFlightHere: ReadonlySet<number>;
  /** At most this many (a probe of a link that is down). */
  limit: number;
  /** Entries held back only by the link's failures are due whenever the link is tried. */
  ignoreBackoff: boolean;
}

export interface PlannedEntry {
  entry: OutboxEntry;
  /** The CALL_ID to use, when known; null: ride on the call's register (in flight or in this plan). */
  callId: string | null;
  /** The call's CRM activity, from its finish's answer when stored (where its recording goes). */
  crmActivityId: number | null;
}

interface DeliveryPlan {
  submit: PlannedEntry[];
  /** Entries that can never go: the register whose CALL_ID they need failed for good. */
  fail: EntryUpdate[];
  /** Earliest retry time among entries held back by their own backoff. */
  nextDueAt: number | null;
  /** Open entries seen (pending or in flight). */
  open: number;
}

const settled = (e: OutboxEntry): boolean =>
  e.status === 'done' || e.status === 'dropped' || e.status === 'failed';

function byCall(entries: readonly OutboxEntry[]): OutboxEntry[][] {
  const calls = new Map<string, OutboxEntry[]>();
  for (const e of entries) {
    const list = calls.get(e.callKey);
    if (list) list.push(e);
    else calls.set(e.callKey, [e]);
  }
  for (const list of calls.values()) list.sort((a, b) => a.seq - b.seq);
  return [...calls.values()].sort((a, b) => (a[0]?.id ?? 0) - (b[0]?.id ?? 0));
}

/**
 * Per call, in sequence order, the pending entries that may go now:
 * - the register always may (it yields the CALL_ID);
 * - show/hide may ride on a register in flight (the client resolves `$result[..][CALL_ID]`, and
 *   show/hide of an unknown call answer `false`, harmlessly);
 * - finish and attachRecord wait until the register is done AND its CALL_ID is in the store. A
 *   finish sent while its register's answer is not yet stored could be followed by a crash; the
 *   restarted bridge would then repeat the register of a call already finished, and Bitrix24
 *   registers a finished call's parameters as a NEW call: a duplicate. (The client's own rule, no
 *   finish in the register's batch, guards the same thing within one process.)
 * The first entry that cannot go stops its call: nothing overtakes within a call. Entries in
 * flight in this process are skipped over: the client keeps their order (one order key per call).
 */
export function planDelivery(entries: readonly OutboxEntry[], ctx: PlanContext): DeliveryPlan {
  const plan: DeliveryPlan = { submit: [], fail: [], nextDueAt: null, open: 0 };
  for (const call of byCall(entries)) {
    const register = call.find((e) => e.kind === 'register');
    const finish = call.find((e) => e.kind === 'finish' && e.status === 'done');
    const crmActivityId = finish === undefined ? null : activityIdOfResult(finish.result);
    const stored = register?.status === 'done' ? callIdOfResult(register.result) : null;
    const registerDead =
      register !== undefined && (register.status === 'failed' || register.status === 'dropped');
    let registerGoing = register !== undefined && ctx.inFlightHere.has(register.id);
    let blocked = false;
    for (const e of call) {
      if (settled(e)) continue;
      plan.open += 1;
      if (blocked || ctx.inFlightHere.has(e.id)) continue;
      if (e.status === 'in_flight') {
        // Not ours: a dead process's, not yet put back. Wait rather than overtake it.
        blocked = true;
        continue;
      }
      if (!ctx.ignoreBackoff && e.nextAttemptAt > ctx.now) {
        plan.nextDueAt = Math.min(plan.nextDueAt ?? e.nextAttemptAt, e.nextAttemptAt);
        blocked = true;
        continue;
      }
      const payload = e.payload as EntryPayload;
      const callId = payload.bitrixCallId ?? stored;
      let go: boolean;
      switch (e.kind) {
        case 'register':
        case 'findResponsible':
          go = true;
          break;
        case 'show':
        case 'hide':
          go = callId !== null || registerGoing;
          break;
        case 'finish':
        case 'attachRecord':
          go = callId !== null;
          break;
      }
      if (!go && callId === null && (registerDead || register === undefined)) {
        plan.fail.push({
          id: e.id,
          status: 'failed',
          lastError: 'DEPENDENCY_FAILED',
          note: 'the call was never registered, so it has no CALL_ID',
        });
        continue;
      }
      if (!go || plan.submit.length >= ctx.limit) {
        blocked = true;
        continue;
      }
      plan.submit.push({ entry: e, callId, crmActivityId });
      if (e.kind === 'register') registerGoing = true;
    }
  }
  return plan;
}

/**
 * While the portal cannot be reached, a call that has ended no longer needs its card: showing it
 * on recovery would pop up a call that is over. Its pending `show`s are dropped, its register (if
 * not yet done) becomes SHOW=0 (the log lane), and its pending `hide`s are dropped too unless some
 * card operation of the call was ever sent (then a card may be up, and the hide takes it down).
 * The register keeps the call's real CALL_START_DATE, and the finish still follows: that is the
 * tutorial's recovery, register SHOW=0 + finish. Calls still live keep everything: they get their
 * card when the link returns.
 */
export function outageRewrites(
  entries: readonly OutboxEntry[],
  ended: (callKey: string) => boolean,
  inFlightHere: ReadonlySet<number>,
): EntryUpdate[] {
  const updates: EntryUpdate[] = [];
  for (const call of byCall(entries)) {
    const first = call[0];
    if (!first || !ended(first.callKey)) continue;
    const cardOps = call.filter((e) => e.kind === 'register' || e.kind === 'show' || e.kind === 'hide');
    const cardMayBeUp = cardOps.some((e) => e.status === 'done' || e.attempts > 0);
    for (const e of call) {
      if (e.status !== 'pending' || inFlightHere.has(e.id)) continue;
      const payload = e.payload as EntryPayload;
      if (payload.type === 'bitrix.register' && payload.show) {
        updates.push({
          id: e.id,
          payload: { ...payload, show: false },
          lane: 'log',
          note: 'the call ended while the portal was unreachable: registered without a card',
        });
      } else if (payload.type === 'bitrix.show') {
        updates.push({
          id: e.id,
          status: 'dropped',
          note: 'the call ended while the portal was unreachable: its card is pointless now',
        });
      } else if (payload.type === 'bitrix.hide' && !cardMayBeUp) {
        updates.push({ id: e.id, status: 'dropped', note: 'no card of this call was ever shown' });
      }
    }
  }
  return updates;
}

/** The entries with the updates applied (the planner then sees what the store now holds). */
export function withUpdates(entries: readonly OutboxEntry[], updates: readonly EntryUpdate[]): OutboxEntry[] {
  const byId = new Map(updates.map((u) => [u.id, u]));
  return entries.map((e) => {
    const u = byId.get(e.id);
    if (!u) return e;
    return {
      ...e,
      ...(u.status === undefined ? {} : { status: u.status }),
      ...(u.payload === undefined ? {} : { payload: u.payload }),
      ...(u.lane === undefined ? {} : { lane: u.lane }),
    };
  });
}

/**
 * The call card: who sees it is bookkeeping of what was told to Bitrix24, so every show and hide
 * is sent once, to exactly the users it concerns. The first user to see a card gets it from
 * `register` itself (SHOW=1): one request where a separate `show` would make two.
 */
import type { Call } from './state.ts';
import { emitHide, emitRegister, emitShow, type Turn } from './turn.ts';

export function showCard(turn: Turn, call: Call, userIds: readonly number[]): void {
  if (call.internal) return;
  const fresh = [...new Set(userIds)].filter((u) => !call.card.holders.includes(u));
  const [first, ...rest] = fresh;
  if (first === undefined) return;
  if (!call.card.registered) {
    emitRegister(turn, call, first, true);
    call.card.holders.push(first);
    if (rest.length > 0) {
      emitShow(turn, call, rest);
      call.card.holders.push(...rest);
    }
    return;
  }
  emitShow(turn, call, fresh);
  call.card.holders.push(...fresh);
}

export function hideCard(turn: Turn, call: Call, userIds: readonly number[]): void {
  const held = call.card.holders.filter((u) => userIds.includes(u));
  if (held.length === 0) return;
  emitHide(turn, call, held);
  call.card.holders = call.card.holders.filter((u) => !held.includes(u));
}

/** Hide the card from everybody but `keep` (null: from everybody). */
export function hideCardExcept(turn: Turn, call: Call, keep: number | null): void {
  hideCard(
    turn,
    call,
    call.card.holders.filter((u) => u !== keep),
  );
}

/** A call that rang nobody still needs its register before the finish that logs it. */
export function ensureRegistered(turn: Turn, call: Call, userId: number): void {
  if (!call.card.registered) emitRegister(turn, call, userId, false);
}

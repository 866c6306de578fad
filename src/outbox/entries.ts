import type { BitrixEffect } from '../core/index.ts';
import type { EntryKind, EntryLane, NewOutboxEntry } from '../store/index.ts';

/** What an outbox entry's payload is: the engine's effect as it emitted it (JSON). */
export type EntryPayload = BitrixEffect;

const kindOf: Readonly<Record<BitrixEffect['type'], EntryKind>> = {
  'bitrix.register': 'register',
  'bitrix.show': 'show',
  'bitrix.hide': 'hide',
  'bitrix.finish': 'finish',
  'bitrix.attachRecord': 'attachRecord',
  'bitrix.findResponsible': 'findResponsible',
};

/** The client's lane for the effect (informational in the store; the client decides from the command). */
function laneOf(effect: BitrixEffect): EntryLane {
  switch (effect.type) {
    case 'bitrix.register':
      return effect.show ? 'card' : 'log';
    case 'bitrix.show':
    case 'bitrix.hide':
      return 'card';
    case 'bitrix.findResponsible':
      return 'read';
    case 'bitrix.finish':
    case 'bitrix.attachRecord':
      return 'log';
  }
}

/** `<callKey>:<n>` → n: the op's place among its call's operations. */
function seqOf(opId: string): number {
  const n = Number(opId.slice(opId.lastIndexOf(':') + 1));
  return Number.isSafeInteger(n) ? n : 0;
}

export function toNewEntry(effect: BitrixEffect, now: number): NewOutboxEntry {
  return {
    callKey: effect.callKey,
    opId: effect.opId,
    seq: seqOf(effect.opId),
    lane: laneOf(effect),
    kind: kindOf[effect.type],
    payload: effect,
    nextAttemptAt: now,
  };
}

export const isBitrixEffect = (e: { type: string }): e is BitrixEffect => e.type.startsWith('bitrix.');

/** The CALL_ID a register entry's stored result carries. */
export function callIdOfResult(result: unknown): string | null {
  if (typeof result !== 'object' || result === null) return null;
  const id = (result as { callId?: unknown }).callId;
  return typeof id === 'string' && id !== '' ? id : null;
}

/** The CRM activity a finish entry's stored result names (null for an older result or none). */
export function activityIdOfResult(result: unknown): number | null {
  if (typeof result !== 'object' || result === null) return null;
  const id = (result as { crmActivityId?: unknown }).crmActivityId;
  return typeof id === 'number' && Number.isSafeInteger(id) && id > 0 ? id : null;
}

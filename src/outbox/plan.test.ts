import { describe, expect, it } from 'vitest';
import type { OutboxEntry } from '../store/index.ts';
import { outageRewrites, planDelivery } from './plan.ts';

let nextId = 1;
function entry(
  callKey: string,
  seq: number,
  kind: OutboxEntry['kind'],
  over: Partial<OutboxEntry> = {},
): OutboxEntry {
  const type = `bitrix.${kind}`;
  return {
    id: nextId++,
    portalId: 'p',
    callKey,
    opId: `${callKey}:${seq}`,
    seq,
    lane: 'card',
    kind,
    payload:
      kind === 'register' ? { type, callKey, opId: `${callKey}:${seq}`, show: true } : { type, callKey },
    status: 'pending',
    attempts: 0,
    nextAttemptAt: 0,
    lastError: null,
    note: null,
    result: null,
    createdAt: 0,
    updatedAt: 0,
    ...over,
  };
}

const ctx = { now: 100, inFlightHere: new Set<number>(), limit: Infinity, ignoreBackoff: false };

describe('planDelivery', () => {
  it('sends a register with the show riding on it, and holds the finish until the CALL_ID is stored', () => {
    const call = [entry('a', 0, 'register'), entry('a', 1, 'show'), entry('a', 2, 'finish')];
    const plan = planDelivery(call, ctx);
    expect(plan.submit.map((p) => [p.entry.kind, p.callId])).toEqual([
      ['register', null],
      ['show', null],
    ]);
    expect(plan.open).toBe(3);
  });

  it('sends the finish once the register is done, with its CALL_ID', () => {
    const call = [
      entry('a', 0, 'register', { status: 'done', result: { callId: 'C1' } }),
      entry('a', 1, 'finish'),
    ];
    expect(planDelivery(call, ctx).submit.map((p) => [p.entry.kind, p.callId])).toEqual([['finish', 'C1']]);
  });

  it('never lets an entry overtake an earlier one of its call held back by backoff', () => {
    const call = [
      entry('a', 0, 'register', { status: 'done', result: { callId: 'C1' } }),
      entry('a', 1, 'hide', { nextAttemptAt: 500 }),
      entry('a', 2, 'finish'),
    ];
    const plan = planDelivery(call, ctx);
    expect(plan.submit).toEqual([]);
    expect(plan.nextDueAt).toBe(500);
  });

  it('fails what needs the CALL_ID of a register that failed for good', () => {
    const call = [
      entry('a', 0, 'register', { status: 'failed' }),
      entry('a', 1, 'show'),
      entry('a', 2, 'finish'),
    ];
    const plan = planDelivery(call, ctx);
    expect(plan.submit).toEqual([]);
    expect(plan.fail.map((f) => f.status)).toEqual(['failed', 'failed']);
  });

  it('stops at the probe size', () => {
    const calls = [0, 1, 2].map((n) => entry(`c${n}`, 0, 'register'));
    expect(planDelivery(calls, { ...ctx, limit: 2 }).submit).toHaveLength(2);
  });
});

describe('outageRewrites', () => {
  it('turns an ended call into register SHOW=0 and drops its card operations', () => {
    const call = [
      entry('a', 0, 'register'),
      entry('a', 1, 'show'),
      entry('a', 2, 'hide'),
      entry('a', 3, 'finish'),
    ];
    const updates = outageRewrites(call, () => true, new Set());
    expect(updates.map((u) => [u.id, u.status, (u.payload as { show?: boolean } | undefined)?.show])).toEqual(
      [
        [call[0]!.id, undefined, false],
        [call[1]!.id, 'dropped', undefined],
        [call[2]!.id, 'dropped', undefined],
      ],
    );
  });

  it('keeps the hide of a call whose card may be up', () => {
    const call = [
      entry('a', 0, 'register', { status: 'done', attempts: 1 }),
      entry('a', 1, 'show'),
      entry('a', 2, 'hide'),
    ];
    expect(outageRewrites(call, () => true, new Set()).map((u) => u.id)).toEqual([call[1]!.id]);
  });

  it('leaves live calls alone: they get their card when the link returns', () => {
    const call = [entry('a', 0, 'register'), entry('a', 1, 'show')];
    expect(outageRewrites(call, () => false, new Set())).toEqual([]);
  });
});

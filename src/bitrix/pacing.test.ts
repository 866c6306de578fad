import { describe, expect, it } from 'vitest';
import { Ref } from './encode.ts';
import { command, type Command } from './methods.ts';
import { hideOf, msUntilRoom, pace, Pacer, pacingFor, type PaceInput } from './pacing.ts';
import { Operation } from './queue.ts';

const standard = { rate: 2, burst: 50 };
const pacing = pacingFor(standard, 3);

/** The standard plan's bucket, its usable size 47, a request of 3 log commands, held since 0. */
const input = (over: Partial<PaceInput> = {}): PaceInput => ({
  now: 1000,
  level: 20,
  rate: 2,
  capacity: 47,
  commands: 3,
  hasCard: false,
  hasRead: false,
  alone: false,
  maxBatch: 50,
  heldSince: 1000,
  ...over,
});

let nextId = 0;
const op = (cmd: Command): Operation => new Operation(++nextId, 'm1', cmd, {}, undefined);
const finish = (callId: string | Ref, userId = 2): Command =>
  command('telephony.externalCall.finish', { CALL_ID: callId, USER_ID: userId, DURATION: 5 });

describe('pacingFor', () => {
  it('reserves a fifth of the burst for cards and holds for 3 s by default', () => {
    expect(pacing).toEqual({ holdMs: 3000, cardReserve: 10, idleLevel: 5 });
    expect(pacingFor({ rate: 5, burst: 250 }, 3).cardReserve).toBe(50);
  });

  it('leaves work without a card at least one place, whatever the reserve asked for', () => {
    expect(pacingFor(standard, 3, { cardReserve: 100 }).cardReserve).toBe(46);
    expect(pacingFor(standard, 3, { cardReserve: 0, holdMs: 0 })).toMatchObject({
      cardReserve: 0,
      holdMs: 0,
    });
  });
});

describe('pace', () => {
  it('sends a card whenever the bucket has a place below burst − headroom', () => {
    expect(pace(pacing, input({ hasCard: true, level: 45.5 }))).toEqual({ kind: 'send' });
    // 46.5 + 1 is over 47: a quarter of a second at 2/s.
    expect(pace(pacing, input({ hasCard: true, level: 46.5 }))).toEqual({
      kind: 'wait',
      reason: 'bucket',
      ms: 250,
    });
  });

  it('keeps work without a card off the reserve, however long it has waited', () => {
    // 37 = 47 − 10: a request without a card only while the level is at most 36 before it.
    expect(pace(pacing, input({ level: 36, heldSince: -60_000 }))).toEqual({ kind: 'send' });
    expect(pace(pacing, input({ level: 36.5, heldSince: -60_000 }))).toEqual({
      kind: 'wait',
      reason: 'reserve',
      ms: 250,
    });
    expect(pace(pacing, input({ level: 40, hasCard: true }))).toEqual({ kind: 'send' });
  });

  it('holds a partial batch of log work while the bucket is busy, until the hold ends', () => {
    const held = pace(pacing, input({ level: 20, heldSince: 1000 }));
    expect(held).toEqual({ kind: 'hold', ms: 3000 });
    expect(pace(pacing, input({ level: 20, now: 3999, heldSince: 1000 }))).toEqual({ kind: 'hold', ms: 1 });
    expect(pace(pacing, input({ level: 20, now: 4000, heldSince: 1000 }))).toEqual({ kind: 'send' });
  });

  it('wakes when the bucket will have drained to idle, if that comes before the hold ends', () => {
    // From 6 to 5 at 2/s: half a second.
    expect(pace(pacing, input({ level: 6 }))).toEqual({ kind: 'hold', ms: 501 });
  });

  it('sends at once what fills a batch, and anything on an idle bucket', () => {
    expect(pace(pacing, input({ level: 20, commands: 50 }))).toEqual({ kind: 'send' });
    expect(pace(pacing, input({ level: 4.9 }))).toEqual({ kind: 'send' });
    expect(pace(pacing, input({ level: 0, commands: 1 }))).toEqual({ kind: 'send' });
  });

  it('holds nothing when nothing else is going on: there is nothing to gather', () => {
    expect(pace(pacing, input({ level: 20, alone: true }))).toEqual({ kind: 'send' });
    expect(pace(pacing, input({ level: 40, alone: true }))).toMatchObject({
      kind: 'wait',
      reason: 'reserve',
    });
  });

  it('never holds reads (someone awaits them), and never holds with a hold of 0', () => {
    expect(pace(pacing, input({ level: 20, hasRead: true }))).toEqual({ kind: 'send' });
    expect(pace({ ...pacing, holdMs: 0 }, input({ level: 20 }))).toEqual({ kind: 'send' });
  });
});

describe('msUntilRoom', () => {
  it('is 0 while one more fits below the ceiling, else the drain time of the excess', () => {
    expect(msUntilRoom(46, 2, 47)).toBe(0);
    expect(msUntilRoom(46.000000001, 2, 47)).toBe(0);
    expect(msUntilRoom(47, 2, 47)).toBe(500);
    expect(msUntilRoom(10, 5, 10)).toBe(200);
  });
});

describe('hideOf', () => {
  it('is the hide of the finishing user for a finish, nothing for other methods', () => {
    expect(hideOf(op(finish('c1', 7)))).toMatchObject({
      method: 'telephony.externalCall.hide',
      params: { CALL_ID: 'c1', USER_ID: 7 },
      lane: 'card',
    });
    expect(hideOf(op(command('telephony.externalCall.attachRecord', { CALL_ID: 'c1' })))).toBeUndefined();
  });

  it('is nothing for a call this client registered without a card', () => {
    const quiet = op(
      command('telephony.externalCall.register', { USER_ID: 2, PHONE_NUMBER: '+7', TYPE: 2, SHOW: 0 }),
    );
    expect(hideOf(op(finish(new Ref(quiet, ['CALL_ID']))))).toBeUndefined();
    const shown = op(command('telephony.externalCall.register', { USER_ID: 2, PHONE_NUMBER: '+7', TYPE: 2 }));
    expect(hideOf(op(finish(new Ref(shown, ['CALL_ID']))))?.params.USER_ID).toBe(2);
  });
});

describe('Pacer', () => {
  const bucket = { level: 20, rate: 2, capacity: 47, maxBatch: 50, alone: false };

  it('asks for the hide of each held finish once, and counts the hold from the first time', () => {
    const pacer = new Pacer(pacing);
    const f = op(finish('c1'));
    const a = op(command('telephony.externalCall.attachRecord', { CALL_ID: 'c1', RECORD_URL: 'http://r' }));
    const first = pacer.decide(1000, [f, a], bucket);
    expect(first.decision).toEqual({ kind: 'hold', ms: 3000 });
    expect(first.hides.map((h) => h.finish)).toEqual([f]);
    const hide = op(first.hides[0]?.hide ?? finish('x'));
    pacer.sentHide(f, hide);
    expect(pacer.waitsForItsHide(f)).toBe(true);

    const later = pacer.decide(2500, [f, a], bucket);
    expect(later).toEqual({ decision: { kind: 'hold', ms: 1500 }, hides: [] });
    hide.succeed({ result: true, total: undefined, next: undefined });
    expect(pacer.waitsForItsHide(f)).toBe(false);
    expect(pacer.decide(4000, [f, a], bucket).decision).toEqual({ kind: 'send' });
  });

  it('asks for no hide when the request goes, or waits only for room', () => {
    const pacer = new Pacer(pacing);
    const f = op(finish('c2'));
    expect(pacer.decide(0, [f], { ...bucket, level: 1 }).hides).toEqual([]);
    expect(pacer.decide(0, [f], { ...bucket, level: 40 })).toEqual({
      decision: { kind: 'wait', reason: 'reserve', ms: 2000 },
      hides: [],
    });
  });
});

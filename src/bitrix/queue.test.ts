import { describe, expect, it } from 'vitest';
import { Ref } from './encode.ts';
import { BitrixError } from './errors.ts';
import { command, uploadCommand, type Command } from './methods.ts';
import { nextTimeReady, Operation, selectBatch, type SelectContext, type SubmitOptions } from './queue.ts';

/** A tiny queue builder: operations get increasing ids and follow their order key. */
function queueOf() {
  const ops: Operation[] = [];
  const last = new Map<string, Operation>();
  let id = 0;
  const add = (cmd: Command, options: SubmitOptions = {}): Operation => {
    const key = options.orderKey;
    const op = new Operation(++id, 'm1', cmd, options, key ? last.get(key) : undefined);
    if (key) last.set(key, op);
    ops.push(op);
    return op;
  };
  return { ops, add };
}

const ctx = (over: Partial<SelectContext> = {}): SelectContext => ({
  now: 0,
  maxCommands: 50,
  methodWaitMs: () => 0,
  ...over,
});

const register = (ext: string, show = true): Command =>
  command('telephony.externalCall.register', {
    USER_ID: 2,
    PHONE_NUMBER: '+7999',
    TYPE: 2,
    EXTERNAL_CALL_ID: ext,
    SHOW: show ? 1 : 0,
  });
const show = (callId: string | Ref): Command =>
  command('telephony.externalCall.show', { CALL_ID: callId, USER_ID: [3] });
const finish = (callId: string | Ref): Command =>
  command('telephony.externalCall.finish', { CALL_ID: callId, USER_ID: 2 });
const read = (): Command => command('user.get', {});

describe('selectBatch', () => {
  it('takes the card lane first, then logging, then reads, each in submission order, up to 50', () => {
    const q = queueOf();
    const reads = [q.add(read()), q.add(read())];
    const finishes = Array.from({ length: 60 }, (_, i) => q.add(finish(`c${i}`)));
    const card = q.add(show('c1'));
    const sel = selectBatch(q.ops, ctx());
    expect(sel.ops).toHaveLength(50);
    expect(sel.ops[0]).toBe(card);
    expect(sel.ops.slice(1)).toEqual(finishes.slice(0, 49));
    expect(sel.ops).not.toContain(reads[0]);
    expect(sel.halt).toBe(false);
  });

  it('puts a show in the same batch as the register it refers to, after it, and halts on failure', () => {
    const q = queueOf();
    const reg = q.add(register('x1', false));
    const s = q.add(show(new Ref(reg, ['CALL_ID'])));
    const sel = selectBatch(q.ops, ctx());
    expect(sel.ops).toEqual([reg, s]);
    expect(sel.halt).toBe(true);
  });

  it('never puts a finish in the same batch as the register it refers to', () => {
    const q = queueOf();
    const reg = q.add(register('x1'));
    const fin = q.add(finish(new Ref(reg, ['CALL_ID'])));
    expect(selectBatch(q.ops, ctx()).ops).toEqual([reg]);
    reg.state = 'sending';
    expect(selectBatch(q.ops, ctx()).ops).toEqual([]);
    reg.succeed({ result: { CALL_ID: 'c1' }, total: undefined, next: undefined });
    expect(selectBatch(q.ops, ctx()).ops).toEqual([fin]);
  });

  it('a register without a card inherits the lane of the show waiting for it', () => {
    const q = queueOf();
    Array.from({ length: 100 }, (_, i) => q.add(finish(`c${i}`)));
    const reg = q.add(register('x1', false));
    const s = q.add(show(new Ref(reg, ['CALL_ID'])));
    const sel = selectBatch(q.ops, ctx());
    expect(sel.ops.slice(0, 2)).toEqual([reg, s]);
    expect(sel.ops).toHaveLength(50);
  });

  it('keeps an order key in order: later operations ride behind earlier ones, never overtake one in flight', () => {
    const q = queueOf();
    const s = q.add(show('c1'), { orderKey: 'call-1' });
    const h = q.add(command('telephony.externalCall.hide', { CALL_ID: 'c1', USER_ID: 3 }), {
      orderKey: 'call-1',
    });
    const f = q.add(finish('c1'), { orderKey: 'call-1' });
    const other = q.add(finish('c2'), { orderKey: 'call-2' });
    expect(selectBatch(q.ops, ctx()).ops).toEqual([s, h, f, other]);
    expect(selectBatch(q.ops, ctx()).halt).toBe(true);
    s.state = 'sending';
    expect(selectBatch(q.ops, ctx()).ops).toEqual([other]);
    s.fail(new BitrixError('PORTAL_ERROR', 'show failed'));
    expect(selectBatch(q.ops, ctx()).ops).toEqual([h, f, other]);
  });

  it('does not split a dependency chain across the 50-command limit', () => {
    const q = queueOf();
    Array.from({ length: 49 }, (_, i) => q.add(show(`c${i}`)));
    const reg = q.add(register('x1'));
    const s = q.add(show(new Ref(reg, ['CALL_ID'])));
    const sel = selectBatch(q.ops, ctx());
    expect(sel.ops).toHaveLength(50);
    expect(sel.ops).toContain(reg);
    expect(sel.ops).not.toContain(s);
  });

  it('sends an upload alone, and only after the step that gives its URL', () => {
    const q = queueOf();
    const slot = q.add(command('telephony.externalCall.attachRecord', { CALL_ID: 'c1', FILENAME: 'a.mp3' }));
    const up = q.add(
      uploadCommand({
        url: new Ref<string>(slot, ['uploadUrl']),
        field: 'file',
        filename: 'a.mp3',
        content: new Uint8Array([1]),
      }),
    );
    const r = q.add(read());
    expect(selectBatch(q.ops, ctx()).ops).toEqual([slot]);
    slot.succeed({
      result: { uploadUrl: 'http://x/upload', fieldName: 'file' },
      total: undefined,
      next: undefined,
    });
    expect(selectBatch(q.ops, ctx()).ops).toEqual([up]);
    up.state = 'sending';
    expect(selectBatch(q.ops, ctx()).ops).toEqual([r]);
  });

  it('an upload is not starved by the batches queued after it; a ready card still goes first', () => {
    const q = queueOf();
    const up = q.add(
      uploadCommand({
        url: 'http://x/upload',
        field: 'file',
        filename: 'a.mp3',
        content: new Uint8Array([1]),
      }),
    );
    // Logging queued after the upload: under steady load there is always some.
    const later = Array.from({ length: 5 }, (_, i) => q.add(finish(`c${i}`)));
    const card = q.add(show('c9'));
    expect(selectBatch(q.ops, ctx()).ops).toEqual([card, ...later]);
    card.state = 'sending';
    expect(selectBatch(q.ops, ctx()).ops).toEqual([up]);
    up.state = 'sending';
    expect(selectBatch(q.ops, ctx()).ops).toEqual(later);
  });

  it('holds back operations in backoff and methods over their operating-time budget', () => {
    const q = queueOf();
    const a = q.add(read());
    const b = q.add(finish('c1'));
    a.notBefore = 1000;
    const c = ctx({ methodWaitMs: (m) => (m === 'telephony.externalCall.finish' ? 5000 : 0) });
    expect(selectBatch(q.ops, c).ops).toEqual([]);
    expect(nextTimeReady(q.ops, c)).toBe(1000);
    expect(selectBatch(q.ops, ctx({ now: 1000 })).ops).toEqual([b, a]);
  });
});

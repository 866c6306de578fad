import { describe, expect, it } from 'vitest';
import { createEngine, type EngineInput, type EngineState, type Effect } from './index.ts';
import { at, office, USERS } from './testkit.ts';

/**
 * A transfer rings its target; the call becomes the target's when it is answered there. The case
 * that made this matter (found by the chaos run): the engine's S3 transfer to the responsible
 * manager reached the PBX just after a queue member answered, the PBX moved the call, and the
 * manager never picked up. The call was the member's and must be logged to them.
 */
describe('a transfer of an answered call', () => {
  const engine = createEngine({ ...office, recording: { maxWaitSec: 0, hideGraceSec: 0 } });
  const run = (inputs: [number, EngineInput][]): Effect[] => {
    let state: EngineState = engine.initialState();
    const effects: Effect[] = [];
    for (const [sec, input] of inputs) {
      const out = engine.step(state, input, at(sec));
      state = out.state;
      effects.push(...out.effects);
    }
    return effects;
  };
  const pbx = (sec: number, e: Record<string, unknown>): [number, EngineInput] => [
    sec,
    { callId: 'x1', at: at(sec), ...e } as unknown as EngineInput,
  ];
  const begin = [
    pbx(0, { type: 'call.started', direction: 'inbound', from: '+79031234567', to: '101' }),
    pbx(1, { type: 'call.ringing', extensions: ['101'] }),
    pbx(3, { type: 'call.answered', extension: '101' }),
    pbx(20, { type: 'call.transferred', to: '102' }),
    pbx(20, { type: 'call.ringing', extensions: ['102'] }),
  ];
  const finishUser = (effects: Effect[]) =>
    effects.flatMap((e) => (e.type === 'bitrix.finish' ? [e.userId] : []));

  it('stays with whoever answered when the target never picks up', () => {
    const effects = run([...begin, pbx(45, { type: 'call.ended', reason: 'completed' })]);
    expect(finishUser(effects)).toEqual([USERS.anna]);
  });

  it('is the target’s once the target answers', () => {
    const effects = run([
      ...begin,
      pbx(25, { type: 'call.answered', extension: '102' }),
      pbx(60, { type: 'call.ended', reason: 'completed' }),
    ]);
    expect(finishUser(effects)).toEqual([USERS.boris]);
  });
});

import { describe, expect, it } from 'vitest';
import { createEngine, pendingOriginations } from './index.ts';
import { at, office, USERS } from './testkit.ts';

describe('pending originations (sent again after a restart)', () => {
  it('lists a click-to-call the PBX has not reported on, with the commandId it was first sent with', () => {
    const engine = createEngine(office);
    const first = engine.step(
      engine.initialState(),
      {
        type: 'click_to_call.requested',
        bitrixCallId: 'externalCall.1',
        userId: USERS.anna,
        phoneNumber: '+79031112233',
        callListId: null,
        lineNumber: null,
      },
      at(0),
    );
    const sent = first.effects.find((e) => e.type === 'pbx.originate');
    expect(pendingOriginations(first.state)).toEqual([sent]);

    // The PBX reports the call: nothing is pending any more.
    const started = engine.step(
      first.state,
      {
        type: 'call.started',
        callId: 'c2c.externalCall.1',
        direction: 'outbound',
        from: '101',
        to: '+79031112233',
        at: at(2),
      },
      at(2),
    );
    expect(pendingOriginations(started.state)).toEqual([]);
  });

  it('drops an origination the PBX never started once its timeout has finished the call', () => {
    const engine = createEngine(office);
    const first = engine.step(
      engine.initialState(),
      {
        type: 'click_to_call.requested',
        bitrixCallId: 'externalCall.2',
        userId: USERS.anna,
        phoneNumber: '+79031112233',
        callListId: null,
        lineNumber: null,
      },
      at(0),
    );
    const timer = first.effects.find((e) => e.type === 'timer.start');
    if (timer?.type !== 'timer.start') throw new Error('no originate timer');
    const fired = engine.step(first.state, { type: 'timer.fired', timerId: timer.timerId }, timer.at);
    expect(pendingOriginations(fired.state)).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../test/support/clock.ts';
import { Serial } from './serial.ts';
import { EngineTimers } from './timers.ts';

describe('the engine timers', () => {
  it('fire at their time; re-arming moves one, cancelling and closing stop them', () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    const timers = new EngineTimers(clock, (id) => fired.push(id));
    timers.apply([
      { type: 'timer.start', timerId: 'a#route', at: 100 },
      { type: 'timer.start', timerId: 'b#stale', at: 200 },
    ]);
    timers.arm('a#route', 300);
    timers.armAll([{ key: 'c', timers: { originate: 50 } }]);
    timers.apply([{ type: 'timer.cancel', timerId: 'b#stale' }]);
    clock.advance(250);
    expect(fired).toEqual(['c#originate']);
    clock.advance(100);
    expect(fired).toEqual(['c#originate', 'a#route']);
    expect(timers.size).toBe(0);
    timers.arm('d#route', 400);
    timers.close();
    timers.arm('e#route', 400);
    clock.advance(1_000);
    expect(fired).toEqual(['c#originate', 'a#route']);
  });

  it('a timer already past fires at the next turn of the clock', () => {
    const clock = new ManualClock(1_000);
    const fired: string[] = [];
    new EngineTimers(clock, (id) => fired.push(id)).arm('x#stale', 10);
    clock.advance(0);
    expect(fired).toEqual(['x#stale']);
  });
});

describe('the serial line of store writes', () => {
  it('runs tasks one after another, in order, and a failure does not stop the next', async () => {
    const serial = new Serial();
    const log: string[] = [];
    const slow = serial.run(async () => {
      await new Promise((resolve) => setImmediate(resolve));
      log.push('slow');
    });
    const failing = serial.run(() => Promise.reject(new Error('no')));
    const fast = serial.run(() => {
      log.push('fast');
      return Promise.resolve(7);
    });
    await expect(failing).rejects.toThrow('no');
    expect(await fast).toBe(7);
    await slow;
    await serial.drained();
    expect(log).toEqual(['slow', 'fast']);
  });
});

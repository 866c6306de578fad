import { describe, expect, it } from 'vitest';
import {
  answered,
  drained,
  linkUp,
  lost,
  mayDeliver,
  probeDelay,
  probed,
  probeFired,
  probeNow,
  type LinkMonitor,
} from './link.ts';
import { defaultDeliveryPolicy, type DeliveryPolicy } from './policy.ts';

const policy: DeliveryPolicy = {
  ...defaultDeliveryPolicy,
  probeMinDelayMs: 1_000,
  probeMaxDelayMs: 8_000,
  factor: 2,
  attentionDelayMs: 60_000,
};

describe('the link monitor', () => {
  it('goes down once per state change, and announces it', () => {
    const down = lost(linkUp, 'down', 'NETWORK');
    expect(down.monitor.state).toBe('down');
    expect(down.effects).toEqual([{ type: 'announce', state: 'down', code: 'NETWORK' }]);
    expect(lost(down.monitor, 'down', 'TIMEOUT').effects).toEqual([]);
    const attention = lost(down.monitor, 'attention', 'AUTH_FAILED');
    expect(attention.monitor.state).toBe('attention');
    expect(attention.effects).toEqual([{ type: 'announce', state: 'attention', code: 'AUTH_FAILED' }]);
  });

  it('while up: delivers, an answer changes nothing, nothing is probed', () => {
    expect(mayDeliver(linkUp)).toBe(true);
    expect(answered(linkUp)).toEqual({ monitor: linkUp, effects: [] });
    expect(drained(linkUp, policy).effects).toEqual([]);
    expect(probeNow(linkUp).effects).toEqual([]);
  });

  it('while down: probes with growing pauses up to the ceiling, once all in flight came back', () => {
    let m: LinkMonitor = lost(linkUp, 'down', 'NETWORK').monitor;
    expect(mayDeliver(m)).toBe(false);
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      const step = drained(m, policy);
      const arm = step.effects.find((e) => e.type === 'armProbe');
      if (arm?.type === 'armProbe') delays.push(arm.delayMs);
      // A second drain while the probe is armed arms nothing more.
      expect(drained(step.monitor, policy).effects).toEqual([]);
      m = probeFired(step.monitor);
      expect(mayDeliver(m)).toBe(true);
      // The probe went out (one entry) and failed again.
      m = probed(m, 1, policy).monitor;
      expect(mayDeliver(m)).toBe(false);
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
  });

  it('a probe round with nothing to send looks again after the same pause', () => {
    const down = drained(lost(linkUp, 'down', 'NETWORK').monitor, policy).monitor;
    const fired = probeFired(down);
    const step = probed(fired, 0, policy);
    expect(step.effects).toEqual([{ type: 'armProbe', delayMs: 1_000 }]);
    expect(step.monitor).toMatchObject({ probeDue: false, probeArmed: true, probeFailures: 1 });
  });

  it('needing attention: looks again after the attention period', () => {
    const m = lost(linkUp, 'attention', 'NEEDS_REINSTALL').monitor;
    expect(probeDelay(m, policy)).toBe(60_000);
    expect(drained(m, policy).effects).toEqual([{ type: 'armProbe', delayMs: 60_000 }]);
  });

  it('an answer brings the link up: the probe is cancelled, the failures forgotten', () => {
    const armed = drained(lost(linkUp, 'down', 'NETWORK').monitor, policy).monitor;
    const up = answered(armed);
    expect(up.monitor).toEqual(linkUp);
    expect(up.effects).toEqual([{ type: 'cancelProbe' }, { type: 'announce', state: 'up', code: undefined }]);
  });

  it('deliver now: probes at once instead of at the probe time', () => {
    const armed = drained(lost(linkUp, 'down', 'NETWORK').monitor, policy).monitor;
    const now = probeNow(armed);
    expect(now.effects).toEqual([{ type: 'cancelProbe' }]);
    expect(now.monitor).toMatchObject({ probeDue: true, probeArmed: false });
    expect(mayDeliver(now.monitor)).toBe(true);
  });

  it('is pure: the monitor given is never changed', () => {
    const m = lost(linkUp, 'down', 'NETWORK').monitor;
    const copy = { ...m };
    drained(m, policy);
    probeFired(m);
    probeNow(m);
    answered(m);
    expect(m).toEqual(copy);
    expect(linkUp).toEqual({ state: 'up', probeFailures: 0, probeDue: false, probeArmed: false });
  });
});

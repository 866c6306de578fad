import { describe, expect, it } from 'vitest';
import { LeakyBucket, OperatingLimits } from './limiter.ts';
import { backoffMs, defaultRetryPolicy, retryPolicy } from './retry.ts';

describe('LeakyBucket', () => {
  it('lets a burst through up to the size less the headroom, then one per 1/rate', () => {
    const b = new LeakyBucket({ rate: 2, burst: 50 }, 1);
    let sent = 0;
    while (b.waitMs(0) === 0) {
      b.take(0);
      sent += 1;
    }
    expect(sent).toBe(49);
    expect(b.waitMs(0)).toBe(500);
    expect(b.waitMs(499)).toBe(1);
    expect(b.waitMs(500)).toBe(0);
  });

  it('counts requests in flight as whole places: they drain only once counted at their answer', () => {
    const b = new LeakyBucket({ rate: 2, burst: 50 }, 3);
    for (let i = 0; i < 45; i++) b.take(0);
    expect(b.waitMs(0, 1)).toBe(0);
    // 45 counted + 2 in flight: no place left below 47 until one place has drained.
    expect(b.waitMs(0, 2)).toBe(500);
    expect(b.waitMs(250, 2)).toBe(250);
  });

  it('believes the portal when it says the bucket is full', () => {
    const b = new LeakyBucket({ rate: 2, burst: 50 }, 1);
    b.take(0);
    b.fill(0);
    expect(b.current(0)).toBe(50);
    // Down to 48 (capacity 49 less one): one second at 2/s.
    expect(b.waitMs(0)).toBe(1000);
  });

  it('follows a plan change', () => {
    const b = new LeakyBucket({ rate: 2, burst: 50 }, 0);
    b.setLimit({ rate: 5, burst: 250 });
    for (let i = 0; i < 250; i++) b.take(0);
    expect(b.waitMs(0)).toBe(200);
  });
});

describe('OperatingLimits', () => {
  it('blocks a method until the reset the portal announced, measured on the portal clock', () => {
    const limits = new OperatingLimits(60_000);
    // Portal clock is 1,000 s ahead of ours: only the difference reset - finish counts.
    limits.observe('user.get', 10_000, { finish: 2_000.5, operating_reset_at: 2_300 });
    expect(limits.block('user.get', 10_000)).toBe(299_500);
    expect(limits.waitMs('user.get', 10_000)).toBe(299_500);
    expect(limits.waitMs('app.info', 10_000)).toBe(0);
    expect(limits.waitMs('user.get', 309_500)).toBe(0);
  });

  it('falls back to a fixed wait without an announced reset', () => {
    const limits = new OperatingLimits(60_000);
    expect(limits.block('crm.lead.get', 0)).toBe(60_000);
  });
});

describe('backoff', () => {
  it('grows by the factor from the floor to the ceiling, jitter from the injected source', () => {
    const p = retryPolicy({ jitter: 0 });
    expect([1, 2, 3, 4, 7, 8].map((n) => backoffMs(p, n, () => 0.9))).toEqual([
      500, 1000, 2000, 4000, 30_000, 30_000,
    ]);
    const j = defaultRetryPolicy;
    expect(backoffMs(j, 1, () => 0)).toBe(250);
    expect(backoffMs(j, 1, () => 0.5)).toBe(375);
    expect(backoffMs(j, 1, () => 0.999_999)).toBe(500);
  });

  it('is data: overriding one code keeps the others', () => {
    const p = retryPolicy({ codes: { SERVER_ERROR: 'never' } });
    expect(p.codes.SERVER_ERROR).toBe('never');
    expect(p.codes.NETWORK).toBe('attempt');
    expect(p.codes.RATE_LIMITED).toBe('wait');
  });
});

import { describe, expect, it } from 'vitest';
import { drained, waitToFit } from './bucket.ts';

describe('the leaky bucket', () => {
  it('drains at its rate and never below empty', () => {
    expect(drained(10, 1500, 2)).toBe(7);
    expect(drained(1, 10_000, 2)).toBe(0);
    expect(drained(5, -100, 2)).toBe(5);
  });

  it('says how long until more requests fit, and 0 when they do', () => {
    expect(waitToFit(46, 1, 47, 2)).toBe(0);
    expect(waitToFit(47, 1, 47, 2)).toBe(500);
    expect(waitToFit(48.002 - 1, 1, 48, 2)).toBe(1);
  });
});

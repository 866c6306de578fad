import { describe, expect, it } from 'vitest';
import { delay, exactPolicy, type RetryPolicy } from './index.ts';

const below: RetryPolicy = { minDelayMs: 500, maxDelayMs: 30_000, factor: 2, jitter: 0.5, spread: 'below' };
const around: RetryPolicy = { minDelayMs: 100, maxDelayMs: 1_000, factor: 2, jitter: 0.2, spread: 'around' };

describe('delay', () => {
  it('grows by the factor from the floor to the ceiling', () => {
    const p = exactPolicy(500, 30_000);
    expect([1, 2, 3, 4, 7, 8, 60].map((n) => delay(p, n, () => 0.9))).toEqual([
      500, 1000, 2000, 4000, 30_000, 30_000, 30_000,
    ]);
  });

  it('counts an attempt below 1 (or not a number) as the first', () => {
    const p = exactPolicy(500, 30_000);
    expect(delay(p, 0, () => 0)).toBe(500);
    expect(delay(p, -3, () => 0)).toBe(500);
    expect(delay(p, Number.NaN, () => 0)).toBe(500);
  });

  it('stays at the ceiling for huge attempt numbers instead of overflowing', () => {
    expect(delay(exactPolicy(1, 5_000, 10), 1_000_000, () => 0)).toBe(5_000);
  });

  it('below: takes the random share off the pause, never adds to it', () => {
    expect(delay(below, 1, () => 0)).toBe(250);
    expect(delay(below, 1, () => 0.5)).toBe(375);
    expect(delay(below, 1, () => 0.999_999)).toBe(500);
  });

  it('around: spreads the random share on both sides', () => {
    expect([1, 2, 3, 4, 5, 11].map((n) => delay(around, n, () => 0.5))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
    expect(delay(around, 1, () => 0)).toBe(80);
    expect(delay(around, 1, () => 1)).toBe(120);
  });

  it('clamps a jitter outside 0…1 and a random source outside [0, 1)', () => {
    expect(delay({ ...below, jitter: 7 }, 1, () => 0)).toBe(0);
    expect(delay({ ...below, jitter: -1 }, 1, () => 0)).toBe(500);
    expect(delay(below, 1, () => 5)).toBe(500);
    expect(delay(below, 1, () => -5)).toBe(250);
  });

  it('is pure: the same inputs give the same pause', () => {
    const r = (): number => 0.37;
    expect(delay(below, 3, r)).toBe(delay(below, 3, r));
  });
});

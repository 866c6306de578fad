import { describe, expect, it } from 'vitest';
import { BoundedMap, BoundedSet } from './bounded.ts';

describe('BoundedMap', () => {
  it('forgets the oldest entry past its size', () => {
    const m = new BoundedMap<string, number>(2);
    m.set('a', 1).set('b', 2).set('c', 3);
    expect([m.has('a'), m.get('b'), m.get('c'), m.size]).toEqual([false, 2, 3, 2]);
  });

  it('counts a key set again as the newest', () => {
    const m = new BoundedMap<string, number>(2);
    m.set('a', 1).set('b', 2).set('a', 10).set('c', 3);
    expect([m.get('a'), m.has('b'), m.get('c')]).toEqual([10, false, 3]);
  });
});

describe('BoundedSet', () => {
  it('keeps at most its size of members', () => {
    const s = new BoundedSet<number>(3);
    for (let i = 0; i < 10; i++) s.add(i);
    expect([0, 6, 7, 8, 9].map((i) => s.has(i))).toEqual([false, false, true, true, true]);
  });
});

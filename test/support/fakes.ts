/** Stand-ins several test files share. */
import type { OutboxApi } from '../../src/outbox/index.ts';

/** A portal that never answers: for tests about the HTTP API and the store, not delivery. */
export const silentPortal = new Proxy(
  {},
  { get: () => new Proxy({}, { get: () => () => new Promise(() => undefined) }) },
) as OutboxApi;

/** A small seeded PRNG (mulberry32): a failing run can be replayed from its printed seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

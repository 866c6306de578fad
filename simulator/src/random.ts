/**
 * Seeded randomness, so a test or a demo run can be repeated exactly. Each call draws from its own
 * generator, derived from the seed and the call id: the order in which the bridge's answers arrive
 * over HTTP then cannot change what any one call does.
 */
export interface Random {
  /** A number in [0, 1). */
  next(): number;
}

/** mulberry32: tiny, fast and good enough for simulated people. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return {
    next() {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
    },
  };
}

/** A generator for one named thing (a call), independent of every other name under the same seed. */
export function derivedRandom(seed: number, name: string): Random {
  // FNV-1a over the name, mixed with the seed.
  let hash = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return seededRandom(hash);
}

/** A duration in seconds: fixed, or drawn uniformly from `[min, max]`. */
export type SecRange = number | readonly [min: number, max: number];

export function secondsOf(range: SecRange, random: Random): number {
  if (typeof range === 'number') return range;
  const [min, max] = range;
  return min + (max - min) * random.next();
}

export function chance(probability: number, random: Random): boolean {
  // Draw even for 0 and 1, so changing one probability does not shift every later draw.
  const draw = random.next();
  return draw < probability;
}

export function pick<T>(items: readonly T[], random: Random): T {
  const item = items[Math.floor(random.next() * items.length)];
  if (item === undefined) throw new RangeError('pick from an empty list');
  return item;
}

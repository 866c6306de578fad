/** Small pieces every room may use: time as an injected clock, and bounded memory. */
export { systemClock, type Clock } from './clock.ts';
export { BoundedMap, BoundedSet } from './bounded.ts';
export { drained, waitToFit } from './bucket.ts';

/**
 * The leaky bucket's arithmetic, once: the client's mirror of the portal's bucket and the
 * bucket several instances share in PostgreSQL both drain and judge by it.
 */

/** The level after `elapsedMs` of draining at `ratePerSec` (never below empty). */
export function drained(level: number, elapsedMs: number, ratePerSec: number): number {
  return elapsedMs <= 0 ? level : Math.max(0, level - (elapsedMs / 1000) * ratePerSec);
}

/**
 * Milliseconds until `requests` more fit under `capacity` (0: now). The epsilon keeps float
 * residue (48.002 for 48) from adding a millisecond.
 */
export function waitToFit(level: number, requests: number, capacity: number, ratePerSec: number): number {
  const over = level + requests - capacity;
  return over <= 1e-9 ? 0 : Math.max(1, Math.ceil((over / ratePerSec) * 1000 - 1e-6));
}

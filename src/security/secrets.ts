import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * Compares a presented secret with the expected one in constant time: digests are compared, so
 * neither the content nor the length leaks through timing. An empty or missing expected secret
 * matches nothing.
 */
export function sameSecret(given: string, expected: string | null | undefined): boolean {
  if (expected === undefined || expected === null || expected === '') return false;
  return timingSafeEqual(digest(given), digest(expected));
}

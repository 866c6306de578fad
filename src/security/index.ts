/**
 * What stops strangers at the bridge's edges: constant-time secret comparison, attempt limits
 * (login throttling, install rate limits), a recent-key memory for replays, and the check that a
 * URL handed on to be fetched points at the public Internet.
 */
export { sameSecret } from './secrets.ts';
export { MemoryAttemptLimiter, type AttemptLimiter, type AttemptVerdict } from './attempts.ts';
export { SeenRecently } from './recent.ts';
export { checkPublicUrl, hostAllowed, isPublicAddress, type HostLookup } from './addresses.ts';

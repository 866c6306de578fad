/**
 * The Bitrix24 client: OAuth or webhook per portal, a mirrored leaky bucket with priority lanes,
 * batching with `$result` references, repeat-safe retries, and typed methods.
 */
export { BitrixClient, type ClientOptions } from './client.ts';
export { PortalApi } from './api/portal-api.ts';
export type * from './api/telephony.ts';
export type * from './api/crm.ts';
export type * from './api/user.ts';
export type * from './api/app.ts';
export { Pending } from './pending.ts';
export { BitrixError, isBitrixError } from './errors.ts';
export { errorRule, failureKind, isCallNotFound, isLinkFailure } from './error-policy.ts';
export type * from './events.ts';
export { command } from './methods.ts';
export type { SubmitOptions } from './queue.ts';
export { type RetryOverrides } from './retry.ts';
export { type RateLimit, type SharedBudget } from './limiter.ts';
export {
  MemoryTokenStore,
  refreshGrant,
  type AppCredentials,
  type PortalTokens,
  type RefreshLock,
  type TokenStore,
} from './tokens.ts';
export { systemClock, type Clock } from '../kit/index.ts';

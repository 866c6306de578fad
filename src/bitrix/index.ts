/**
 * The Bitrix24 client: OAuth or webhook per portal, a mirrored leaky bucket with priority lanes,
 * batching with `$result` references, repeat-safe retries, and typed methods.
 */
export { BitrixClient, type ClientOptions, type PortalConfig, type PortalState } from './client.ts';
export { PortalApi } from './api/portal-api.ts';
export type * from './api/telephony.ts';
export type * from './api/crm.ts';
export type * from './api/user.ts';
export type * from './api/app.ts';
export { Pending } from './pending.ts';
export { Ref, type WireParams, type WireValue } from './encode.ts';
export { BitrixError, errorCodes, isBitrixError, type ErrorCode } from './errors.ts';
export {
  errorPolicy,
  errorRule,
  failureKind,
  isCallNotFound,
  isLinkFailure,
  type ErrorRule,
  type FailureKind,
  type PortalReaction,
} from './error-policy.ts';
export type * from './events.ts';
export { command, type Command, type Lane } from './methods.ts';
export type { RawResult, SubmitOptions } from './queue.ts';
export {
  defaultRetryPolicy,
  retryPolicy,
  type ClientRetryPolicy,
  type RetryOverrides,
  type RetryRule,
} from './retry.ts';
export { enterprisePlan, standardPlan, type RateLimit, type SharedBudget } from './limiter.ts';
export {
  MemoryTokenStore,
  refreshGrant,
  defaultOAuthUrl,
  type AppCredentials,
  type PortalTokens,
  type RefreshLock,
  type TokenStore,
} from './tokens.ts';
export { systemClock, type Clock } from '../kit/index.ts';

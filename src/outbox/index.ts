/** Durable, ordered delivery of the engine's Bitrix24 operations; outage replay; restart. */
export {
  FAULT_CODE,
  Outbox,
  type AcceptOptions,
  type FaultEntry,
  type AcceptResult,
  type EntryEvent,
  type LinkState,
  type OutboxEvents,
  type OutboxOptions,
} from './outbox.ts';
export type { OutboxApi, RecordingSource, RecordingUrl, EntryResult } from './submit.ts';
export { defaultDeliveryPolicy, type DeliveryPolicy } from './policy.ts';
export { outageRewrites, planDelivery, type DeliveryPlan, type PlanContext } from './plan.ts';

/** Durable, ordered delivery of the engine's Bitrix24 operations; outage replay; restart. */
export { Outbox, type AcceptOptions, type OutboxOptions } from './outbox.ts';
export type { AcceptResult } from './engine-host.ts';
export { FAULT_CODE } from './delivery.ts';
export { safeEmitter, type EntryEvent, type FaultEntry, type OutboxEvents } from './events.ts';
export type { LeaseOptions } from './lease.ts';
export type { LinkState } from './link.ts';
export type { OutboxApi, RecordingSource, RecordingUrl, EntryResult } from './submit.ts';
export { defaultDeliveryPolicy, type DeliveryPolicy } from './policy.ts';
export { outageRewrites, planDelivery, type DeliveryPlan, type PlanContext } from './plan.ts';

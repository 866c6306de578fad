/** Durable, ordered delivery of the engine's Bitrix24 operations; outage replay; restart. */
export { Outbox, type OutboxOptions } from './outbox.ts';
export type { AcceptResult } from './engine-host.ts';
export { FAULT_CODE } from './delivery.ts';
export { safeEmitter, type EntryEvent, type OutboxEvents } from './events.ts';
export type { LinkState } from './link.ts';
export type { OutboxApi, EntryResult } from './submit.ts';
export { defaultDeliveryPolicy } from './policy.ts';

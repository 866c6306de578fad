/** The call journal: each call's summary and timeline, on the store's database. */
export type * from './types.ts';
export { callOutcomes, latencyStepMs } from './types.ts';
export { journalOf } from './open.ts';
export { JournalFeed } from './feed.ts';
export { keepJournal, type JournalReader } from './keep.ts';
export { MinuteSeries } from './series.ts';

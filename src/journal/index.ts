/** The call journal: each call's summary and timeline, on the store's database. */
export type * from './types.ts';
export { callOutcomes, defaultSearchLimit, latencyStepMs, maxSearchLimit } from './types.ts';
export { journalOf } from './open.ts';
export { sqliteJournal } from './sqlite.ts';
export { postgresJournal } from './postgres.ts';
export { JournalFeed, type JournalFeedOptions, type Scrub, type WatchedOutbox } from './feed.ts';
export { keepJournal, type JournalReader, type KeptJournal } from './keep.ts';
export { MinuteSeries, type MinutePoint } from './series.ts';
export { outcomeOf, summaryOf } from './summary.ts';

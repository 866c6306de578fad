/**
 * The call journal: for the administrator asked "I called and nobody saw it", every call's
 * summary (found by number, user, line and time) and its timeline. Written from what the bridge
 * already announces (outbox and client events), never by the engine.
 */

/** How a call ended, as the charts count it; `live` until it has. */
export type CallOutcome = 'live' | 'answered' | 'missed' | 'busy' | 'abandoned' | 'failed';

export const callOutcomes: readonly CallOutcome[] = [
  'live',
  'answered',
  'missed',
  'busy',
  'abandoned',
  'failed',
];

/**
 * pbx: a PBX event (`at` its own time, `recordedAt` when it arrived); route: a routing decision
 * and its plan; card: a card shown or hidden; bitrix: a request to the portal and its answer;
 * retry: a failed delivery going back to wait; outage: the portal link went down or came back
 * while the call waited; crm: what the portal made of the call (entity, activity, recording).
 */
export type JournalEntryKind = 'pbx' | 'route' | 'card' | 'bitrix' | 'retry' | 'outage' | 'crm';

export interface JournalEntry {
  portalId: string;
  callKey: string;
  /** When it happened (the PBX's time for its events), epoch ms. */
  at: number;
  /** When the bridge learnt of it, epoch ms. */
  recordedAt: number;
  kind: JournalEntryKind;
  /** One line for people. */
  summary: string;
  /** The particulars as JSON, redacted: no token, no secret ever reaches it. */
  detail: unknown;
}

export interface CallSummary {
  portalId: string;
  callKey: string;
  pbxCallId: string;
  direction: 'inbound' | 'outbound';
  /** The client's number. */
  phoneNumber: string;
  calledNumber: string;
  lineId: string;
  /** The Bitrix24 user the call belongs to (who answered, or was rung last). */
  userId: number | null;
  startedAt: number;
  answeredAt: number | null;
  endedAt: number | null;
  outcome: CallOutcome;
  endReason: string | null;
  /** From the first ringing to the first card on a screen. */
  cardLatencyMs: number | null;
  crmEntityType: string | null;
  crmEntityId: number | null;
  /** The CRM activity the finish created. */
  activityId: string | null;
  /** The recording's link (or file name) as attached to the call. */
  recording: string | null;
  updatedAt: number;
}

export interface JournalQuery {
  /** Digits (or part of them) of the client's or the called number. */
  number?: string | undefined;
  userId?: number | undefined;
  lineId?: string | undefined;
  /** Calls started at or after (epoch ms). */
  from?: number | undefined;
  /** Calls started before (epoch ms). */
  to?: number | undefined;
  outcome?: CallOutcome | undefined;
  /** Default 100, at most 1000. */
  limit?: number | undefined;
}

export interface JournalCall {
  summary: CallSummary;
  entries: JournalEntry[];
}

/** The call figures of the dashboard, from the summaries of calls started since a time. */
export interface JournalStats {
  /** Calls per hour (epoch hour: ms / 3 600 000) and outcome. */
  hours: { hour: number; outcome: CallOutcome; calls: number }[];
  /** Card latency in steps of `latencyStepMs`: `step` is latency / latencyStepMs, rounded down. */
  latency: { step: number; calls: number }[];
  /** Per line (queue): calls, answered ones, and the mean wait until answered. */
  lines: { lineId: string; calls: number; answered: number; meanWaitMs: number | null }[];
}

export const latencyStepMs = 250;

/** The journal's storage, on the store's database (SQLite or PostgreSQL alike). */
export interface JournalStore {
  /** Entries and summaries in one transaction; a summary replaces the stored one, keeping what it lacks. */
  write(entries: readonly JournalEntry[], calls: readonly CallSummary[]): Promise<void>;
  /** The most recent calls first. */
  search(query: JournalQuery): Promise<CallSummary[]>;
  /** One call and its timeline (oldest first); `portalId` when a key could be on several portals. */
  call(callKey: string, portalId?: string): Promise<JournalCall | undefined>;
  stats(from: number): Promise<JournalStats>;
  /** Forgets calls started and entries recorded before `before`; returns how many calls went. */
  prune(before: number): Promise<number>;
}

export const defaultSearchLimit = 100;
export const maxSearchLimit = 1000;

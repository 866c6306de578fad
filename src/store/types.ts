/**
 * The store: everything the bridge must find again after a restart. One interface, two
 * implementations (SQLite embedded, PostgreSQL for several instances), so every method is async
 * and every write that must be atomic is ONE method call (`commitStep`, `updateEntries`): the
 * implementation runs it as one transaction. There is no open-ended `transaction(fn)`, because a
 * callback holding a transaction open across awaits would hold SQLite's single write lock across
 * network waits, and on PostgreSQL across a dead instance's lease.
 *
 * The store knows nothing of the engine or the client beyond their JSON: engine shards and
 * outbox payloads are opaque values it stores and gives back.
 */
import type { TokenStore } from '../bitrix/index.ts';

/** A portal the bridge serves (its tokens live apart, in `tokens`). */
export interface PortalRecord {
  /** The portal's stable id (`member_id`). */
  memberId: string;
  domain: string | null;
  clientEndpoint: string | null;
  authKind: 'oauth' | 'webhook';
  /** A secret: never logged. */
  webhookUrl: string | null;
  /**
   * The install's `application_token` (OAuth apps): every event of this portal must carry it.
   * A secret: never logged. Null for webhook portals and until an install stored one.
   */
  applicationToken: string | null;
}

/** The engine state of one portal as stored: its counter and its shards of calls (JSON). */
export interface StoredEngine {
  version: number;
  seq: number;
  shards: Record<string, Record<string, unknown>>;
}

export type EntryStatus = 'pending' | 'in_flight' | 'done' | 'dropped' | 'failed';
export type EntryKind = 'register' | 'show' | 'hide' | 'finish' | 'attachRecord' | 'findResponsible';
export type EntryLane = 'card' | 'log' | 'read';

/** One Bitrix24 operation on its way: the engine's effect plus its delivery bookkeeping. */
export interface OutboxEntry {
  id: number;
  portalId: string;
  callKey: string;
  /** The engine's deterministic op id: unique per portal, so a replayed step adds nothing. */
  opId: string;
  /** Position among the call's operations (the `n` of `<callKey>:<n>`): delivery order. */
  seq: number;
  lane: EntryLane;
  kind: EntryKind;
  /** The engine's effect (JSON), possibly rewritten (an outage turns a card register into SHOW=0). */
  payload: unknown;
  status: EntryStatus;
  /** Times it was handed to the client (counted when marked in flight). */
  attempts: number;
  nextAttemptAt: number;
  /** Stable error code of the last failure (a BitrixError code), or null. */
  lastError: string | null;
  /** Why it was dropped or failed, or what a rewrite did: for people. */
  note: string | null;
  /** The portal's answer, as the outbox keeps it (e.g. `{callId}` of a register). */
  result: unknown;
  createdAt: number;
  updatedAt: number;
}

export type NewOutboxEntry = Pick<
  OutboxEntry,
  'callKey' | 'opId' | 'seq' | 'lane' | 'kind' | 'payload' | 'nextAttemptAt'
>;

/** A change to one entry. `addAttempt` counts a hand-over to the client. */
export interface EntryUpdate {
  id: number;
  status?: EntryStatus;
  addAttempt?: boolean;
  nextAttemptAt?: number;
  lastError?: string | null;
  note?: string | null;
  result?: unknown;
  payload?: unknown;
  lane?: EntryLane;
}

/** One engine step, stored all or nothing. */
export interface StepCommit {
  portalId: string;
  now: number;
  /** The input for the journal; `dedupeKey` (the PBX's own event id) makes a repeat a no-op. */
  input: { type: string; dedupeKey: string | null; payload: unknown } | null;
  /** The engine's counter and the shards the step changed (whole shards, replaced). */
  engine: { version: number; seq: number; shards: Record<string, Record<string, unknown>> };
  newEntries: readonly NewOutboxEntry[];
  /** Entry changes that belong to this step (a register marked done with the step it feeds). */
  entryUpdates: readonly EntryUpdate[];
}

export type StepOutcome = { stored: true } | { stored: false; reason: 'duplicate' };

export interface Backlog {
  pending: number;
  inFlight: number;
  failed: number;
  dropped: number;
  /** created_at of the oldest open (pending or in-flight) entry. */
  oldestOpenAt: number | null;
}

export interface Store {
  /** The client's token store, on this database. */
  readonly tokens: TokenStore;

  savePortal(portal: PortalRecord, now: number): Promise<void>;
  getPortal(memberId: string): Promise<PortalRecord | undefined>;
  listPortals(): Promise<PortalRecord[]>;
  /**
   * The app was uninstalled: the portal, its tokens and its engine state go, and its open outbox
   * entries are dropped (the portal would refuse them). The journal and finished entries stay
   * for the record. A later install starts afresh.
   */
  deletePortal(memberId: string, now: number): Promise<void>;

  loadEngine(portalId: string): Promise<StoredEngine | undefined>;
  /** Journal + engine shards + new entries + entry updates, in one transaction. */
  commitStep(commit: StepCommit): Promise<StepOutcome>;

  /**
   * Every entry of the calls that still have an open (pending or in-flight) entry, ordered by call
   * and sequence: the delivery planner needs the whole call (is its register done? its CALL_ID?).
   */
  openCalls(portalId: string): Promise<OutboxEntry[]>;
  /** All entries of one call, in order. */
  callEntries(portalId: string, callKey: string): Promise<OutboxEntry[]>;
  /** Several entry changes, in one transaction. */
  updateEntries(updates: readonly EntryUpdate[], now: number): Promise<void>;
  /**
   * After a restart: entries left in flight by a dead process go back to pending (they keep their
   * attempt count, which tells the outbox they may have reached the portal). Returns how many.
   */
  requeueInFlight(portalId: string, now: number): Promise<number>;
  backlog(portalId: string): Promise<Backlog>;

  close(): Promise<void>;
}

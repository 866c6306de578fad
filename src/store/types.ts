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
import type { RefreshLock, SharedBudget, TokenStore } from '../bitrix/index.ts';

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
  /**
   * How many steps were committed for the portal. Every commit adds one and stamps the shards it
   * wrote with it, so an instance that knows revision N reads only the shards changed after N.
   */
  revision: number;
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
> & {
  /**
   * Stored already in flight, one attempt counted: the step's own transaction carries the mark a
   * delivery round would otherwise write before handing the entry to the client (one fsync less).
   * A store of one process honours it; a shared store may ignore it (the entry is then pending).
   */
  inFlight?: boolean | undefined;
};

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
  /**
   * The engine revision the step was computed from. When given and the stored revision differs
   * (another instance committed a step of this portal meanwhile), nothing is stored and the
   * outcome is `stale`: the caller reloads the changed shards and steps again.
   */
  expectedRevision?: number | undefined;
}

export type StepOutcome =
  | {
      stored: true;
      revision: number;
      /**
       * The ids of the new entries this step stored in flight (`NewOutboxEntry.inFlight`), by op
       * id: the caller hands them to the client itself. Left out by a store that hands none off.
       */
      handedOff?: ReadonlyMap<string, number>;
    }
  | { stored: false; reason: 'duplicate' }
  | { stored: false; reason: 'stale'; revision: number };

export interface Backlog {
  pending: number;
  inFlight: number;
  failed: number;
  dropped: number;
  /** created_at of the oldest open (pending or in-flight) entry. */
  oldestOpenAt: number | null;
}

/**
 * One number of a portal's CRM phone index: the CRM record a caller's number belongs to and the
 * manager responsible for it, as the portal last told.
 */
export interface CallerRecord {
  /** The number as the index keys it (see `src/crm-index/phone.ts`). */
  phone: string;
  /** CONTACT, COMPANY or LEAD. */
  entityType: string;
  entityId: number;
  /** ASSIGNED_BY_ID of the record. */
  responsibleId: number;
  /** The responsible's TIMEMAN_STATUS when the portal last said, or null. */
  timemanStatus: string | null;
  /** When the portal last confirmed it (epoch ms). */
  verifiedAt: number;
}

/** The CRM phone index of every portal, by number. */
export interface CallerIndex {
  get(portalId: string, phone: string): Promise<CallerRecord | undefined>;
  /** Adds or replaces the records of these numbers, in one transaction. */
  put(portalId: string, records: readonly CallerRecord[]): Promise<void>;
  /** Forgets these numbers. */
  remove(portalId: string, phones: readonly string[]): Promise<void>;
  /** The numbers that lead to this CRM record. */
  ofEntity(portalId: string, entityType: string, entityId: number): Promise<CallerRecord[]>;
  /** Up to `limit` records confirmed before `before`, the longest ago first. */
  oldest(portalId: string, before: number, limit: number): Promise<CallerRecord[]>;
  count(portalId: string): Promise<number>;
}

/**
 * What several bridge instances on one database share beyond the tables: the portal's request
 * budget and its token refresh (see `src/bitrix/limiter.ts` and `src/bitrix/tokens.ts`).
 */
export interface Coordination {
  budget: SharedBudget;
  refreshLock: RefreshLock;
}

/** A setting edited in the admin UI, with a revision that grows at every change. */
export interface AdminSetting {
  value: unknown;
  revision: number;
}

/**
 * What the admin UI changes, in the store so every instance sees it: settings (the edited lines)
 * and the logged-in sessions. Sessions are kept by a digest of their id, never the id itself.
 */
export interface AdminState {
  getSetting(key: string): Promise<AdminSetting | undefined>;
  /** Stores the value and returns its new revision. */
  putSetting(key: string, value: unknown, now: number): Promise<number>;
  /** Adds a session; past `max` sessions the oldest go, and expired ones go at any add. */
  addSession(digest: string, now: number, expiresAt: number, max: number): Promise<void>;
  sessionAlive(digest: string, now: number): Promise<boolean>;
  removeSession(digest: string): Promise<void>;
  /**
   * Shared stores: calls `onChange` when another instance stored this setting, so it is taken at
   * once rather than at the next look. Best effort (a poll stays the fallback). Returns the
   * function that stops watching.
   */
  watchSetting?(key: string, onChange: () => void): () => void;
}

/**
 * Commands for a PBX whose connection one instance holds (a shared store only): any instance may
 * queue one, the holder takes each once. Payloads are the PBX commands, as JSON.
 */
export interface CommandRelay {
  send(pbxId: string, command: unknown, now: number): Promise<void>;
  take(pbxId: string, limit: number): Promise<unknown[]>;
  /** Calls `onQueued` when another instance queued a command for the PBX. */
  watch(pbxId: string, onQueued: () => void): () => void;
}

/** A PBX event kept while no portal is installed to take it (`ParkedEvents`). */
export interface ParkedEvent {
  /** Grows with every event parked: the order they arrived in. */
  id: number;
  event: unknown;
}

/**
 * Events of a PBX the bridge connects to itself (Asterisk over AMI) that arrived while no portal
 * was installed: kept here in order rather than in memory, at most `max` a PBX, and fed to the
 * portal's outbox once one is there. Payloads are the PBX events, as JSON.
 */
export interface ParkedEvents {
  /**
   * Appends the events in order, in one transaction; past `max` events of the PBX the oldest go.
   * Returns how many went and how many are parked now.
   */
  park(
    pbxId: string,
    events: readonly unknown[],
    now: number,
    max: number,
  ): Promise<{ dropped: number; parked: number }>;
  /** The PBX's oldest `limit` parked events, oldest first. */
  oldest(pbxId: string, limit: number): Promise<ParkedEvent[]>;
  /** Removes the PBX's parked events up to and including `throughId`; returns how many are left. */
  remove(pbxId: string, throughId: number): Promise<number>;
  count(pbxId: string): Promise<number>;
}

export interface Store {
  /** The client's token store, on this database. */
  readonly tokens: TokenStore;
  /** The admin UI's settings and sessions. */
  readonly admin: AdminState;
  /** The portals' CRM phone indexes. */
  readonly callers: CallerIndex;
  /** PBX events that came while no portal was installed. */
  readonly parked: ParkedEvents;
  /**
   * Other processes may use this database at the same time (PostgreSQL): the outbox then claims
   * calls with a lease before delivering them and follows other instances' engine steps. False
   * for SQLite, which one process owns.
   */
  readonly shared: boolean;
  /** Present when `shared`: the client's cross-instance rate budget and refresh lock. */
  readonly coordination?: Coordination | undefined;
  /** Present when `shared`: commands for a PBX another instance holds the connection of. */
  readonly relay?: CommandRelay | undefined;

  savePortal(portal: PortalRecord, now: number): Promise<void>;
  getPortal(memberId: string): Promise<PortalRecord | undefined>;
  listPortals(): Promise<PortalRecord[]>;
  /**
   * The app was uninstalled: the portal, its tokens, its engine state and its CRM phone index go,
   * and its open outbox entries are dropped (the portal would refuse them). The journal and finished entries stay
   * for the record. A later install starts afresh.
   */
  deletePortal(memberId: string, now: number): Promise<void>;

  /**
   * The portal's engine state; with `sinceRevision`, only the shards written after that revision
   * (the counter and revision are always the current ones).
   */
  loadEngine(portalId: string, sinceRevision?: number): Promise<StoredEngine | undefined>;
  /** Journal + engine shards + new entries + entry updates, in one transaction. */
  commitStep(commit: StepCommit): Promise<StepOutcome>;
  /**
   * Several steps, each computed on the one before (their `expectedRevision`s follow each other),
   * in ONE transaction: one fsync for all (group commit). They are stored in order up to the first
   * that is not (a repeat, or stale): that one's outcome is the last of the answer, and the steps
   * after it are not stored (the caller computes them again). Optional: without it, the caller
   * commits one step at a time.
   */
  commitSteps?(commits: readonly StepCommit[]): Promise<StepOutcome[]>;

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
   * attempt count, which tells the outbox they may have reached the portal). Returns how many. On a
   * shared store, only those of calls no live lease holds: another instance's are its own.
   */
  requeueInFlight(portalId: string, now: number): Promise<number>;
  backlog(portalId: string): Promise<Backlog>;

  /**
   * Claims calls with open entries for `owner` until `now + leaseMs`, and returns every entry of
   * the calls it holds now (those it held already, whose lease is renewed, and up to `limit` more),
   * ordered as `openCalls`. A call held by another owner is skipped until its lease expires; a call
   * taken over from an expired lease has its in-flight entries put back to pending (attempts kept),
   * as after a restart. One process (SQLite) holds every call: this is `openCalls`.
   */
  claimCalls(
    portalId: string,
    owner: string,
    leaseMs: number,
    limit: number,
    now: number,
  ): Promise<OutboxEntry[]>;
  /** Gives up `owner`'s lease of these calls (nothing open is left in them here). */
  releaseCalls(portalId: string, owner: string, callKeys: readonly string[]): Promise<void>;
  /**
   * Shared stores: calls `onChange` when another instance stored new entries of the portal or
   * released calls, so the outbox looks for work at once rather than at its next poll. Returns
   * the function that stops watching.
   */
  watchOutbox?(portalId: string, onChange: () => void): () => void;

  close(): Promise<void>;
}

/**
 * What the admin UI may know of the bridge: a narrow, read-mostly view. The bridge implements it
 * (`src/bridge/admin-view.ts`); tests give the UI a fake. Nothing here carries a secret: no token,
 * no webhook URL, only whether a token is valid and until when.
 */

export type CallPhase = 'pending' | 'live' | 'wrapping' | 'done';

export interface CardHolder {
  userId: number;
  /** The user's name, when the portal's users have been read. */
  name: string | null;
}

export interface CallRow {
  /** member_id of the portal the call belongs to. */
  portal: string;
  /** The call key (EXTERNAL_CALL_ID). */
  key: string;
  pbxCallId: string;
  direction: 'inbound' | 'outbound';
  origin: 'pbx' | 'click_to_call' | 'callback';
  /** The client's number. */
  phoneNumber: string;
  /** The number dialled (inbound) or the caller's extension (outbound). */
  calledNumber: string;
  lineId: string;
  /** The CRM record the portal matched (or created), once the register came back. */
  crm: { entityType: string; entityId: number } | null;
  createdLead: boolean;
  /** Whose screen shows the call card now. */
  cardHolders: CardHolder[];
  phase: CallPhase;
  /** Legs by extension: ringing, talking or stopped. */
  legs: Record<string, 'ringing' | 'talking' | 'stopped'>;
  startedAt: number;
  answeredAt: number | null;
  endedAt: number | null;
  endReason: string | null;
}

export type Strategy = 'simultaneous' | 'sequential';

export interface QueueRow {
  /** The line the queue belongs to: a queue is edited through its line. */
  id: string;
  lineName: string | null;
  lineNumber: string | null;
  /** `queue`: the line rings the queue; `responsible`: the known caller's manager first, then the queue. */
  routing: 'queue' | 'responsible';
  members: string[];
  strategy: Strategy;
  memberTimeoutSec: number;
  extension: string | null;
  responsibleTimeoutSec: number | null;
}

export interface LineRow {
  id: string;
  name: string | null;
  number: string | null;
  calledNumbers: string[];
  routing: 'direct' | 'queue' | 'responsible';
  /** A direct line's target extension, or the queue's members. */
  targets: string[];
  strategy: Strategy | null;
  leadCreation: string;
}

/** The queue settings an admin may change. */
export interface QueueEdit {
  members: string[];
  strategy: Strategy;
  memberTimeoutSec: number;
}

export type ExtensionProblem =
  'user_without_extension' | 'extension_without_user' | 'duplicate_extension' | 'unknown_member';

export interface ExtensionRow {
  extension: string | null;
  userId: number | null;
  userName: string | null;
  /** Where the mapping comes from: the portal's users (UF_PHONE_INNER) or the configuration. */
  source: 'portal' | 'config';
  problems: ExtensionProblem[];
}

export interface ExtensionMap {
  portal: string;
  rows: ExtensionRow[];
  /** Set when the portal's users could not be read (only the configuration is shown). */
  error: string | null;
}

export interface PortalHealth {
  portal: string;
  domain: string | null;
  auth: 'oauth' | 'webhook';
  /** up: answers; down: cannot be reached (probed); attention: a person must act. */
  link: 'up' | 'down' | 'attention';
  /** Our estimate of the portal's rate-limit bucket, and its size. */
  bucket: { level: number; burst: number; rate: number };
  queued: number;
  inFlight: number;
  pausedForMs: number;
  /** When the access token expires (OAuth), ms since the epoch. */
  tokenExpiresAt: number | null;
  needsReinstall: { since: number; reason: string } | null;
}

export interface BacklogRow {
  portal: string;
  pending: number;
  inFlight: number;
  failed: number;
  dropped: number;
  oldestOpenAt: number | null;
  /** The last error code an entry got, and when. */
  lastError: { code: string; at: number } | null;
  /** While a backlog drains: how much of its largest size has been delivered. */
  replay: { total: number; delivered: number } | null;
}

export interface ReplayStarted {
  portal: string;
  open: number;
}

/** How the UI reads the bridge, and the two things it may change. */
export interface AdminView {
  /** The calls on the board, the most recent first; at most `limit` of them when given. */
  calls(limit?: number): CallRow[];
  lines(): LineRow[];
  queues(): QueueRow[];
  extensions(): Promise<ExtensionMap[]>;
  portals(): Promise<PortalHealth[]>;
  backlog(): Promise<BacklogRow[]>;
  /** Validated already; applies to the running engines and is persisted. Unknown id: undefined. */
  updateQueue(id: string, edit: QueueEdit): Promise<QueueRow | undefined>;
  /** Delivers what waits now (probes the portal at once). Unknown portal: undefined. */
  replay(portal: string): Promise<ReplayStarted | undefined>;
  /** Called after any call changed; returns the unsubscribe. */
  onCallChange(listener: () => void): () => void;
}

/**
 * The engine's whole memory, as plain JSON: a restart or a second instance rebuilds it from the
 * store and carries on. Absent values are null, never undefined, so a JSON round trip returns an
 * equal object.
 */
import type { CallType } from './effects.ts';
import type { Direction, EndReason } from './inputs.ts';

export type LegState = 'ringing' | 'talking' | 'stopped';

/**
 * - pending: a click-to-call or callback the PBX has been asked to originate;
 * - live: between call.started and call.ended;
 * - wrapping: ended, its finish waiting for the recording;
 * - done: finished (or not loggable), remembered for late recordings and repeated events.
 */
export type Phase = 'pending' | 'live' | 'wrapping' | 'done';

export type Origin = 'pbx' | 'click_to_call' | 'callback';

/** What Bitrix24 has been told about the card, as the engine emitted it. */
export interface CardState {
  /** A register was emitted (for click-to-call: the portal registered it). */
  registered: boolean;
  /** USER_ID of that register. */
  userId: number | null;
  /** Users whose card is up now. */
  holders: number[];
}

/**
 * The responsible-manager scenario (S3) for one call:
 * registering → looking → transferred (the engine moved the call there) or planned (the PBX rings
 * them by its plan) or none (no manager, no phone, busy, off work); then failed when the manager
 * did not answer in time, or settled when the call was answered or moved by somebody else.
 * known: the manager was known when the call started (the CRM phone index), nothing rings yet;
 * the PBX's request for a plan puts them first, or the engine transfers the call there.
 */
type ResponsibleStatus =
  'registering' | 'looking' | 'known' | 'transferred' | 'planned' | 'failed' | 'settled' | 'none';

export interface ResponsibleState {
  status: ResponsibleStatus;
  userId: number | null;
  extension: string | null;
  /**
   * The call was transferred to the manager while their phone already rang for it (with the
   * queue): the PBX's report that this earlier ringing stopped is the transfer's echo, not a no.
   */
  rering?: boolean;
}

/** The engine ringing queue members itself, one transfer at a time. */
export interface HuntState {
  targets: string[];
  index: number;
}

export interface RecordingRef {
  url: string | null;
  contentRef: string | null;
  filename: string;
}

export interface CrmRef {
  entityType: string;
  entityId: number;
}

export interface Call {
  /** Unique per call instance; the EXTERNAL_CALL_ID and the prefix of every op id. */
  key: string;
  pbxCallId: string;
  origin: Origin;
  direction: Direction;
  callType: CallType;
  /** Between two office extensions: tracked for presence, never logged. */
  internal: boolean;
  phase: Phase;
  lineId: string;
  lineNumber: string | null;
  /** The client's number. */
  phoneNumber: string;
  /** The other end: the number dialled (inbound) or the caller's extension (outbound). */
  calledNumber: string;
  startedAt: number;
  answeredAt: number | null;
  endedAt: number | null;
  endReason: EndReason | null;
  legs: Record<string, LegState>;
  lastRungUserId: number | null;
  /** The user the call belongs to now: who answered it, or whom it was transferred to. */
  handlerUserId: number | null;
  /** Decided at hang-up; the finish waits for the recording under this user. */
  finishUserId: number | null;
  card: CardState;
  bitrixCallId: string | null;
  crm: CrmRef | null;
  createdLead: boolean;
  callListId: number | null;
  /** The PBX asked for a plan and got one: it rings that plan itself. */
  routed: boolean;
  responsible: ResponsibleState | null;
  hunt: HuntState | null;
  recording: RecordingRef | null;
  recordingAttached: boolean;
  finished: boolean;
  doneAt: number | null;
  /** Running timers by name, with the epoch ms they fire at. */
  timers: Record<string, number>;
  /** Sequence of this call's op and command ids. */
  ops: number;
  /**
   * The command id of the origination the PBX has not reported on yet (while the `originate`
   * timer runs): a restarted bridge sends it again, and the PBX knows it by this id.
   */
  originateCommandId?: string;
  /**
   * Not a call yet: the PBX's end of a call whose start has not arrived (events overtaking each
   * other). Remembered until `forgetAt`, so a late start finishes the call at once.
   */
  tombstone?: boolean;
  forgetAt?: number;
}

export interface EngineState {
  readonly version: 1;
  /** Source of ids for calls the engine starts itself (callbacks). */
  readonly seq: number;
  /**
   * Calls by the PBX's call id (for calls the engine originates, the id it gave the PBX), spread
   * over shards by a hash of that id: a step copies one shard of a few dozen calls, not a map of
   * ten thousand, so a step stays cheap however many calls are live.
   */
  readonly shards: Readonly<Record<string, Readonly<Record<string, Call>>>>;
}

export function initialState(): EngineState {
  return { version: 1, seq: 0, shards: {} };
}

const SHARDS = 256;

/** FNV-1a: any stable, well-spread hash will do; the `s` keeps keys from looking like array indices. */
export function shardOf(pbxCallId: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < pbxCallId.length; i += 1) {
    hash ^= pbxCallId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `s${(hash % SHARDS).toString(16)}`;
}

function own<T>(record: Readonly<Record<string, T>>, key: string): T | null {
  return Object.hasOwn(record, key) ? (record[key] ?? null) : null;
}

export function getCall(state: EngineState, pbxCallId: string): Call | null {
  const shard = own(state.shards, shardOf(pbxCallId));
  return shard === null ? null : own(shard, pbxCallId);
}

export function allCalls(state: EngineState): Call[] {
  return Object.values(state.shards).flatMap((shard) => Object.values(shard));
}

/** A finished call past its retention: as good as gone, whether or not its shard was pruned yet. */
export function isExpired(call: Call, now: number, retainMs: number): boolean {
  if (call.phase !== 'done' || call.doneAt === null) return false;
  return (call.forgetAt ?? call.doneAt + retainMs) <= now;
}

/** Writes one call, and forgets the expired calls of its shard on the way. */
export function putCall(state: EngineState, call: Call, now: number, retainMs: number): EngineState {
  const key = shardOf(call.pbxCallId);
  // A loop, not entries/filter/fromEntries: this runs several times a step.
  const before = own(state.shards, key);
  const shard: Record<string, Call> = {};
  if (before !== null)
    for (const id of Object.keys(before)) {
      const c = before[id];
      if (c !== undefined && !isExpired(c, now, retainMs)) setOwn(shard, id, c);
    }
  setOwn(shard, call.pbxCallId, call);
  const shards = { ...state.shards };
  setOwn(shards, key, shard);
  return { ...state, shards };
}

/** The part of a call key before the last `@` is the PBX call id (see `newCallKey`). */
export function findCallByKey(state: EngineState, callKey: string): Call | null {
  const at = callKey.lastIndexOf('@');
  if (at < 0) return null;
  const call = getCall(state, callKey.slice(0, at));
  return call?.key === callKey ? call : null;
}

/**
 * The PBX's id plus the call's start time: unique even when a PBX reuses its ids (after a restart),
 * and the same again when the same inputs are replayed. Two calls from one number never share it,
 * so Bitrix24's 30-minute deduplication cannot merge them.
 */
function newCallKey(pbxCallId: string, startedAt: number): string {
  return `${pbxCallId}@${startedAt}`;
}

/** What a new call is made from; the rest of `Call` starts empty. */
type NewCall = Pick<
  Call,
  | 'pbxCallId'
  | 'origin'
  | 'direction'
  | 'callType'
  | 'internal'
  | 'phase'
  | 'lineId'
  | 'lineNumber'
  | 'phoneNumber'
  | 'calledNumber'
  | 'startedAt'
>;

export function newCall(init: NewCall): Call {
  return {
    key: newCallKey(init.pbxCallId, init.startedAt),
    ...init,
    answeredAt: null,
    endedAt: null,
    endReason: null,
    legs: {},
    lastRungUserId: null,
    handlerUserId: null,
    finishUserId: null,
    card: { registered: false, userId: null, holders: [] },
    bitrixCallId: null,
    crm: null,
    createdLead: false,
    callListId: null,
    routed: false,
    responsible: null,
    hunt: null,
    recording: null,
    recordingAttached: false,
    finished: false,
    doneAt: null,
    timers: {},
    ops: 0,
  };
}

export function legOf(call: Call, extension: string): LegState | null {
  return Object.hasOwn(call.legs, extension) ? (call.legs[extension] ?? null) : null;
}

/**
 * Keys come from the PBX: a plain assignment of `__proto__` would replace the prototype instead.
 * Every other key is a plain assignment (an own data property either way): defining properties
 * turns an object slow for V8, and the engine writes a shard on every step.
 */
export function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__')
    Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
  else record[key] = value;
}

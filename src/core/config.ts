/**
 * What the engine is told about the office: who sits behind which extension, how each line routes
 * its calls, and the timings. Compiled once by `compileRules` into lookups the handlers use.
 */

export type Strategy = 'simultaneous' | 'sequential';

export interface QueueConfig {
  /** Extensions, in the order a sequential queue rings them. */
  readonly members: readonly string[];
  readonly strategy: Strategy;
  /** How long one plan step rings: each member in turn (sequential) or everyone at once (simultaneous). */
  readonly memberTimeoutSec: number;
  /**
   * The PBX's own number for this queue (a ring group), if it has one. When the engine has moved a
   * call away from the queue (to a responsible manager who then did not answer) it gives the call
   * back by transferring it here; without it the engine hunts through the free members itself, one
   * transfer at a time, because a transfer reaches one extension.
   */
  readonly extension?: string;
}

export type Routing =
  | { readonly kind: 'direct'; readonly extension?: string; readonly timeoutSec?: number }
  | { readonly kind: 'queue'; readonly queue: QueueConfig }
  | { readonly kind: 'responsible'; readonly responsibleTimeoutSec: number; readonly then: QueueConfig };

export type LeadCreation = 'all' | 'inbound' | 'outbound' | 'none';

export interface LineConfig {
  /** Stable id, kept in the state of each call so a call keeps its line's rules across restarts. */
  readonly id: string;
  /** LINE_NUMBER in Bitrix24; a PBX event whose `line` equals it (or the id) belongs to this line. */
  readonly number?: string;
  /** Numbers callers dial (DIDs): an inbound call to one of them belongs to this line. */
  readonly calledNumbers?: readonly string[];
  readonly routing: Routing;
  readonly leadCreation?: LeadCreation;
  /** CRM_SOURCE for leads created by this line's calls, e.g. `CALL`. */
  readonly crmSource?: string;
  /** Who gets this line's missed calls; without it, the last member rung. */
  readonly missedCallUserId?: number;
  /**
   * Log calls that ended before any phone rang (busy extension, every member busy, the caller gone
   * in the IVR): registered without a card and finished as missed. Default true.
   */
  readonly logUnrungCalls?: boolean;
}

export interface DirectoryEntry {
  readonly extension: string;
  /** The Bitrix24 user behind the extension; null: a phone nobody is mapped to (fax, lobby). */
  readonly userId: number | null;
}

export interface RecordingConfig {
  /** How long an answered call may wait for its recording before it is finished without it. 0: never wait. */
  readonly maxWaitSec: number;
  /**
   * How long the card may stay up after hang-up while the recording is awaited. A recording that
   * arrives in time lets `finish` hide the card by itself, which saves the `hide` request. 0: hide at once.
   */
  readonly hideGraceSec: number;
}

export interface EngineConfig {
  readonly directory: readonly DirectoryEntry[];
  readonly lines: readonly LineConfig[];
  /** The rules for calls matching no line; by default ring the called extension, create no lead. */
  readonly defaultLine?: Omit<LineConfig, 'id'>;
  /** The user a call is logged to when nobody else qualifies (before `installerUserId`). */
  readonly defaultUserId?: number;
  /**
   * The portal's user the bridge acts as (who installed the app, or whose webhook it is): a call
   * nobody else qualifies for is logged to them rather than not at all.
   */
  readonly installerUserId?: number;
  /**
   * A known caller's manager whose workday is closed or paused (TIMEMAN_STATUS) is skipped: the call
   * goes straight to the queue. Default true.
   */
  readonly skipClosedWorkday?: boolean;
  /**
   * How long a call whose manager is known from the start waits for the PBX to ask for a plan
   * before the engine transfers it to the manager itself (a PBX routing on its own never asks).
   * Default 1.
   */
  readonly routeWaitSec?: number;
  /**
   * How long the end of a call whose start has not arrived is remembered, so that the start, when
   * it comes late, finishes the call at once instead of leaving it live. Default 600.
   */
  readonly tombstoneSec?: number;
  readonly recording: RecordingConfig;
  /** Ring time of a direct plan step. Default 30. */
  readonly ringTimeoutSec?: number;
  /** ADD_TO_CHAT for finish; left to Bitrix24's default when absent. */
  readonly addToChat?: boolean;
  /** A click-to-call or callback whose PBX call never starts is finished as failed after this. Default 60. */
  readonly originateTimeoutSec?: number;
  /** A call whose end never arrives is ended after this, so its card cannot stay up. Default 4 h; 0 disables. */
  readonly maxCallSec?: number;
  /** Finished calls are remembered this long, to recognise repeated events and late recordings. Default 6 h. */
  readonly retainSec?: number;
}

const DEFAULT_LINE_ID = '';

/** The compiled form: lookups instead of scans, defaults filled in, times in milliseconds. */
export interface Rules {
  readonly userOf: (extension: string) => number | null;
  readonly extensionOf: (userId: number) => string | null;
  /** An extension of the office (mapped or not): calls between two of them are internal. */
  readonly isExtension: (number: string) => boolean;
  readonly lineById: (id: string) => LineConfig;
  readonly resolveLine: (line: string | undefined, calledNumber: string | undefined) => LineConfig;
  readonly defaultUserId: number | null;
  readonly installerUserId: number | null;
  readonly skipClosedWorkday: boolean;
  readonly routeWaitMs: number;
  readonly tombstoneMs: number;
  readonly addToChat: boolean | null;
  readonly ringTimeoutSec: number;
  readonly recordingMaxWaitMs: number;
  readonly hideGraceMs: number;
  readonly originateTimeoutMs: number;
  readonly maxCallMs: number;
  readonly retainMs: number;
}

export class EngineConfigError extends Error {
  readonly code = 'ENGINE_CONFIG_INVALID';
}

const SEC = 1000;

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new EngineConfigError(`${name} must be a number ≥ 0`);
  return value;
}

export function compileRules(config: EngineConfig): Rules {
  const userByExtension = new Map<string, number | null>();
  const extensionByUser = new Map<number, string>();
  for (const { extension, userId } of config.directory) {
    if (userByExtension.has(extension)) throw new EngineConfigError(`extension ${extension} is listed twice`);
    userByExtension.set(extension, userId);
    // A user with two phones is reached on the first one listed.
    if (userId !== null && !extensionByUser.has(userId)) extensionByUser.set(userId, extension);
  }

  const byId = new Map<string, LineConfig>();
  const byNumber = new Map<string, LineConfig>();
  const byCalled = new Map<string, LineConfig>();
  for (const line of config.lines) {
    if (line.id === DEFAULT_LINE_ID || byId.has(line.id))
      throw new EngineConfigError(`line id "${line.id}" is empty or listed twice`);
    byId.set(line.id, line);
    if (line.number !== undefined) byNumber.set(line.number, line);
    for (const called of line.calledNumbers ?? []) byCalled.set(called, line);
    checkRouting(line.id, line.routing);
  }
  const defaultLine: LineConfig = {
    routing: { kind: 'direct' },
    ...config.defaultLine,
    id: DEFAULT_LINE_ID,
  };
  checkRouting('default', defaultLine.routing);

  const lineOf = (key: string | undefined): LineConfig | undefined =>
    key === undefined ? undefined : (byId.get(key) ?? byNumber.get(key) ?? byCalled.get(key));

  return {
    userOf: (extension) => userByExtension.get(extension) ?? null,
    extensionOf: (userId) => extensionByUser.get(userId) ?? null,
    isExtension: (number) => userByExtension.has(number),
    lineById: (id) => byId.get(id) ?? defaultLine,
    resolveLine: (line, calledNumber) => lineOf(line) ?? lineOf(calledNumber) ?? defaultLine,
    defaultUserId: config.defaultUserId ?? null,
    installerUserId: config.installerUserId ?? null,
    skipClosedWorkday: config.skipClosedWorkday ?? true,
    routeWaitMs: nonNegative('routeWaitSec', config.routeWaitSec ?? 1) * SEC,
    tombstoneMs: nonNegative('tombstoneSec', config.tombstoneSec ?? 600) * SEC,
    addToChat: config.addToChat ?? null,
    ringTimeoutSec: nonNegative('ringTimeoutSec', config.ringTimeoutSec ?? 30),
    recordingMaxWaitMs: nonNegative('recording.maxWaitSec', config.recording.maxWaitSec) * SEC,
    hideGraceMs: nonNegative('recording.hideGraceSec', config.recording.hideGraceSec) * SEC,
    originateTimeoutMs: nonNegative('originateTimeoutSec', config.originateTimeoutSec ?? 60) * SEC,
    maxCallMs: nonNegative('maxCallSec', config.maxCallSec ?? 4 * 3600) * SEC,
    retainMs: nonNegative('retainSec', config.retainSec ?? 6 * 3600) * SEC,
  };
}

function checkRouting(line: string, routing: Routing): void {
  if (routing.kind === 'queue') checkQueue(line, routing.queue);
  if (routing.kind === 'responsible') {
    nonNegative(`line ${line}: responsibleTimeoutSec`, routing.responsibleTimeoutSec);
    checkQueue(line, routing.then);
  }
}

function checkQueue(line: string, queue: QueueConfig): void {
  nonNegative(`line ${line}: memberTimeoutSec`, queue.memberTimeoutSec);
  if (new Set(queue.members).size !== queue.members.length)
    throw new EngineConfigError(`line ${line}: a queue member is listed twice`);
}

/** The queue a line hands its calls to, if it has one. */
export function queueOf(line: LineConfig): QueueConfig | null {
  if (line.routing.kind === 'queue') return line.routing.queue;
  if (line.routing.kind === 'responsible') return line.routing.then;
  return null;
}

/** `*97`, `#31#`: a phone dialling a feature code of its PBX (voicemail, call forwarding), not a call. */
export function isFeatureCode(number: string): boolean {
  return /^[*#][0-9*#]*$/.test(number);
}

export function createsLead(line: LineConfig, direction: 'inbound' | 'outbound'): boolean {
  const mode = line.leadCreation ?? 'none';
  return mode === 'all' || mode === direction;
}

/**
 * What the end-to-end tests of routing share: the PBX they drive (the simulator, which rings the
 * plan the bridge returns and carries out every command it sends), readings of the emulated
 * portal's state, and of the bridge's CRM phone index (its SQLite file, read by a second
 * connection, as `b24-bridge status` does).
 */
import BetterSqlite3 from 'better-sqlite3';
import { startSimulator, type AgentSpec, type Simulator } from 'b24-pbx-simulator';
import { DEMO_PBX_TOKEN } from '../../src/config/index.ts';
import { waitFor, type EmulatorProcess } from './processes.ts';

export const SALES = '+74950000001';
export const SUPPORT = '+74950000002';

export interface PortalCall {
  callId: string;
  externalCallId: string | null;
  userId: number;
  phoneNumber: string;
  shown: boolean;
  finished: boolean;
  finishedBy: number | null;
  statusCode: string | null;
  duration: number | null;
  crmEntityType: string | null;
  crmEntityId: number | null;
}

export interface CardLogEntry {
  at: number;
  action: 'show' | 'hide';
  userId: number;
  callId: string;
}

/** The PBX's calls of `pbxCallId` in the portal: one, when the call is logged once. */
export async function portalCallsOf(emulator: EmulatorProcess, pbxCallId: string): Promise<PortalCall[]> {
  const calls = await emulator.inspect<PortalCall[]>('calls');
  return calls.filter((c) => c.externalCallId?.startsWith(`${pbxCallId}@`) === true);
}

/** The portal's call of a PBX call once it is finished. */
export function finishedCall(
  emulator: EmulatorProcess,
  pbxCallId: string,
  timeoutMs = 20_000,
): Promise<PortalCall> {
  return waitFor(
    `${pbxCallId} finished in the portal`,
    async () => (await portalCallsOf(emulator, pbxCallId)).find((c) => c.finished),
    timeoutMs,
  );
}

export async function cardLogOf(emulator: EmulatorProcess, callId: string): Promise<CardLogEntry[]> {
  return (await emulator.inspect<CardLogEntry[]>('card-log')).filter((e) => e.callId === callId);
}

export async function cardsUp(emulator: EmulatorProcess): Promise<{ userId: number; callId: string }[]> {
  return emulator.inspect('cards');
}

/** Every REST request is answered this much later (0: at once). */
export async function portalLatency(emulator: EmulatorProcess, latencyMs: number): Promise<void> {
  await emulator.control('faults', { latencyMs });
}

/** A REST call as a person using the portal makes it (the seed's incoming webhook of Admin). */
export async function asPortalUser(
  emulator: EmulatorProcess,
  method: string,
  params: Record<string, unknown>,
): Promise<unknown> {
  const res = await fetch(`${emulator.url}/rest/1/emulator/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(params),
  });
  const body = (await res.json()) as { result?: unknown; error?: string };
  if (!res.ok) throw new Error(`${method}: ${res.status} ${JSON.stringify(body)}`);
  return body.result;
}

export interface IndexedCaller {
  entityType: string;
  entityId: number;
  responsibleId: number;
  timemanStatus: string | null;
  verifiedAt: number;
}

/** What the bridge's CRM phone index holds for a number (its digits), read from its SQLite file. */
export function indexedCaller(sqlitePath: string, digits: string): IndexedCaller | undefined {
  const db = new BetterSqlite3(sqlitePath, { readonly: true, fileMustExist: true });
  try {
    const row = db
      .prepare(
        `SELECT entity_type AS entityType, entity_id AS entityId, responsible_id AS responsibleId,
           timeman_status AS timemanStatus, verified_at AS verifiedAt
         FROM crm_phone_index WHERE phone = ?`,
      )
      .get(digits) as IndexedCaller | undefined;
    return row;
  } catch (e) {
    // The bridge has not created its tables yet.
    if ((e as { code?: string }).code === 'SQLITE_ERROR') return undefined;
    throw e;
  }
}

/** The outbox entries of a PBX call that failed for good: what the portal never got. */
export function failedEntriesOf(
  sqlitePath: string,
  pbxCallId: string,
): { kind: string; note: string | null }[] {
  const db = new BetterSqlite3(sqlitePath, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare(
        "SELECT kind, note FROM outbox_entries WHERE status = 'failed' AND call_key LIKE ? ESCAPE '\\'",
      )
      .all(`${pbxCallId.replace(/[\\%_]/g, (c) => `\\${c}`)}@%`) as { kind: string; note: string | null }[];
  } finally {
    db.close();
  }
}

/** Waits until the index says `check` of the number. */
export function indexSays(
  sqlitePath: string,
  digits: string,
  check: (c: IndexedCaller) => boolean,
  timeoutMs = 15_000,
): Promise<IndexedCaller> {
  return waitFor(
    `the CRM phone index to know ${digits}`,
    () => {
      const c = indexedCaller(sqlitePath, digits);
      return Promise.resolve(c !== undefined && check(c) ? c : undefined);
    },
    timeoutMs,
  );
}

/**
 * The office's PBX: agents who pick up as told, short talks, recordings right after, the
 * bridge's commands taken from the long poll. One at a time per bridge: two would share its
 * commands.
 */
export function officePbx(bridgeUrl: string, agents: readonly AgentSpec[]): Promise<Simulator> {
  return startSimulator({
    bridgeUrl,
    token: DEMO_PBX_TOKEN,
    agents,
    talkSec: 2,
    recordingDelaySec: 0.1,
    transferRingSec: 20,
    commands: { waitSec: 2 },
  });
}

/** Nobody picks up within a test: the phone rings on. */
export const slow = (extension: string): AgentSpec => ({
  extension,
  answerProbability: 1,
  answerAfterSec: 60,
});
export const picksUp = (extension: string, afterSec: number): AgentSpec => ({
  extension,
  answerProbability: 1,
  answerAfterSec: afterSec,
});

/**
 * What the end-to-end tests of routing share: the PBX they drive (the simulator, which rings the
 * plan the bridge returns and carries out every command it sends), readings of the emulated
 * portal's state, and of the bridge's CRM phone index (its SQLite file, read by a second
 * connection, as `b24-bridge status` does).
 */
import BetterSqlite3 from 'better-sqlite3';
import { startSimulator, type AgentSpec, type Simulator } from 'b24-pbx-simulator';
import { DEMO_PBX_TOKEN } from '../../src/config/index.ts';
import { expect } from 'vitest';
import { simDevices } from '../pbx/asterisk/helpers.ts';
import { waitFor, type EmulatorCall, type EmulatorProcess } from './processes.ts';

export const SALES = '+74950000001';
export const SUPPORT = '+74950000002';

export interface CardLogEntry {
  at: number;
  action: 'show' | 'hide';
  userId: number;
  callId: string;
}

/** The PBX's calls of `pbxCallId` in the portal: one, when the call is logged once. */
export async function portalCallsOf(emulator: EmulatorProcess, pbxCallId: string): Promise<EmulatorCall[]> {
  const calls = await emulator.inspect<EmulatorCall[]>('calls');
  return calls.filter((c) => c.externalCallId?.startsWith(`${pbxCallId}@`) === true);
}

/** The portal's call of a PBX call once it is finished. */
export function finishedCall(
  emulator: EmulatorProcess,
  pbxCallId: string,
  timeoutMs = 20_000,
): Promise<EmulatorCall> {
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

/** The one Asterisk of a test bridge, over AMI at `port` (the fake of `test/pbx/asterisk`). */
export const asteriskPbx = (port: number) =>
  [
    {
      id: 'asterisk',
      token: 'asterisk-pbx-token-1',
      kind: 'asterisk' as const,
      ami: { host: '127.0.0.1', port, username: 'bridge', secret: 'amisecret', devicePattern: simDevices },
    },
  ] as const;

/** A capture's messages as a call of its own: new Uniqueids and Linkedids, `run` making them so. */
export const freshCapture = (messages: readonly string[], run: number): string[] =>
  messages.map((m) => m.replace(/\b1795(\d{6}\.\d+)\b/g, `${String(run)}$1`));

/** The call id a capture's call is reported under: its first channel's Linkedid. */
export const linkedidOf = (messages: readonly string[]): string =>
  /^Linkedid: (\S+)$/m.exec(messages.find((m) => m.startsWith('Event: Newchannel')) ?? '')?.[1] ?? '';

/**
 * Scenario 3 as the portal saw it: the call logged once to the manager on the CRM record, the
 * manager's card the first and the only one, and no card left.
 */
export async function expectManagerAlone(
  emulator: EmulatorProcess,
  pbxCallId: string,
  manager: number,
  record: { type: string; id: number },
): Promise<void> {
  const call = await finishedCall(emulator, pbxCallId);
  expect(call).toMatchObject({
    finishedBy: manager,
    statusCode: '200',
    crmEntityType: record.type,
    crmEntityId: record.id,
  });
  expect(await portalCallsOf(emulator, pbxCallId)).toHaveLength(1);
  const log = await cardLogOf(emulator, call.callId);
  expect(log[0]).toMatchObject({ action: 'show', userId: manager });
  expect(new Set(log.map((e) => e.userId))).toEqual(new Set([manager]));
  await waitFor('no card left', async () => ((await cardsUp(emulator)).length === 0 ? true : undefined));
}

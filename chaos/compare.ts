/**
 * The verdict: what the simulated PBX did (its own record of every call) against what the portal
 * recorded (the emulator's calls). The definitions of every figure are in chaos/README.md; this is
 * them in code.
 */
import { scenarios, type Scenario, type SimCall } from './traffic.ts';
import { userOfExtension } from './office.ts';

/** The emulator's `/_emulator/calls` entry, the fields the verdict reads. */
export interface PortalCall {
  callId: string;
  externalCallId: string | null;
  userId: number;
  startDate: string | null;
  shown: boolean;
  finished: boolean;
  finishedBy: number | null;
  statusCode: string | null;
  duration: number | null;
  recordings: unknown[];
}

export interface Tally {
  calls: number;
  answered: number;
  finished: number;
  lost: number;
  duplicates: number;
  wrongUser: number;
  wrongDuration: number;
  missingRecording: number;
}

export interface Verdict {
  total: Tally;
  /** Per scenario, then S5 (answered, so recorded) and S6 (started during the outage). */
  rows: { label: string; tally: Tally }[];
  wrongStatus: number;
  wrongStart: number;
  duplicateRecordings: number;
  /** Finished portal calls that belong to no simulated call. */
  phantoms: number;
  /** Portal calls still not finished at the end (those of undelivered clicks included). */
  unfinishedInPortal: number;
  /** Simulated calls the PBX never finished (a simulator problem, not the bridge's). */
  simUnfinished: number;
  /** Up to 20 problems, one line each: which call, what was expected, what the portal has. */
  problems: string[];
}

const emptyTally = (): Tally => ({
  calls: 0,
  answered: 0,
  finished: 0,
  lost: 0,
  duplicates: 0,
  wrongUser: 0,
  wrongDuration: 0,
  missingRecording: 0,
});

/** The PBX call id in a call key `<pbxCallId>@<started at ms>` (the portal's EXTERNAL_CALL_ID). */
export function pbxCallIdOf(externalCallId: string): string {
  const at = externalCallId.lastIndexOf('@');
  return at < 0 ? externalCallId : externalCallId.slice(0, at);
}

interface Judged {
  call: SimCall;
  answered: boolean;
  finished: number;
  lost: boolean;
  duplicate: boolean;
  wrongUser: boolean;
  wrongDuration: boolean;
  missingRecording: boolean;
  wrongStatus: boolean;
  wrongStart: boolean;
  duplicateRecording: boolean;
}

/** Whether the PBX recorded the call: it gave a URL, or (uploading the bytes) it was answered. */
const recordedBy = (call: SimCall, uploads: boolean): boolean =>
  call.result?.recordingUrl != null || (uploads && call.result?.answeredAt != null);

function judge(call: SimCall, matches: readonly PortalCall[], problems: string[], uploads: boolean): Judged {
  const finished = matches.filter((m) => m.finished);
  const first = finished[0];
  const result = call.result;
  const answered = result?.answeredAt != null;
  const out: Judged = {
    call,
    answered,
    finished: finished.length,
    lost: first === undefined,
    duplicate: finished.length > 1,
    wrongUser: false,
    wrongDuration: false,
    missingRecording: false,
    wrongStatus: false,
    wrongStart: false,
    duplicateRecording: false,
  };
  const say = (what: string): void => {
    if (problems.length < 20) problems.push(`${call.callId} (${call.scenario}): ${what}`);
  };
  if (first === undefined) {
    say(`lost: ${matches.length} portal call(s), none finished; simulated ${JSON.stringify(result)}`);
    return out;
  }
  if (out.duplicate) say(`finished ${finished.length} times: ${finished.map((f) => f.callId).join(', ')}`);

  // Whose call it is: the clicking user's (S4), else whoever had it last on the PBX.
  const expectedUser =
    call.scenario === 'S4'
      ? (call.clickedBy ?? null)
      : result !== null && result.answeredAt !== null && result.answeredBy !== null
        ? (userOfExtension.get(result.answeredBy) ?? null)
        : null;
  if (expectedUser !== null && first.finishedBy !== expectedUser) {
    out.wrongUser = true;
    say(
      `finished by user ${String(first.finishedBy)}, the PBX says ${expectedUser} (${result?.answeredBy ?? 'click'})`,
    );
  }
  const talkSec =
    result !== null && result.answeredAt !== null ? (result.endedAt - result.answeredAt) / 1000 : 0;
  if (first.duration === null || Math.abs(first.duration - talkSec) > 1) {
    out.wrongDuration = true;
    say(`duration ${String(first.duration)} s, talk time ${talkSec.toFixed(2)} s`);
  }
  if ((first.statusCode === '200') !== answered) {
    out.wrongStatus = true;
    say(`status ${String(first.statusCode)}, answered ${answered}`);
  }
  if (recordedBy(call, uploads) && first.recordings.length === 0) {
    out.missingRecording = true;
    say('recorded on the PBX, no recording in the portal');
  }
  out.duplicateRecording = first.recordings.length > 1;
  if (call.scenario !== 'S4' && result && first.startDate !== null) {
    out.wrongStart = Math.abs(Date.parse(first.startDate) - result.startedAt) > 1000;
    if (out.wrongStart) say(`start ${first.startDate}, PBX ${new Date(result.startedAt).toISOString()}`);
  }
  return out;
}

function add(tally: Tally, j: Judged): void {
  tally.calls++;
  if (j.answered) tally.answered++;
  if (!j.lost) tally.finished++;
  if (j.lost) tally.lost++;
  if (j.duplicate) tally.duplicates++;
  if (j.wrongUser) tally.wrongUser++;
  if (j.wrongDuration) tally.wrongDuration++;
  if (j.missingRecording) tally.missingRecording++;
}

export function compare(
  simCalls: Iterable<SimCall>,
  portalCalls: readonly PortalCall[],
  inOutage: (call: SimCall) => boolean,
  /** The PBX uploads each answered call's recording (`contentBase64`) instead of giving a URL. */
  uploads = false,
): Verdict {
  // Portal calls by the PBX call they belong to: the call key's prefix, or for a click the CALL_ID.
  const byPbxCall = new Map<string, PortalCall[]>();
  const file = (key: string, call: PortalCall): void => {
    const list = byPbxCall.get(key) ?? [];
    if (!list.includes(call)) list.push(call);
    byPbxCall.set(key, list);
  };
  for (const call of portalCalls) {
    if (call.externalCallId !== null) file(pbxCallIdOf(call.externalCallId), call);
    file(`c2c.${call.callId}`, call);
  }

  const problems: string[] = [];
  const total = emptyTally();
  const per = new Map<Scenario, Tally>(scenarios.map((s) => [s, emptyTally()]));
  const recorded = emptyTally();
  const outage = emptyTally();
  const claimed = new Set<PortalCall>();
  let wrongStatus = 0;
  let wrongStart = 0;
  let duplicateRecordings = 0;
  let simUnfinished = 0;
  for (const call of simCalls) {
    // A click the bridge never heard of is no call of the PBX: counted apart (clicksUndelivered).
    if (call.scenario === 'S4' && call.clickDelivered !== true) continue;
    if (call.scenario !== 'S4' && call.result === null) simUnfinished++;
    const matches = byPbxCall.get(call.callId) ?? [];
    for (const m of matches) claimed.add(m);
    const j = judge(call, matches, problems, uploads);
    add(total, j);
    const row = per.get(call.scenario);
    if (row) add(row, j);
    if (recordedBy(call, uploads)) add(recorded, j);
    if (inOutage(call)) add(outage, j);
    if (j.wrongStatus) wrongStatus++;
    if (j.wrongStart) wrongStart++;
    if (j.duplicateRecording) duplicateRecordings++;
  }
  const rows = [
    ...scenarios.map((s) => ({ label: s, tally: per.get(s) ?? emptyTally() })),
    { label: 'S5', tally: recorded },
    { label: 'S6', tally: outage },
  ];
  return {
    total,
    rows,
    wrongStatus,
    wrongStart,
    duplicateRecordings,
    phantoms: portalCalls.filter((c) => c.finished && !claimed.has(c)).length,
    unfinishedInPortal: portalCalls.filter((c) => !c.finished).length,
    simUnfinished,
    problems,
  };
}

/**
 * Requests to the portal for one call, counted in the emulator's request log: a direct call with
 * its recording (S1 + S5), and a call through a simultaneous queue of ten answered by the third
 * member (S2a). Calls run one after another, paced like a person's call (the card is up before the
 * answer, the recording comes half a second after the hang-up), so no call shares a request with
 * another: the count is the call's own.
 */
import { waitFor } from '../test/e2e/processes.ts';
import { agentExtension, QUEUE_LINE, QUEUE_MEMBERS } from './office.ts';
import { callEvents, digits, Pbx, type CallEvents } from './pbx.ts';
import type { Emulator, EmulatorCall, RequestLogEntry, Target } from './targets.ts';
import { sleep } from './util.ts';

export interface PerCallResult {
  requestsPerCall: number;
  /** Commands in each request of the run, for the notes. */
  shape: string;
}

const cardsOf = async (emulator: Emulator, from: string): Promise<number> =>
  (await emulator.inspect<{ phoneNumber: string }[]>('cards')).filter(
    (c) => digits(c.phoneNumber) === digits(from),
  ).length;

async function waitCards(emulator: Emulator, from: string, count: number): Promise<void> {
  await waitFor(`${count} card(s) for ${from}`, async () =>
    (await cardsOf(emulator, from)) === count ? true : undefined,
  );
}

async function waitLogged(emulator: Emulator, from: string): Promise<void> {
  await waitFor(`the call from ${from} finished with its recording`, async () => {
    const calls = await emulator.inspect<EmulatorCall[]>('calls');
    const call = calls.find((c) => digits(c.phoneNumber) === digits(from));
    return call?.finished === true && call.recordings.length > 0 ? true : undefined;
  });
}

/** A person's pace between the events of one call. */
const beat = (): Promise<void> => sleep(250);

function summarize(requests: readonly RequestLogEntry[], calls: number): PerCallResult {
  return {
    requestsPerCall: requests.length / calls,
    shape: requests.map((r) => (r.batch ? `batch(${r.commands.length})` : r.method)).join(' '),
  };
}

async function directCall(target: Target, pbx: Pbx, c: CallEvents, ext: string, recordingUrl: string) {
  const { emulator } = target;
  await pbx.send([c.started(Date.now(), ext), c.ringing(Date.now(), [ext])], c.callId);
  await waitCards(emulator, c.from, 1);
  await beat();
  await pbx.send([c.answered(Date.now(), ext)]);
  await sleep(1000);
  await pbx.send([c.ended(Date.now())]);
  await sleep(500);
  await pbx.send([c.recording(Date.now(), recordingUrl)]);
  await waitLogged(emulator, c.from);
}

export async function requestsPerDirectCall(
  target: Target,
  recordingUrl: (callId: string) => string,
  calls: number,
): Promise<PerCallResult> {
  const pbx = new Pbx(target.url);
  const mark = await target.emulator.mark();
  for (let i = 0; i < calls; i++) {
    const c = callEvents(`direct-${target.kind}-${i}`, 100 + i);
    await directCall(target, pbx, c, agentExtension(i), recordingUrl(c.callId));
  }
  // Anything the calls still cause (a late hide) counts too.
  await sleep(2500);
  return summarize(await target.emulator.requestsSince(mark), calls);
}

export async function requestsPerQueuedCall(
  target: Target,
  recordingUrl: (callId: string) => string,
  calls: number,
): Promise<PerCallResult> {
  const pbx = new Pbx(target.url);
  const { emulator } = target;
  const mark = await emulator.mark();
  for (let i = 0; i < calls; i++) {
    const c = callEvents(`queued-${target.kind}-${i}`, 200 + i);
    await pbx.send([c.started(Date.now(), QUEUE_LINE, QUEUE_LINE)]);
    await pbx.route({ callId: c.callId, from: c.from, to: QUEUE_LINE, line: QUEUE_LINE });
    await pbx.send([c.ringing(Date.now(), QUEUE_MEMBERS)], c.callId);
    await waitCards(emulator, c.from, QUEUE_MEMBERS.length);
    await beat();
    const third = QUEUE_MEMBERS[2] ?? '';
    await pbx.send([c.answered(Date.now(), third)]);
    await waitCards(emulator, c.from, 1);
    await sleep(1000);
    await pbx.send([c.ended(Date.now())]);
    await sleep(500);
    await pbx.send([c.recording(Date.now(), recordingUrl(c.callId))]);
    await waitLogged(emulator, c.from);
  }
  await sleep(2500);
  return summarize(await emulator.requestsSince(mark), calls);
}

/**
 * Scenario 6 at scale: calls without recordings happen while the portal cannot be reached at all
 * (connections refused); when it is back, every request until the last call is finished counts.
 */
import { entryCounts, waitFor } from '../test/e2e/processes.ts';
import { agentExtension, agentUserId } from './office.ts';
import { callEvents, Pbx } from './pbx.ts';
import type { EmulatorCall, Target } from './targets.ts';
import { progress, sleep } from './util.ts';

export interface ReplayCall {
  callId: string;
  from: string;
  userId: number;
  startedAt: number;
  durationSec: number;
}

/** `count` calls that ended hours ago, 5 s apart, 10–59 s long, each to its own agent in turn. */
export function pastCalls(prefix: string, count: number): { call: ReplayCall; events: unknown[] }[] {
  const base = Math.floor((Date.now() - (count * 5 + 3600) * 1000) / 1000) * 1000;
  return Array.from({ length: count }, (_, n) => {
    const c = callEvents(`${prefix}-${n}`, 500_000 + n);
    const startedAt = base + n * 5000;
    const durationSec = 10 + (n % 50);
    const ext = agentExtension(n);
    const answered = startedAt + 5000;
    return {
      call: { callId: c.callId, from: c.from, userId: agentUserId(n), startedAt, durationSec },
      events: [
        c.started(startedAt, ext),
        c.ringing(startedAt + 2000, [ext]),
        c.answered(answered, ext),
        c.ended(answered + durationSec * 1000),
      ],
    };
  });
}

export interface ReplayResult {
  requests: number;
  calls: number;
  recoverySec: number;
  feedSec: number;
  /** Commands per request after recovery, for the notes. */
  commands: number[];
}

/** The bridge: fed during the outage as a PBX with a backlog would (25 calls, 100 events a request). */
export async function bridgeReplay(target: Target, count: number): Promise<ReplayResult> {
  const { emulator } = target;
  const pbx = new Pbx(target.url);
  const calls = pastCalls('outage', count);
  await emulator.control('faults', { outage: 'refuse' });
  const t0 = performance.now();
  const chunks: unknown[][] = [];
  for (let i = 0; i < calls.length; i += 25) chunks.push(calls.slice(i, i + 25).flatMap((c) => c.events));
  // Two PBX connections at once: a backlog arrives faster than one request at a time.
  let next = 0;
  const feeder = async (): Promise<void> => {
    for (let i = next++; i < chunks.length; i = next++) await pbx.send(chunks[i] ?? []);
  };
  await Promise.all([feeder(), feeder()]);
  const feedSec = (performance.now() - t0) / 1000;
  progress(`replay: ${count} calls fed during the outage in ${feedSec.toFixed(1)} s`);
  await waitFor(
    'the bridge to see the link down',
    async () =>
      (await target.child.ask<{ link: string }[]>('portals'))[0]?.link === 'down' ? true : undefined,
    60_000,
  );
  await waitFor(
    'no outbox entry left in flight',
    () => Promise.resolve((entryCounts(target.sqlitePath).in_flight ?? 0) === 0 ? true : undefined),
    60_000,
  );
  const mark = await emulator.mark();
  await emulator.control('faults', { outage: null });
  const recovered = performance.now();
  await waitFor(
    `all ${count} calls finished in the portal`,
    async () => {
      await sleep(2000);
      const list = await emulator.inspect<EmulatorCall[]>('calls');
      return list.length >= count && list.every((c) => c.finished) ? true : undefined;
    },
    600_000,
  );
  const recoverySec = (performance.now() - recovered) / 1000;
  await sleep(1000);
  const requests = (await emulator.requestsSince(mark)).filter((r) => r.status !== 0);
  return {
    requests: requests.length,
    calls: count,
    recoverySec,
    feedSec,
    commands: requests.map((r) => r.commands.length),
  };
}

/** The naive way has no outbox: the tutorial's S6 done by hand, register SHOW=0 + finish per call. */
export async function naiveReplayRequests(target: Target, count: number): Promise<ReplayResult> {
  const { emulator } = target;
  const calls = pastCalls('naive-outage', count).map((c) => c.call);
  const mark = await emulator.mark();
  const t0 = performance.now();
  await target.child.ask('replay', calls);
  const recoverySec = (performance.now() - t0) / 1000;
  const list = await emulator.inspect<EmulatorCall[]>('calls');
  if (list.filter((c) => c.finished).length < count)
    throw new Error(`the naive replay logged ${list.length} of ${count} calls`);
  const requests = await emulator.requestsSince(mark);
  return { requests: requests.length, calls: count, recoverySec, feedSec: 0, commands: [] };
}

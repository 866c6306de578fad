/**
 * The simulated PBX's side of the run: N calls arriving at random across the scenarios, and the
 * simulator's own record of each (who answered, when, for how long, whether it was recorded). Click
 * to call (S4) starts in the portal, which tells the bridge, which tells the PBX: such a call is
 * recorded here from the click on, under the name the bridge gives it (`c2c.<CALL_ID>`).
 */
import { seededRandom, type Random, type SimulatedCallResult, type Simulator } from 'b24-pbx-simulator';
import { extensions, knownCaller, KNOWN_CALLERS, lines, userOfExtension } from './office.ts';
import type { EmulatorProcess } from './processes.ts';

export type Scenario = 'S1' | 'S2a' | 'S2b' | 'S3' | 'S4';
export const scenarios: readonly Scenario[] = ['S1', 'S2a', 'S2b', 'S3', 'S4'];
export const scenarioNames: Record<Scenario, string> = {
  S1: 'S1 direct',
  S2a: 'S2a simultaneous queue',
  S2b: 'S2b sequential queue',
  S3: 'S3 known → manager',
  S4: 'S4 click-to-call',
};

/** Relative weights of the scenarios. */
const mix: Record<Scenario, number> = { S1: 20, S2a: 20, S2b: 15, S3: 25, S4: 20 };

/** What the simulated PBX did with one call (times in epoch ms, real time). */
export interface SimCall {
  readonly callId: string;
  readonly scenario: Scenario;
  /** Milliseconds since the run's start. */
  readonly placedAtMs: number;
  /** S4: the portal's CALL_ID and the user who clicked. */
  readonly bitrixCallId?: string;
  readonly clickedBy?: number;
  /** S4: the portal's event reached the bridge (its handler answered 2xx). */
  clickDelivered?: boolean;
  /** The PBX carried the call (for S4: the bridge's originate reached it). */
  result: SimulatedCallResult | null;
}

/** One click in the portal's CRM (S4), delivered or not. */
export interface Click {
  readonly bitrixCallId: string;
  readonly clickedBy: number;
  readonly placedAtMs: number;
  /** Made while the bridge was dead or restarting. */
  readonly whileDown: boolean;
  /** Push: the bridge's handler took the event. Outbound-only: always (it waits in the queue). */
  readonly delivered: boolean;
}

export interface Traffic {
  readonly calls: ReadonlyMap<string, SimCall>;
  /** Every click made, whatever became of it. */
  readonly clicks: readonly Click[];
  /** A click now (the bridge just died, or is about to start again); none while the portal is down. */
  clickNow(whileDown: boolean): void;
  /** Whether the PBX started the call of a click (the bridge dialled it). */
  dialled(bitrixCallId: string): boolean;
  /** Clicks whose event the bridge did not take (it was down): no call happened. */
  readonly clicksUndelivered: () => number;
  /** Resolves once every call has been placed. */
  readonly placed: Promise<void>;
  /** Placements under way, and calls the PBX started that have not ended (recording included). */
  open(): number;
  stop(): void;
}

interface ClickAnswer {
  callId: string;
  deliveries?: { status: number | null }[];
}

export interface TrafficOptions {
  readonly count: number;
  readonly feedSec: number;
  readonly seed: number;
  readonly elapsedMs: () => number;
  /** No clicks in the CRM while the portal is down: nobody can click then. */
  readonly portalDown: () => boolean;
  /** Wait while this many calls are in progress (the office has 48 phones). */
  readonly maxActive?: number;
  /** The bridge is dead or restarting (a click now is made while it is down). */
  readonly bridgeDown?: () => boolean;
  /** Outbound-only: a click is never delivered; it waits in the portal's offline queue. */
  readonly offline?: boolean;
}

function pickOf<T>(items: readonly T[], random: Random): T {
  const item = items[Math.floor(random.next() * items.length)];
  if (item === undefined) throw new RangeError('pick from an empty list');
  return item;
}

export function startTraffic(sim: Simulator, emulator: EmulatorProcess, options: TrafficOptions): Traffic {
  const random = seededRandom(options.seed);
  const calls = new Map<string, SimCall>();
  let undelivered = 0;
  const state = { stopped: false };
  /** Read through a function: `stop()` sets it from outside, which narrowing cannot see. */
  const stopped = (): boolean => state.stopped;
  const pending = new Set<Promise<unknown>>();

  // Calls the PBX runs on the bridge's command (S4) are known to us only through its reports, and
  // the report may come before the click's own answer does.
  const started = new Set<string>();
  const ended = new Map<string, SimulatedCallResult>();
  sim.events.on('call.started', (call) => started.add(call.callId));
  sim.events.on('call.ended', (result) => {
    ended.set(result.callId, result);
    const call = calls.get(result.callId);
    if (call) call.result = result;
  });

  const unknownNumber = (): string =>
    `+7916${String(Math.floor(random.next() * 10_000_000)).padStart(7, '0')}`;
  const freeExtension = (): string => {
    const busy = new Set(sim.stats().busyExtensions);
    const free = extensions.filter((e) => !busy.has(e));
    return pickOf(free.length > 0 ? free : extensions, random);
  };
  const draw = (): Scenario => {
    const total = scenarios.reduce((sum, s) => sum + mix[s], 0);
    let x = random.next() * total;
    return scenarios.find((s) => (x -= mix[s]) < 0) ?? 'S1';
  };

  const place = (n: number, scenario: Scenario): void => {
    const callId = `chaos-${n}`;
    const to =
      scenario === 'S1'
        ? freeExtension()
        : scenario === 'S2a'
          ? lines.queue
          : scenario === 'S2b'
            ? lines.support
            : lines.sales;
    const from = scenario === 'S3' ? knownCaller(Math.floor(random.next() * KNOWN_CALLERS)) : unknownNumber();
    const call: SimCall = { callId, scenario, placedAtMs: options.elapsedMs(), result: null };
    calls.set(callId, call);
    const done = sim.placeCall({ callId, from, to }).then(
      (result) => (call.result = result),
      () => undefined,
    );
    pending.add(done);
    void done.then(() => pending.delete(done));
  };

  const clicks: Click[] = [];
  const click = async (whileDown = false): Promise<void> => {
    const extension = freeExtension();
    const userId = userOfExtension.get(extension) ?? 0;
    const placedAtMs = options.elapsedMs();
    const down = whileDown || options.bridgeDown?.() === true;
    const answer = await emulator.post<ClickAnswer>('click-to-call', {
      userId,
      phoneNumber: unknownNumber(),
      wait: true,
    });
    const delivered =
      options.offline === true || (answer.deliveries ?? []).some((d) => d.status !== null && d.status < 300);
    clicks.push({ bitrixCallId: answer.callId, clickedBy: userId, placedAtMs, whileDown: down, delivered });
    if (!delivered) {
      undelivered++;
      return;
    }
    const callId = `c2c.${answer.callId}`;
    calls.set(callId, {
      callId,
      scenario: 'S4',
      placedAtMs,
      bitrixCallId: answer.callId,
      clickedBy: userId,
      clickDelivered: true,
      // The PBX may have carried it out before the click's answer came back.
      result: ended.get(callId) ?? null,
    });
  };

  const clickNow = (whileDown: boolean): void => {
    if (stopped() || options.portalDown()) return;
    const clicked = click(whileDown).catch(() => {
      undelivered++;
    });
    pending.add(clicked);
    void clicked.then(() => pending.delete(clicked));
  };

  const placed = (async () => {
    const meanMs = (options.feedSec * 1000) / options.count;
    let due = 0;
    for (let n = 1; n <= options.count && !stopped(); n++) {
      due += -Math.log(1 - random.next()) * meanMs;
      const wait = due - options.elapsedMs();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      while (!stopped() && sim.stats().callsActive >= (options.maxActive ?? 36))
        await new Promise((r) => setTimeout(r, 100));
      let scenario = draw();
      if (scenario === 'S4' && options.portalDown()) scenario = 'S1';
      if (scenario === 'S4') {
        clickNow(false);
      } else {
        place(n, scenario);
      }
    }
  })();

  return {
    calls,
    clicks,
    clickNow,
    dialled: (bitrixCallId) => started.has(`c2c.${bitrixCallId}`),
    clicksUndelivered: () => undelivered,
    placed,
    open: () => pending.size + [...started].filter((id) => !ended.has(id)).length,
    stop() {
      state.stopped = true;
    },
  };
}

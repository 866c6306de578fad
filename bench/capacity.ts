/**
 * The highest steady call rate one portal carries: calls start at a steady rate, stepped up every
 * `stepSec`, against a portal with its real limit (2 requests/s, burst 50), until a step fails.
 * A step passes when the portal answered no request with QUERY_LIMIT_EXCEEDED, the 99th
 * percentile of card latency (the ringing event sent → the card shown in the emulator, one clock:
 * both processes on this host read Date.now) is at most 1 s, and the target kept up: every call
 * whose recording was sent 2.5 s before the step's end is finished with it (nothing piles up).
 *
 * Each call is a direct call with its recording: started + ringing, answered 2 s later, ended after
 * `talkSec`, the recording half a second after that. Calls go to the agents in turn; there are
 * enough agents that nobody has two calls at once.
 */
import { agentExtension } from './office.ts';
import { callEvents, digits, Pbx, RECORDING_BYTES } from './pbx.ts';
import type { CardLogEntry, EmulatorCall, Target } from './targets.ts';
import { percentile, progress, sleep } from './util.ts';

export interface StepResult {
  callsPerMinute: number;
  calls: number;
  queryLimitErrors: number;
  cardLatencyP99Ms: number;
  cardLatencyP50Ms: number;
  /** Calls that should be logged by now and are not. */
  backlog: number;
  sendErrors: number;
  requests: number;
  /** Requests that carried nothing but reads of the offline event queue (outbound-only polling). */
  pollRequests: number;
  passed: boolean;
}

export interface CapacityResult {
  callsPerMinute: number;
  queryLimitErrors: number;
  cardLatencyP99Ms: number;
  steps: StepResult[];
}

export interface CapacityOptions {
  steps: readonly number[];
  stepSec: number;
  talkSec: number;
  recordingUrl: (callId: string) => string;
  /** Before each step (the naive baseline's steady state: its burst already spent). */
  beforeStep?: () => Promise<void>;
  /**
   * The PBX sends each recording's bytes in its event instead of a URL (outbound-only mode: the
   * portal cannot reach the office's recording server, so the bridge uploads what it stored).
   */
  inlineRecordings?: boolean;
  /** Methods the bench itself sends (filling the bucket), left out of the counts. */
  ignoreMethods?: readonly string[];
}

interface Placed {
  callId: string;
  from: string;
  ringSentAt: number;
  recordingSentAt: number | null;
}

const LATENCY_LIMIT_MS = 1000;
/**
 * A target keeping up logs a call within a couple of request slots of its recording; one that
 * falls behind (more commands than 2 requests/s of 50 carry) lags more with every second.
 */
const KEPT_UP_MS = 2500;

export async function capacity(target: Target, o: CapacityOptions): Promise<CapacityResult> {
  const { emulator } = target;
  const pbx = new Pbx(target.url);
  const timers = new Set<NodeJS.Timeout>();
  const at = (ms: number, fn: () => Promise<void>): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn().catch(() => (sendErrors += 1));
    }, ms);
    timers.add(t);
  };
  let sendErrors = 0;
  let n = 0;
  const all: Placed[] = [];
  const steps: StepResult[] = [];
  const ignore = new Set((o.ignoreMethods ?? []).map((m) => m.toLowerCase()));
  try {
    for (const rate of o.steps) {
      await o.beforeStep?.();
      const requestMark = await emulator.mark();
      const cardMark = (await emulator.inspect<unknown[]>('card-log')).length;
      const errorsBefore = sendErrors;
      const intervalMs = 60_000 / rate;
      const count = Math.max(1, Math.round((o.stepSec * rate) / 60));
      const start = Date.now() + 50;
      const mine: Placed[] = [];
      for (let i = 0; i < count; i++) {
        const k = n++;
        const c = callEvents(`cap-${target.kind}-${k}`, 1_000_000 + k);
        const ext = agentExtension(k);
        const placed: Placed = { callId: c.callId, from: c.from, ringSentAt: 0, recordingSentAt: null };
        mine.push(placed);
        all.push(placed);
        const t = start + i * intervalMs - Date.now();
        at(t, async () => {
          placed.ringSentAt = Date.now();
          await pbx.send([c.started(placed.ringSentAt, ext), c.ringing(placed.ringSentAt, [ext])], c.callId);
        });
        at(t + 2000, () => pbx.send([c.answered(Date.now(), ext)]));
        at(t + 2000 + o.talkSec * 1000, () => pbx.send([c.ended(Date.now())]));
        at(t + 2500 + o.talkSec * 1000, async () => {
          const at = Date.now();
          await pbx.send([
            o.inlineRecordings === true
              ? c.recordingInline(at, RECORDING_BYTES)
              : c.recording(at, o.recordingUrl(c.callId)),
          ]);
          placed.recordingSentAt = Date.now();
        });
      }
      await sleep(start + o.stepSec * 1000 - Date.now());
      // The last cards of the step get their second.
      await sleep(LATENCY_LIMIT_MS + 200);
      const result = await judge(rate);
      steps.push(result);
      progress(
        `capacity ${target.kind} ${rate}/min: ${result.calls} calls, ${result.requests} requests, ` +
          `${result.queryLimitErrors} QUERY_LIMIT_EXCEEDED, card p99 ${Math.round(result.cardLatencyP99Ms)} ms, ` +
          `backlog ${result.backlog}, send errors ${result.sendErrors} → ${result.passed ? 'pass' : 'FAIL'}`,
      );
      if (!result.passed) break;

      async function judge(callsPerMinute: number): Promise<StepResult> {
        const now = Date.now();
        const requests = (await emulator.requestsSince(requestMark)).filter(
          (r) => !ignore.has(r.method.toLowerCase()),
        );
        const queryLimitErrors = requests.filter((r) => r.error === 'QUERY_LIMIT_EXCEEDED').length;
        const pollRequests = requests.filter((r) =>
          (r.batch ? r.commands : [r.method]).every((m) => m.toLowerCase().startsWith('event.offline.')),
        ).length;
        const shows = new Map<string, number>();
        for (const e of await emulator.inspect<CardLogEntry[]>(`card-log?since=${cardMark}`)) {
          const key = digits(e.phoneNumber);
          if (e.action === 'show' && !shows.has(key)) shows.set(key, e.at);
        }
        const latencies = mine.map((p) => {
          const shown = shows.get(digits(p.from));
          return shown === undefined || p.ringSentAt === 0 ? Number.POSITIVE_INFINITY : shown - p.ringSentAt;
        });
        const due = all.filter((p) => p.recordingSentAt !== null && p.recordingSentAt <= now - KEPT_UP_MS);
        let backlog = 0;
        if (due.length > 0) {
          const logged = new Set(
            (await emulator.inspect<EmulatorCall[]>('calls'))
              .filter((c) => c.finished && c.recordings.length > 0)
              .map((c) => digits(c.phoneNumber)),
          );
          backlog = due.filter((p) => !logged.has(digits(p.from))).length;
        }
        const p99 = percentile(latencies, 99);
        const stepErrors = sendErrors - errorsBefore;
        return {
          callsPerMinute,
          calls: mine.length,
          queryLimitErrors,
          cardLatencyP99Ms: p99,
          cardLatencyP50Ms: percentile(latencies, 50),
          backlog,
          sendErrors: stepErrors,
          requests: requests.length,
          pollRequests,
          passed: queryLimitErrors === 0 && p99 <= LATENCY_LIMIT_MS && backlog === 0 && stepErrors === 0,
        };
      }
    }
  } finally {
    for (const t of timers) clearTimeout(t);
  }
  const best = [...steps].reverse().find((s) => s.passed);
  return {
    callsPerMinute: best?.callsPerMinute ?? 0,
    queryLimitErrors: best?.queryLimitErrors ?? steps[0]?.queryLimitErrors ?? 0,
    cardLatencyP99Ms: best?.cardLatencyP99Ms ?? steps[0]?.cardLatencyP99Ms ?? Number.NaN,
    steps,
  };
}

/**
 * Fills the portal's bucket to one below its size through the bench's webhook (`profile`): the
 * steady state of a target that has already spent its burst.
 */
export async function fillBucket(emulatorUrl: string, webhookSecret: string, burst: number): Promise<void> {
  const level = async (): Promise<number> =>
    ((await (await fetch(`${emulatorUrl}/_emulator/limits`)).json()) as { level: number }).level;
  for (let current = await level(); current < burst - 1.5; current = await level()) {
    const missing = Math.floor(burst - 1 - current);
    await Promise.all(
      Array.from({ length: Math.max(1, missing) }, () =>
        fetch(`${emulatorUrl}/rest/1/${webhookSecret}/profile`).then((r) => r.arrayBuffer()),
      ),
    );
  }
}

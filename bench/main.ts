/**
 * `npm run bench [-- --json] [-- --quick] [-- --only route|latency|capacity] [-- --latency-sec N]`: the
 * bridge and the naive baseline against the emulated portal, each phase with fresh processes
 * (emulator, bridge or naive). Prints progress on stderr, then a table and notes on stdout, and
 * with --json one JSON object as the last line. `--only route`: the known caller's route figures
 * alone (a minute, not an hour); `--only latency`: the card latency runs at 60 and 1,000 calls/min
 * and the bucket's peak over them; `--only capacity`: the bridge's capacity steps and the bucket's
 * peak over them; `--only offline`: outbound-only mode, the offline queue's reads per minute idle
 * and in a call, and the capacity steps with the queue polled. `--latency-sec`: the length of the 60 calls/min run (5 minutes
 * in the full bench, 20 s in the quick one).
 */
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { capacity, fillBucket, type CapacityResult, type StepResult } from './capacity.ts';
import { cardLatencyAt } from './card-latency.ts';
import { forkChild } from './ipc.ts';
import { BENCH_WEBHOOK_SECRET } from './office.ts';
import { overhead, type OverheadResult } from './overhead.ts';
import { requestsPerDirectCall, requestsPerQueuedCall, type PerCallResult } from './per-call.ts';
import { startRecordingServer } from './pbx.ts';
import { bridgeReplay, naiveReplayRequests, type ReplayResult } from './replay.ts';
import { routeKnownCaller, type RouteKnownResult } from './route-known.ts';
import { routeWithBoards } from './boards.ts';
import { offlinePoll } from './offline-poll.ts';
import { figureKeys, table, type BenchResult, type Figures } from './report.ts';
import { startTarget, type Target, type TargetKind, type TargetOptions } from './targets.ts';
import { progress, round } from './util.ts';

interface Plan {
  directCalls: number;
  queuedCalls: number;
  replayCalls: number;
  naiveReplayCalls: number;
  bridgeSteps: number[];
  /**
   * Outbound-only: each recorded call's upload is a request of its own, so the steps start where
   * the naive baseline's do and climb to the bridge's.
   */
  offlineSteps: number[];
  naiveSteps: number[];
  stepSec: number;
  naiveStepSec: number;
  talkSec: number;
  overheadSec: number;
  memoryCalls: number;
  /** The known caller's route: calls a second, for how long. */
  routeCallsPerSec: number;
  routeSec: number;
  /** Card latency runs: seconds at 60 calls/min and at 1,000 calls/min. */
  latency60Sec: number;
  latency1000Sec: number;
}

const fullPlan: Plan = {
  directCalls: 3,
  queuedCalls: 2,
  replayCalls: 10_000,
  naiveReplayCalls: 1_000,
  bridgeSteps: [1000, 1500, 1800, 2000, 2400, 3000],
  offlineSteps: [30, 60, 90, 120, 180, 240, 300, 600, 1000, 1500, 1800, 2000, 2400, 3000],
  naiveSteps: [20, 40, 60],
  stepSec: 20,
  naiveStepSec: 20,
  talkSec: 3,
  overheadSec: 10,
  memoryCalls: 10_000,
  routeCallsPerSec: 5,
  routeSec: 60,
  latency60Sec: 300,
  latency1000Sec: 60,
};

const quickPlan: Plan = {
  directCalls: 1,
  queuedCalls: 1,
  replayCalls: 250,
  naiveReplayCalls: 100,
  bridgeSteps: [300, 600],
  offlineSteps: [60],
  naiveSteps: [20, 60],
  stepSec: 6,
  naiveStepSec: 6,
  talkSec: 3,
  overheadSec: 2,
  memoryCalls: 1_000,
  routeCallsPerSec: 5,
  routeSec: 6,
  latency60Sec: 20,
  latency1000Sec: 6,
};

const standard = { rate: 2, burst: 50 };

/**
 * The highest level the portal's bucket reached in any phase with the portal's real limit, per
 * target kind, as the emulator saw it (phases with the limit off have a bucket no one can fill).
 */
const bucketPeaks: Record<TargetKind, number> = { bridge: 0, naive: 0 };

async function withTarget<T>(options: TargetOptions, run: (t: Target) => Promise<T>): Promise<T> {
  const target = await startTarget(options);
  try {
    return await run(target);
  } finally {
    if (options.rateLimit !== null) {
      const { peak } = await target.emulator.inspect<{ peak: number }>('limits').catch(() => ({ peak: 0 }));
      bucketPeaks[options.kind] = Math.max(bucketPeaks[options.kind], peak);
      progress(`${options.kind}: the portal's bucket peaked at ${peak.toFixed(2)}`);
    }
    await target.stop();
  }
}

interface Measured {
  direct: PerCallResult;
  queued: PerCallResult;
  replay: ReplayResult;
  capacity: CapacityResult;
  /** The same capacity steps in outbound-only mode (the bridge only). */
  offlineCapacity: CapacityResult | null;
  overhead: OverheadResult;
  /** The bridge's overhead again with SQLite's synchronous=NORMAL (a diagnostic, not a figure). */
  overheadNormalSync: OverheadResult | null;
  memory: { heapBytes: number; rssBytes: number; calls: number };
  /** The bridge only: the naive way asks nobody for a route. */
  routeKnown: RouteKnownResult | null;
  latency: Latency;
}

interface Latency {
  at60: StepResult;
  at1000: StepResult;
}

/** The portal's delay for the route figure: a real portal answers in 100–800 ms. */
const ROUTE_LATENCY_MS = 400;

async function routeKnownOf(plan: Plan): Promise<RouteKnownResult> {
  progress(`bridge: route for a known caller, the portal ${ROUTE_LATENCY_MS} ms late`);
  const r = await withTarget({ kind: 'bridge', rateLimit: null, sales: true, noRecordingWait: true }, (t) =>
    routeKnownCaller(t, {
      latencyMs: ROUTE_LATENCY_MS,
      callsPerSec: plan.routeCallsPerSec,
      seconds: plan.routeSec,
    }),
  );
  progress(
    `bridge: known caller's route p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms (${r.samples} calls, ${r.notManagerFirst} without the manager first)`,
  );
  return r;
}

type RecordingUrl = (id: string) => string;

async function perCall(kind: TargetKind, plan: Plan, recordingUrl: RecordingUrl) {
  progress(`${kind}: requests per call`);
  const out = await withTarget({ kind, rateLimit: standard, queue: true }, async (t) => ({
    direct: await requestsPerDirectCall(t, recordingUrl, plan.directCalls),
    queued: await requestsPerQueuedCall(t, recordingUrl, plan.queuedCalls),
  }));
  progress(
    `${kind}: ${out.direct.requestsPerCall} per direct call, ${out.queued.requestsPerCall} per queued call`,
  );
  return out;
}

async function replayOf(kind: TargetKind, plan: Plan): Promise<ReplayResult> {
  progress(`${kind}: outage replay`);
  const replay =
    kind === 'bridge'
      ? await withTarget({ kind, rateLimit: standard, noRecordingWait: true }, (t) =>
          bridgeReplay(t, plan.replayCalls),
        )
      : // The naive count does not depend on the limit (two requests a call, whatever the pace):
        // the portal's limit is off so its 2 requests a call do not take hours.
        await withTarget({ kind, rateLimit: null }, (t) => naiveReplayRequests(t, plan.naiveReplayCalls));
  progress(
    `${kind}: replay of ${replay.calls} calls: ${replay.requests} requests, ${replay.recoverySec.toFixed(1)} s`,
  );
  return replay;
}

function capacityOf(kind: TargetKind, plan: Plan, recordingUrl: RecordingUrl): Promise<CapacityResult> {
  progress(`${kind}: capacity at 2 requests/s, burst 50`);
  return withTarget({ kind, rateLimit: standard, drain: true }, (t) =>
    capacity(t, {
      steps: kind === 'bridge' ? plan.bridgeSteps : plan.naiveSteps,
      stepSec: kind === 'bridge' ? plan.stepSec : plan.naiveStepSec,
      talkSec: plan.talkSec,
      recordingUrl,
      ignoreMethods: ['profile'],
      ...(kind === 'naive'
        ? { beforeStep: () => fillBucket(t.emulator.url, BENCH_WEBHOOK_SECRET, standard.burst) }
        : {}),
    }),
  );
}

/**
 * Capacity in outbound-only mode: the portal cannot reach the bridge (installed from its app page),
 * which reads the portal's offline event queue at its default pace all through the steps.
 */
function offlineCapacityOf(plan: Plan, recordingUrl: RecordingUrl): Promise<CapacityResult> {
  progress('bridge (outbound-only): capacity at 2 requests/s, burst 50, the offline queue polled');
  return withTarget({ kind: 'bridge', rateLimit: standard, drain: true, events: 'offline' }, (t) =>
    capacity(t, {
      steps: plan.offlineSteps,
      stepSec: plan.stepSec,
      talkSec: plan.talkSec,
      recordingUrl,
      inlineRecordings: true,
      ignoreMethods: ['profile'],
    }),
  );
}

async function latencyOf(kind: TargetKind, plan: Plan, recordingUrl: RecordingUrl): Promise<Latency> {
  const at = async (callsPerMinute: number, seconds: number): Promise<StepResult> => {
    progress(
      `${kind}: card latency at ${callsPerMinute} calls/min for ${seconds} s, the portal answering at once`,
    );
    return withTarget({ kind, rateLimit: standard, drain: true }, (t) =>
      cardLatencyAt(t, { callsPerMinute, seconds, talkSec: plan.talkSec, recordingUrl }),
    );
  };
  return { at60: await at(60, plan.latency60Sec), at1000: await at(1000, plan.latency1000Sec) };
}

async function overheadOf(kind: TargetKind, plan: Plan) {
  progress(`${kind}: overhead at 100 calls/s, limit off`);
  const ovh = await withTarget({ kind, rateLimit: null, noRecordingWait: true }, (t) =>
    overhead(t, 100, plan.overheadSec),
  );
  progress(
    `${kind}: overhead p50 ${ovh.p50Ms.toFixed(2)} ms, p99 ${ovh.p99Ms.toFixed(2)} ms (${ovh.samples} calls)`,
  );
  let normal: OverheadResult | null = null;
  if (kind === 'bridge') {
    normal = await withTarget(
      { kind, rateLimit: null, noRecordingWait: true, env: { B24_BENCH_SQLITE_SYNC: 'normal' } },
      (t) => overhead(t, 100, Math.max(2, plan.overheadSec / 2)),
    );
    progress(`${kind}: overhead with synchronous=NORMAL p99 ${normal.p99Ms.toFixed(2)} ms`);
  }
  return { overhead: ovh, overheadNormalSync: normal };
}

async function memoryOf(kind: TargetKind, plan: Plan): Promise<Measured['memory']> {
  progress(`${kind}: memory per live call (${plan.memoryCalls} calls)`);
  const mem = await forkChild('memory-child.ts', [], { execArgv: ['--expose-gc'] });
  try {
    return await mem.ask('measure', { kind, calls: plan.memoryCalls });
  } finally {
    await mem.stop();
  }
}

/**
 * The order keeps timing figures on a machine as quiet as the bench can make it: figures that are
 * counts or bytes (the naive requests per call and replay, both memory figures) run while the
 * bridge's replay waits out the portal's 2 requests/s, which uses little CPU; the capacity,
 * overhead and AMI figures then run one at a time.
 */
async function measureAll(
  plan: Plan,
  recordingUrl: RecordingUrl,
): Promise<{ bridge: Measured; naive: Measured }> {
  const bCalls = await perCall('bridge', plan, recordingUrl);
  const [bReplay, side] = await Promise.all([
    replayOf('bridge', plan),
    (async () => {
      const calls = await perCall('naive', plan, recordingUrl);
      const replay = await replayOf('naive', plan);
      const bMemory = await memoryOf('bridge', plan);
      const nMemory = await memoryOf('naive', plan);
      return { calls, replay, bMemory, nMemory };
    })(),
  ]);
  const bCap = await capacityOf('bridge', plan, recordingUrl);
  const nCap = await capacityOf('naive', plan, recordingUrl);
  const bOfflineCap = await offlineCapacityOf(plan, recordingUrl);
  const bLatency = await latencyOf('bridge', plan, recordingUrl);
  const nLatency = await latencyOf('naive', plan, recordingUrl);
  const bOvh = await overheadOf('bridge', plan);
  const nOvh = await overheadOf('naive', plan);
  const routeKnown = await routeKnownOf(plan);
  return {
    bridge: {
      ...bCalls,
      replay: bReplay,
      capacity: bCap,
      offlineCapacity: bOfflineCap,
      ...bOvh,
      memory: side.bMemory,
      routeKnown,
      latency: bLatency,
    },
    naive: {
      ...side.calls,
      replay: side.replay,
      capacity: nCap,
      offlineCapacity: null,
      ...nOvh,
      memory: side.nMemory,
      routeKnown: null,
      latency: nLatency,
    },
  };
}

async function amiThroughput(): Promise<{ eventsPerSec: number | null; note: string }> {
  const child = await forkChild('ami-child.ts', []);
  try {
    return await child.ask('measure', undefined, 120_000);
  } catch (e) {
    return {
      eventsPerSec: null,
      note: `measureAmiThroughput() failed: ${(e as Error).message.slice(0, 200)}`,
    };
  } finally {
    await child.stop();
  }
}

/** A card that never came within its run counts as a minute. */
const latencyFigure = (ms: number): number => (Number.isFinite(ms) ? Math.round(ms) : 60_000);

function latencyFigures(
  l: Latency,
  peak: number,
): Pick<Figures, 'cardLatencyP99MsAt60' | 'cardLatencyP99MsAt1000' | 'bucketPeak'> {
  return {
    cardLatencyP99MsAt60: latencyFigure(l.at60.cardLatencyP99Ms),
    cardLatencyP99MsAt1000: latencyFigure(l.at1000.cardLatencyP99Ms),
    bucketPeak: round(peak, 2),
  };
}

function figures(m: Measured, ami: number | null, peak: number): Figures {
  const latency = m.capacity.cardLatencyP99Ms;
  return {
    requestsPerDirectCall: round(m.direct.requestsPerCall, 2),
    requestsPerQueuedCall: round(m.queued.requestsPerCall, 2),
    replayRequests10k: Math.round((m.replay.requests * 10_000) / m.replay.calls),
    callsPerMinuteAt2rps: m.capacity.callsPerMinute,
    queryLimitErrors: m.capacity.queryLimitErrors,
    // A card that never came within its step counts as the step's length.
    cardLatencyP99Ms: Number.isFinite(latency) ? Math.round(latency) : 60_000,
    overheadP99Ms: round(m.overhead.p99Ms, 2),
    amiEventsPerSec: ami === null ? null : Math.round(ami),
    bytesPerLiveCall: Math.round(m.memory.heapBytes / m.memory.calls),
    ...routeFigures(m.routeKnown),
    ...latencyFigures(m.latency, peak),
    offlineCallsPerMinuteAt2rps: m.offlineCapacity?.callsPerMinute ?? null,
  };
}

function latencyNote(kind: TargetKind, l: Latency): string {
  const run = (s: StepResult): string =>
    `${s.callsPerMinute}/min: ${s.calls} calls, card p50 ${Math.round(s.cardLatencyP50Ms)} ms p99 ${Number.isFinite(s.cardLatencyP99Ms) ? Math.round(s.cardLatencyP99Ms) : '∞'} ms, ` +
    `${s.requests} requests, ${s.queryLimitErrors} QLE, backlog ${s.backlog}`;
  return `card latency (${kind}; recorded direct calls at a steady rate, the portal answering at once, 2 req/s burst 50): ${run(l.at60)}; ${run(l.at1000)}`;
}

function peakNote(): string {
  return (
    `bucketPeak: the highest level of the portal's bucket (burst 50) the emulator saw in any phase with the real limit: ` +
    `bridge ${bucketPeaks.bridge.toFixed(2)}, naive ${bucketPeaks.naive.toFixed(2)} (its capacity steps start with the bucket filled to 49)`
  );
}

function routeFigures(
  r: RouteKnownResult | null,
): Pick<Figures, 'routeKnownCallerP50Ms' | 'routeKnownCallerP99Ms'> {
  // A plan without the manager first is not an answer from the index: it does not count as fast.
  const valid = r !== null && r.notManagerFirst === 0;
  return {
    routeKnownCallerP50Ms: valid ? round(r.p50Ms, 2) : null,
    routeKnownCallerP99Ms: valid ? round(r.p99Ms, 2) : null,
  };
}

function routeNote(r: RouteKnownResult | null): string {
  return r === null
    ? 'route for a known caller: not measured'
    : `route for a known caller (sales line, the manager from the CRM phone index; the portal ${r.latencyMs} ms late, limit off): ` +
        `p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms over ${r.samples} calls, as the PBX sees it (POST /pbx/v1/route out → plan in, after its call.started was accepted); ` +
        `${r.notManagerFirst} plans without the manager first`;
}

function steps(c: CapacityResult): string {
  return c.steps
    .map(
      (s) =>
        `${s.callsPerMinute}/min ${s.passed ? 'pass' : 'fail'} (${s.queryLimitErrors} QLE, p99 ${
          Number.isFinite(s.cardLatencyP99Ms) ? Math.round(s.cardLatencyP99Ms) : '∞'
        } ms, backlog ${s.backlog}, ${s.requests} requests)`,
    )
    .join('; ');
}

function offlineCapacityNote(plan: Plan, c: CapacityResult): string {
  const polls = c.steps.map((s) => `${s.callsPerMinute}/min ${s.pollRequests}`).join(', ');
  return (
    `capacity outbound-only (the portal refusing every delivery, the bridge installed from its app page and ` +
    `reading the offline queue at its default pace; the same calls and pass rule, but the PBX sends each recording's ` +
    `bytes, which the bridge uploads: attachRecord for the upload URL, then the file, a request of its own), ` +
    `steps of ${plan.stepSec} s: ${steps(c)}; requests carrying nothing but queue reads per step: ${polls}`
  );
}

function notes(
  plan: Plan,
  quick: boolean,
  b: Measured,
  n: Measured,
  amiNote: string,
  seconds: number,
): string[] {
  const cpu = cpus();
  return [
    `run: ${new Date().toISOString()}, ${quick ? 'QUICK (CI-sized counts; figures are rough)' : 'full'}, ${seconds.toFixed(0)} s; ` +
      `${cpu.length} cores (${cpu[0]?.model.trim() ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}`,
    'every phase runs a fresh emulator process and a fresh bridge (or naive) process talking HTTP; the bench drives the PBX API; ' +
      "the naive per-call and replay counts and both memory figures run beside the bridge's replay (counts and bytes, not times); " +
      'the timed phases (capacity, overhead, AMI) run one at a time',
    `direct call (bridge): ${b.direct.shape}`,
    `queued call, 10 members, third answers (bridge): ${b.queued.shape}`,
    `replay: bridge ${b.replay.requests} requests for ${b.replay.calls} calls (${b.replay.recoverySec.toFixed(0)} s after recovery at 2 req/s; ` +
      `fed in ${b.replay.feedSec.toFixed(0)} s)${b.replay.calls === 10_000 ? '' : `, scaled ×${10_000 / b.replay.calls}`}; ` +
      `naive ${n.replay.requests} requests for ${n.replay.calls} calls scaled ×${10_000 / n.replay.calls} (two per call by construction; measured with the limit off)`,
    `capacity (pass: 0 QLE, card p99 ≤ 1 s, every call whose recording went ≥ 2.5 s ago logged with it): bridge, steps of ${plan.stepSec} s, talk ${plan.talkSec} s: ${steps(b.capacity)}`,
    `capacity naive (bucket filled to 49 before each ${plan.naiveStepSec} s step: its burst already spent): ${steps(n.capacity)}`,
    ...(b.offlineCapacity ? [offlineCapacityNote(plan, b.offlineCapacity)] : []),
    `overhead at 100 calls/s, limit off: bridge p50 ${b.overhead.p50Ms.toFixed(2)} ms p99 ${b.overhead.p99Ms.toFixed(2)} ms over ${b.overhead.samples} calls; ` +
      `naive p50 ${n.overhead.p50Ms.toFixed(2)} ms p99 ${n.overhead.p99Ms.toFixed(2)} ms (ringing request in → register out, one clock in the process)` +
      (b.overheadNormalSync
        ? `; diagnostic: the bridge with SQLite synchronous=NORMAL instead of FULL (no fsync per commit): p50 ${b.overheadNormalSync.p50Ms.toFixed(2)} ms p99 ${b.overheadNormalSync.p99Ms.toFixed(2)} ms`
        : ''),
    `memory: ${plan.memoryCalls} live (answered) calls: bridge heap +${b.memory.heapBytes} B, RSS +${b.memory.rssBytes} B; ` +
      `naive heap +${n.memory.heapBytes} B, RSS +${n.memory.rssBytes} B`,
    `amiEventsPerSec: ${amiNote}`,
    routeNote(b.routeKnown),
    latencyNote('bridge', b.latency),
    latencyNote('naive', n.latency),
    peakNote(),
    'time sped up: nowhere in the bridge figures. The naive replay runs with the portal limit off (its count is two per call at any pace); ' +
      'the overhead phase has the limit off by definition. Calls are shorter than real ones (talk ' +
      `${plan.talkSec} s) only to keep fewer live: no figure depends on talk time.`,
    'the machine is shared: other work ran on the same 2 cores during the run, so latency, overhead and capacity are pessimistic',
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      'latency-sec': { type: 'string' },
    },
    strict: true,
  });
  const quick = values.quick;
  const base = quick ? quickPlan : fullPlan;
  const latencySec = values['latency-sec'];
  if (latencySec !== undefined && !/^\d{1,5}$/.test(latencySec))
    throw new Error(`--latency-sec takes whole seconds, not "${latencySec}"`);
  const plan = latencySec === undefined ? base : { ...base, latency60Sec: Math.max(1, Number(latencySec)) };
  if (values.only === 'boards') {
    const r = await routeWithBoards();
    const figures = { routeP99MsWithBoards: round(r.p99Ms, 2) };
    for (const line of table({ ...figures, naive: {} }, ['routeP99MsWithBoards'])) console.log(line);
    console.log('');
    console.log(
      `- ${String(r.liveCalls)} live calls, ${String(r.boards)} boards open: ${String(r.samples)} routes in ${String(r.seconds)} s, p50 ${String(round(r.p50Ms, 2))} ms; each board received ${String(r.bytesPerBoard)} bytes meanwhile`,
    );
    if (values.json) console.log(JSON.stringify(figures));
    return;
  }
  if (values.only === 'overhead') {
    const { overhead: ovh, overheadNormalSync: normal } = await overheadOf('bridge', plan);
    const figures = { overheadP99Ms: round(ovh.p99Ms, 2) };
    for (const line of table({ ...figures, naive: {} }, ['overheadP99Ms'])) console.log(line);
    console.log('');
    console.log(
      `- PBX event in → its request on the wire at 100 calls/s, synchronous = FULL: p50 ${ovh.p50Ms.toFixed(2)} ms, p99 ${ovh.p99Ms.toFixed(2)} ms (${String(ovh.samples)} calls)` +
        (normal ? `; synchronous = NORMAL p99 ${normal.p99Ms.toFixed(2)} ms` : ''),
    );
    if (values.json) console.log(JSON.stringify(figures));
    return;
  }
  if (values.only === 'offline') {
    const r = await offlinePoll(quick ? 10 : 30);
    const recordings = await startRecordingServer();
    let c: CapacityResult;
    try {
      c = await offlineCapacityOf(plan, recordings.url);
    } finally {
      await recordings.close();
    }
    const figures = {
      offlinePollRequestsPerMinIdle: round(r.idlePerMin, 1),
      offlinePollRequestsPerMinInCall: round(r.inCallPerMin, 1),
      offlineCallsPerMinuteAt2rps: c.callsPerMinute,
    };
    const keys = [
      'offlinePollRequestsPerMinIdle',
      'offlinePollRequestsPerMinInCall',
      'offlineCallsPerMinuteAt2rps',
    ] as const;
    for (const line of table({ ...figures, naive: {} }, keys)) console.log(line);
    console.log('');
    console.log(
      `- outbound-only mode with its default pace, each polling figure counted over ${String(r.seconds)} s`,
    );
    console.log(`- ${offlineCapacityNote(plan, c)}`);
    console.log(`- ${peakNote()}`);
    if (values.json) console.log(JSON.stringify(figures));
    return;
  }
  if (values.only === 'latency') {
    const recordings = await startRecordingServer();
    try {
      const b = await latencyOf('bridge', plan, recordings.url);
      const figures = latencyFigures(b, bucketPeaks.bridge);
      const keys = ['cardLatencyP99MsAt60', 'cardLatencyP99MsAt1000', 'bucketPeak'] as const;
      for (const line of table({ ...figures, naive: {} }, keys)) console.log(line);
      console.log('');
      console.log(`- ${latencyNote('bridge', b)}`);
      console.log(`- ${peakNote()}`);
      console.log('- the machine is shared: other work ran on the same 2 cores during the run');
      if (values.json) console.log(JSON.stringify(figures));
    } finally {
      await recordings.close();
    }
    return;
  }
  if (values.only === 'capacity') {
    const recordings = await startRecordingServer();
    try {
      const c = await capacityOf('bridge', plan, recordings.url);
      const figures = { callsPerMinuteAt2rps: c.callsPerMinute, bucketPeak: round(bucketPeaks.bridge, 2) };
      for (const line of table({ ...figures, naive: {} }, ['callsPerMinuteAt2rps', 'bucketPeak']))
        console.log(line);
      console.log('');
      console.log(`- ${peakNote()}`);
      if (values.json) console.log(JSON.stringify(figures));
    } finally {
      await recordings.close();
    }
    return;
  }
  if (values.only !== undefined) {
    if (values.only !== 'route')
      throw new Error(
        `--only takes "route", "latency", "capacity", "boards", "offline" or "overhead", not "${values.only}"`,
      );
    const r = await routeKnownOf(plan);
    const keys = ['routeKnownCallerP50Ms', 'routeKnownCallerP99Ms'] as const;
    const figures = routeFigures(r);
    for (const line of table({ ...figures, naive: {} }, keys)) console.log(line);
    console.log('');
    console.log(`- ${routeNote(r)}`);
    console.log('- the machine is shared: other work ran on the same 2 cores during the run');
    if (values.json) console.log(JSON.stringify(figures));
    return;
  }
  const started = performance.now();
  const recordings = await startRecordingServer();
  let result: BenchResult;
  let lines: string[];
  try {
    const { bridge, naive } = await measureAll(plan, recordings.url);
    progress('AMI throughput');
    const ami = await amiThroughput();
    const seconds = (performance.now() - started) / 1000;
    result = {
      ...figures(bridge, ami.eventsPerSec, bucketPeaks.bridge),
      naive: figures(naive, null, bucketPeaks.naive),
    };
    lines = [
      ...table(result),
      '',
      ...notes(plan, quick, bridge, naive, ami.note, seconds).map((n) => `- ${n}`),
    ];
  } finally {
    await recordings.close();
  }
  for (const line of lines) console.log(line);
  if (values.json) {
    const ordered: Record<string, unknown> = Object.fromEntries(figureKeys.map((k) => [k, result[k]]));
    ordered.naive = Object.fromEntries(figureKeys.map((k) => [k, result.naive[k]]));
    console.log(JSON.stringify(ordered));
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error('bench failed:', e);
    process.exit(1);
  },
);

/**
 * The failover run with the Asterisk adapter (`npm run failover -- --pbx ami`): the same three
 * instances on a PostgreSQL of the run's own, each configured with the same `pbx[].ami`, against
 * the AMI fake of the tests (test/pbx/asterisk/fake-ami.ts), which replays the real captures of
 * `test/fixtures/asterisk-ami/` as calls of their own (fresh Uniqueids, channels and bridges) and
 * counts the sessions logged in at once. The instance that holds the AMI connection is SIGKILLed
 * every `killEverySec` and restarted; another must log in and resynchronise (`CoreShowChannels`)
 * within 5 s, and every call must reach the portal once, finished, to the same user as when
 * nothing fails (each scenario is played once before the kills, as the reference).
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import pg from 'pg';
import { seededRandom } from 'b24-pbx-simulator';
import { captureMessages, FakeAmi } from '../test/pbx/asterisk/fake-ami.ts';
import { fakeAmiSettings } from '../test/pbx/asterisk/helpers.ts';
import type { PortalCall } from '../chaos/compare.ts';
import type { EmulatorProcess } from '../chaos/processes.ts';
import { drain, startCluster, type Cluster, type FailoverOptions } from './run.ts';

/** The captures the fake can play by itself (no click-to-call, no recording file). */
const SCENARIOS = [
  '01-inbound-direct',
  '03-queue-ringall',
  '05-queue-rrmemory',
  '10-inbound-missed-caller-hangup',
  '11-inbound-noanswer-timeout',
  '12-inbound-busy',
  '13-inbound-redirect',
  '16-attended-transfer',
] as const;
type AmiScenario = (typeof SCENARIOS)[number];

/** The captures' phones are Local channels into `sim-phones` (see the fixtures' README). */
const DEVICES = ['PJSIP/{ext}', 'Local/{ext}@sim-phones'];

export interface AmiFailoverFigures {
  calls: number;
  finished: number;
  lost: number;
  duplicates: number;
  wrongUser: number;
  /**
   * Calls logged to another person than the reference whose messages were played across a kill
   * of the AMI holder: what the PBX said in the blind gap reaches no one (Asterisk keeps no events
   * for a client that is gone), and a call that was answered and ended within it cannot be told
   * from one that never was. Counted, not judged.
   */
  unseenUser: number;
  kills: number;
  /** Kills that took the instance holding the AMI connection (the others need no takeover). */
  leaderKills: number;
  /** The most AMI sessions logged in at one moment, over the whole run: must be 1. */
  amiMaxConcurrentLogins: number;
  amiLogins: number;
  /** The longest from a leader's SIGKILL to the next login's `CoreShowChannels`. */
  amiMaxTakeoverSec: number;
  /** Takeovers that took longer than 60 s, or never came. */
  amiTakeoversMissed: number;
  drained: boolean;
  runSeconds: number;
}

export interface AmiFailoverResult {
  figures: AmiFailoverFigures;
  problems: string[];
  notes: string[];
}

interface AmiCall {
  scenario: AmiScenario;
  /** The call id the bridge reports (the first channel's Linkedid). */
  callId: string;
  done: boolean;
  /** When its first messages were sent, ms after the feed began. */
  playedAtMs: number;
  /** When its last messages were sent (or null while it plays). */
  lastSentAtMs: number | null;
  /** Some of its messages were sent while no one was logged in. */
  sentUnheard: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round1 = (ms: number): number => Math.round(ms / 100) / 10;

/**
 * A capture as a call of its own: Uniqueids/Linkedids, channel sequence numbers and bridge ids made
 * unique by `run`, so that calls of one capture may overlap.
 */
export function freshCall(messages: readonly string[], run: number): string[] {
  const hex8 = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');
  return messages.map((m) =>
    m
      .replace(/\b1795(\d{6}\.\d+)\b/g, `${String(run)}$1`)
      .replace(/-([0-9a-f]{8})(?=[;\s,)]|$)/gm, (_, seq: string) => `-${hex8(run * 256 + parseInt(seq, 16))}`)
      .replace(
        /\b([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-[0-9a-f]{12}\b/g,
        (_, a: string, b: string, c: string, d: string) =>
          `${a}-${b}-${c}-${d}-${String(run).padStart(12, '0')}`,
      ),
  );
}

const linkedidOf = (messages: readonly string[]): string =>
  /^Linkedid: (\S+)$/m.exec(messages.find((m) => m.startsWith('Event: Newchannel')) ?? '')?.[1] ?? '';

/** Plays a call as the PBX would, in a few bursts over a few seconds (random pauses between). */
async function play(
  ami: FakeAmi,
  messages: readonly string[],
  pause: () => number,
  sent: (heard: boolean) => void,
): Promise<void> {
  const parts = 4;
  const size = Math.ceil(messages.length / parts);
  for (let i = 0; i < messages.length; i += size) {
    if (i > 0) await sleep(pause());
    sent(ami.loggedIn > 0);
    ami.send(messages.slice(i, i + size));
  }
}

/** The process ids listening on a TCP port, or holding a connection from it (`ss`). */
function pidsOf(filter: string): Set<number> {
  try {
    const out = execFileSync('ss', ['-Htnp', ...filter.split(' ')], { encoding: 'utf8' });
    return new Set([...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])));
  } catch {
    return new Set();
  }
}

/** Which instance holds the AMI session now (by the process on the session's client port), or -1. */
function leaderIndex(ami: FakeAmi, httpPorts: readonly number[]): number {
  const port = ami.loggedInPorts()[0];
  if (port === undefined) return -1;
  const holders = pidsOf(`state established sport = :${String(port)}`);
  for (const [i, http] of httpPorts.entries()) {
    const listeners = pidsOf(`state listening sport = :${String(http)}`);
    for (const pid of listeners) if (holders.has(pid)) return i;
  }
  return -1;
}

async function portalCalls(emulator: EmulatorProcess): Promise<PortalCall[]> {
  return emulator.get<PortalCall[]>('calls');
}

const recordsOf = (calls: readonly PortalCall[], callId: string): PortalCall[] =>
  calls.filter((c) => c.externalCallId?.startsWith(`${callId}@`) === true);

export async function runAmiFailover(
  options: FailoverOptions,
  progress: (line: string) => void = () => undefined,
): Promise<AmiFailoverResult> {
  const runStarted = performance.now();
  const notes: string[] = [];
  const problems: string[] = [];
  const ami = await FakeAmi.start();
  let cluster: Cluster;
  try {
    cluster = await startCluster({
      instances: options.instances,
      dirPrefix: 'b24-failover-ami-',
      appName: 'b24-bridge (failover, AMI)',
      edit: (config) => {
        const doc = config as {
          pbx: Record<string, unknown>[];
          engine: { recording?: Record<string, unknown> };
        };
        // The captures played have no recordings: an answered call is logged without waiting for one.
        doc.engine.recording = { ...(doc.engine.recording ?? {}), maxWaitSec: 0 };
        // The same Asterisk for every instance: only the one holding the lock logs in.
        const pbx = doc.pbx[0] ?? {};
        doc.pbx = [
          {
            id: pbx.id,
            token: pbx.token,
            kind: 'asterisk',
            ami: { ...fakeAmiSettings(ami), devicePattern: DEVICES },
          },
        ];
      },
    });
  } catch (e) {
    await ami.close();
    throw e;
  }
  const { dir, db, emulator, instances } = cluster;
  const cleanup = async (): Promise<void> => {
    await cluster.stop();
    await ami.close();
  };
  try {
    const loggedInBy = performance.now() + 10_000;
    while (ami.loggedIn === 0 && performance.now() < loggedInBy) await sleep(50);
    if (ami.loggedIn === 0) throw new Error('no instance logged in to the AMI fake within 10 s');
    progress(`${String(instances.length)} instances up on PostgreSQL; one AMI session`);

    const random = seededRandom(options.seed);
    const pause = (): number => 300 + Math.floor(random.next() * 1200);
    let run = 3000;

    // The reference: every scenario once, nothing failing, to learn whom each is logged to.
    const reference = new Map<AmiScenario, number | null>();
    {
      const played = SCENARIOS.map((scenario) => {
        const messages = freshCall(captureMessages(scenario), (run += 1));
        return { scenario, messages, callId: linkedidOf(messages) };
      });
      for (const p of played) ami.send(p.messages);
      const by = performance.now() + 60_000;
      while (performance.now() < by && reference.size < played.length) {
        const calls = await portalCalls(emulator);
        for (const p of played) {
          const record = recordsOf(calls, p.callId).find((c) => c.finished);
          if (record) reference.set(p.scenario, record.finishedBy);
        }
        await sleep(250);
      }
      if (reference.size < played.length)
        throw new Error(
          `the reference calls did not all finish in the portal: ${played
            .filter((p) => !reference.has(p.scenario))
            .map((p) => p.scenario)
            .join(', ')}`,
        );
    }
    progress(
      `reference calls logged: ${[...reference].map(([s, u]) => `${s.slice(0, 2)}→${String(u)}`).join(' ')}`,
    );

    const t0 = performance.now();
    const epochAtT0 = Date.now();
    const killTimes: number[] = [];
    const elapsedMs = (): number => performance.now() - t0;
    const calls: AmiCall[] = [];
    const plays: Promise<void>[] = [];
    // Read through a function: set by the feed's end while the loop awaits.
    const state = { stopped: false };
    const stopping = (): boolean => state.stopped;
    const feed = (async () => {
      const gapMs = (options.feedSec * 1000) / options.calls;
      for (let n = 0; n < options.calls; n++) {
        await sleep(gapMs * (0.5 + random.next()));
        // No one listening, no call begins: a PBX's calls while no bridge is connected are the
        // channel list's to catch up on, and one that begins and ends unseen leaves no trace.
        while (ami.loggedIn === 0) await sleep(20);
        const scenario = SCENARIOS[Math.floor(random.next() * SCENARIOS.length)] ?? SCENARIOS[0];
        const messages = freshCall(captureMessages(scenario), (run += 1));
        const call: AmiCall = {
          scenario,
          callId: linkedidOf(messages),
          done: false,
          playedAtMs: elapsedMs(),
          lastSentAtMs: null,
          sentUnheard: false,
        };
        calls.push(call);
        plays.push(
          play(ami, messages, pause, (heard) => {
            if (!heard) call.sentUnheard = true;
          }).then(() => {
            call.done = true;
            call.lastSentAtMs = elapsedMs();
          }),
        );
      }
      await Promise.all(plays);
    })();

    // Logins and the resync that follows each, as the fake sees them.
    const resyncs: number[] = [];
    ami.on('action', (a) => {
      if (a.Action === 'CoreShowChannels') resyncs.push(performance.now());
    });
    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    pool.on('error', () => undefined);
    const takeovers: number[] = [];
    let kills = 0;
    let leaderKills = 0;
    let missed = 0;
    const httpPorts = instances.map((i) => Number(new URL(i.files.url).port));
    const killLoop = (async () => {
      for (let n = 0; options.killEverySec > 0 && !state.stopped; n++) {
        await sleep(options.killEverySec * 1000 * (0.8 + 0.4 * random.next()));
        if (stopping()) break;
        // The instance holding the AMI connection, when it can be told; else the next in turn.
        const leader = leaderIndex(ami, httpPorts);
        const victim = instances[leader >= 0 ? leader : n % instances.length];
        if (victim === undefined) break;
        const wasLeader = leader >= 0;
        const killedAt = performance.now();
        killTimes.push(killedAt - t0);
        const restart = victim.process
          .killAndRestart()
          .catch((e: unknown) => notes.push(`a restart failed: ${String(e)}`));
        kills++;
        if (wasLeader) {
          leaderKills++;
          const by = killedAt + 60_000;
          let resync: number | undefined;
          while (performance.now() < by) {
            resync = resyncs.find((t) => t > killedAt);
            if (resync !== undefined && ami.loggedIn > 0) break;
            await sleep(20);
          }
          if (resync === undefined) missed++;
          else takeovers.push(resync - killedAt);
          progress(
            `${String(Math.round(elapsedMs() / 1000))} s: killed the AMI holder; ` +
              (resync === undefined
                ? 'no takeover within 60 s'
                : `resynced ${String(round1(resync - killedAt))} s later`),
          );
        }
        await restart;
      }
    })();
    const ticker = setInterval(() => {
      progress(
        `${String(Math.round(elapsedMs() / 1000))} s: ${String(calls.length)} calls, ${String(calls.filter((c) => !c.done).length)} playing, kills ${String(kills)}`,
      );
    }, 10_000);
    try {
      await feed;
    } finally {
      clearInterval(ticker);
    }
    state.stopped = true;
    await killLoop;
    progress(`feed over at ${String(Math.round(elapsedMs() / 1000))} s; draining`);

    const { drained, calls: seen } = await drain(pool, emulator, options.drainTimeoutSec, (logged) =>
      calls.every((c) => recordsOf(logged, c.callId).some((r) => r.finished)),
    );
    let finished = 0;
    let lost = 0;
    let duplicates = 0;
    let wrongUser = 0;
    let unseenUser = 0;
    // Played across a kill of whoever held the session, or partly to no one.
    const blind = (c: AmiCall): boolean =>
      c.sentUnheard ||
      killTimes.some((k) => k >= c.playedAtMs - 50 && k <= (c.lastSentAtMs ?? Number.POSITIVE_INFINITY));
    for (const c of calls) {
      const records = recordsOf(seen, c.callId);
      const done = records.filter((r) => r.finished);
      if (done.length > 0) finished++;
      else {
        lost++;
        if (problems.length < 20)
          problems.push(`lost: ${c.callId} (${c.scenario}), ${String(records.length)} unfinished records`);
      }
      if (records.length > 1) {
        duplicates++;
        if (problems.length < 20)
          problems.push(`doubled: ${c.callId} (${c.scenario}), ${String(records.length)} records`);
      }
      const want = reference.get(c.scenario);
      const got = done[0]?.finishedBy;
      if (done.length > 0 && got !== want && blind(c)) {
        unseenUser++;
        if (problems.length < 20)
          problems.push(
            `logged to ${String(got)}, the reference ${String(want)}: ${c.callId} (${c.scenario}) played across a kill (not judged)`,
          );
      } else if (done.length > 0 && got !== want) {
        wrongUser++;
        if (problems.length < 20)
          problems.push(
            `wrong user: ${c.callId} (${c.scenario}) by ${String(got)}, expected ${String(want)}`,
          );
      }
    }
    // What the store kept of a lost call: its inputs and its operations, for whoever looks into it.
    for (const c of calls) {
      if (recordsOf(seen, c.callId).some((r) => r.finished)) continue;
      const inputs = await pool
        .query<{ type: string; at: number }>(
          'SELECT type, received_at::float8 AS at FROM inputs WHERE payload::text LIKE $1 ORDER BY id',
          [`%${c.callId}%`],
        )
        .then((r) => r.rows.map((i) => `${i.type}@${String(Math.round(i.at - epochAtT0))}ms`).join(' '))
        .catch((e: unknown) => `(not read: ${String(e)})`);
      const entries = await pool
        .query<{ kind: string; status: string }>(
          'SELECT kind, status FROM outbox_entries WHERE call_key LIKE $1 ORDER BY id',
          [`${c.callId}%`],
        )
        .then((r) => r.rows.map((e) => `${e.kind}:${e.status}`).join(' '))
        .catch((e: unknown) => `(not read: ${String(e)})`);
      const state = await pool
        .query<{ call: unknown }>(
          `SELECT c.value AS call FROM engine_shards s, jsonb_each(s.calls) c WHERE c.value::text LIKE $1`,
          [`%${c.callId}%`],
        )
        .then((r) => JSON.stringify(r.rows.map((x) => x.call)).slice(0, 1500))
        .catch((e: unknown) => `(not read: ${String(e)})`);
      notes.push(`lost ${c.callId}: engine state ${state}`);
      notes.push(
        `lost ${c.callId} played from ${String(Math.round(c.playedAtMs))} ms; kills at ${killTimes.map((t) => String(Math.round(t))).join(', ')} ms; inputs: ${inputs || 'none'}; entries: ${entries || 'none'}`,
      );
    }
    const parked = await pool
      .query<{ n: number }>('SELECT count(*)::int AS n FROM parked_events')
      .then((r) => r.rows[0]?.n ?? 0)
      .catch(() => -1);
    if (parked !== 0) notes.push(`${String(parked)} events still parked in the store`);
    await pool.end();
    const figures: AmiFailoverFigures = {
      calls: calls.length,
      finished,
      lost,
      duplicates,
      wrongUser,
      unseenUser,
      kills,
      leaderKills,
      amiMaxConcurrentLogins: ami.maxLoggedIn,
      amiLogins: ami.logins,
      amiMaxTakeoverSec: round1(Math.max(0, ...takeovers)),
      amiTakeoversMissed: missed,
      drained,
      runSeconds: 0,
    };
    await cleanup();
    // The instances' logs stay for a look when a call went wrong.
    if (lost + duplicates + wrongUser === 0) rmSync(dir, { recursive: true, force: true });
    else notes.push(`the instances' logs: ${dir}`);
    figures.runSeconds = Math.round((performance.now() - runStarted) / 1000);
    return { figures, problems, notes };
  } catch (e) {
    await cleanup().catch(() => undefined);
    if (process.env.B24_FAILOVER_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
    else notes.push(`kept ${dir}`);
    throw e;
  }
}

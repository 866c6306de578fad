/**
 * One failover run: three bridge instances on a PostgreSQL of the run's own, behind a round-robin
 * balancer; the simulated office's calls of every scenario through the PBX API; an instance
 * SIGKILLed every `killEverySec` (in turn) and restarted; PostgreSQL restarted once, halfway.
 * Then the drain and the verdict, with the chaos run's definitions (chaos/README.md).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { seededRandom, startSimulator } from 'b24-pbx-simulator';
import { compare, type PortalCall, type Verdict } from '../chaos/compare.ts';
import { agents, callShape, lines, writeBridgeConfig, writeSeed, type BridgeFiles } from '../chaos/office.ts';
import { BridgeProcess, startEmulator, type EmulatorProcess } from '../chaos/processes.ts';
import { startTraffic } from '../chaos/traffic.ts';
import { startBalancer, type Balancer } from './balancer.ts';
import { privatePostgres, type PrivatePostgres } from './postgres.ts';

export interface FailoverOptions {
  calls: number;
  feedSec: number;
  instances: number;
  /** SIGKILL one instance (in turn) every this many seconds; 0: never. */
  killEverySec: number;
  /** Restart PostgreSQL once, this far into the feed (0: never). */
  dbRestartAtSec: number;
  drainTimeoutSec: number;
  seed: number;
  json: boolean;
  /** The PBX side: the simulator through the PBX API (this run), or the AMI fake (`ami.ts`). */
  pbx?: 'api' | 'ami' | undefined;
}

export interface FailoverFigures {
  calls: number;
  finished: number;
  lost: number;
  duplicates: number;
  wrongUser: number;
  /** Recordings of finished calls that some instance could not serve by their link. */
  recordingsUnreachable: number;
  recordingsChecked: number;
  kills: number;
  /** The longest a call's open operations waited, after a kill, for an instance to hold them again. */
  maxTakeoverSec: number;
  /** From PostgreSQL's return until every instance stores the PBX's events again. */
  dbRecoverySec: number | null;
  balancerUnavailable: number;
  drained: boolean;
  runSeconds: number;
}

export interface FailoverResult {
  figures: FailoverFigures;
  verdict: Verdict;
  notes: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round1 = (ms: number): number => Math.round(ms / 100) / 10;

export async function freePorts(n: number): Promise<number[]> {
  const { createServer } = await import('node:net');
  const ports: number[] = [];
  for (let i = 0; i < n; i++)
    ports.push(
      await new Promise<number>((resolve) => {
        const s = createServer();
        s.listen(0, '127.0.0.1', () => {
          const a = s.address();
          s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
        });
      }),
    );
  return ports;
}

/** Each instance's configuration: the chaos office's, on the shared database, public URL the balancer. */
export function writeInstance(
  dir: string,
  port: number,
  dbUrl: string,
  publicUrl: string,
  base: BridgeFiles | null,
) {
  const own = join(dir, `i${String(port)}`);
  const files = writeBridgeConfig(dir, port, { oauth: '', public: publicUrl }, 'warn');
  const doc = JSON.parse(readFileSync(files.configPath, 'utf8')) as Record<string, unknown> & {
    bitrix: Record<string, unknown>;
    pbx: Record<string, unknown>[];
    admin: Record<string, unknown>;
  };
  doc.store = { kind: 'postgres', url: dbUrl };
  // Every instance is the same bridge: the same app, PBX token and admin secrets as the first.
  if (base) {
    doc.bitrix.clientSecret = base.clientSecret;
    if (doc.pbx[0]) doc.pbx[0].token = base.pbxToken;
    doc.admin = { password: base.adminPassword, token: base.adminToken };
  }
  const configPath = `${own}.json`;
  writeFileSync(configPath, JSON.stringify(doc, null, 2), { mode: 0o600 });
  return { ...(base ?? files), configPath, url: `http://127.0.0.1:${String(port)}` };
}

/** One bridge instance of a cluster: its files, its process, and the log it writes. */
export interface Instance {
  files: ReturnType<typeof writeInstance>;
  process: BridgeProcess;
  log: string;
}

/** A cluster of instances on a PostgreSQL server of its own, behind a balancer, installed. */
export interface Cluster {
  dir: string;
  db: PrivatePostgres;
  emulator: EmulatorProcess;
  balancer: Balancer;
  instances: Instance[];
  base: BridgeFiles;
  /** Stops the instances, the balancer, the emulator and the database (not `dir`). */
  stop: () => Promise<void>;
}

/**
 * The set-up both failover runs share: a private PostgreSQL, the emulator, a balancer in front
 * of `instances` bridges with one configuration each (`edit` changes it before it is written), the
 * app installed through the balancer by the first instance, then the others started (they find
 * the portal in the database). On a failure everything started is stopped again.
 */
export async function startCluster(o: {
  instances: number;
  dirPrefix: string;
  appName: string;
  edit?: (doc: Record<string, unknown>) => void;
}): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), o.dirPrefix));
  const db = await privatePostgres();
  const emulator = await startEmulator(writeSeed(dir));
  const ports = await freePorts(o.instances);
  const balancer = await startBalancer(ports.map((p) => `http://127.0.0.1:${String(p)}`));
  const instances: Instance[] = [];
  let base: BridgeFiles | null = null;
  for (const port of ports) {
    const files = writeInstance(dir, port, db.url, balancer.url, base);
    const doc = JSON.parse(readFileSync(files.configPath, 'utf8')) as Record<string, unknown> & {
      bitrix: { oauthUrl?: string };
    };
    doc.bitrix.oauthUrl = `${emulator.url}/oauth/token/`;
    o.edit?.(doc);
    writeFileSync(files.configPath, JSON.stringify(doc, null, 2), { mode: 0o600 });
    base ??= files;
    const log = join(dir, `bridge-${String(port)}.log`);
    instances.push({ files, process: new BridgeProcess(files.configPath, log), log });
  }
  const stop = async (): Promise<void> => {
    for (const i of instances) await i.process.stop().catch(() => undefined);
    await balancer.close();
    await emulator.stop();
    db.destroy();
  };
  const first = instances[0];
  try {
    if (!first || !base) throw new Error('no instance');
    await first.process.start();
    const installed = await emulator.post<{ installCallback?: { status: number | null } }>('apps', {
      clientId: 'local.b24bridge.chaos',
      clientSecret: base.clientSecret,
      name: o.appName,
      installUrl: `${balancer.url}/bitrix/install`,
      scopes: ['telephony', 'crm', 'user'],
    });
    if (installed.installCallback?.status !== 200)
      throw new Error(`the install callback failed: ${JSON.stringify(installed.installCallback)}`);
    for (const i of instances.slice(1)) await i.process.start();
    return { dir, db, emulator, balancer, instances, base, stop };
  } catch (e) {
    await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

export async function runFailover(
  options: FailoverOptions,
  progress: (line: string) => void = () => undefined,
): Promise<FailoverResult> {
  const runStarted = performance.now();
  const notes: string[] = [];
  const {
    dir,
    db,
    emulator,
    balancer,
    instances,
    base,
    stop: cleanup,
  } = await startCluster({
    instances: options.instances,
    dirPrefix: 'b24-failover-',
    appName: 'b24-bridge (failover)',
  });
  try {
    progress(`${String(instances.length)} instances up on PostgreSQL, installed through the balancer`);

    const sim = await startSimulator({
      bridgeUrl: balancer.url,
      token: base.pbxToken,
      seed: options.seed,
      agents,
      callIdPrefix: 'failover-sim',
      ...callShape,
      lines: Object.values(lines),
      delivery: { retry: { baseMs: 250, maxMs: 2000 } },
      commands: { waitSec: 10, retry: { baseMs: 250, maxMs: 2000 } },
      // Uploaded, so the bridge keeps them (in PostgreSQL) and the portal downloads them from it.
      recordings: { host: '127.0.0.1', upload: true },
    });
    const t0 = performance.now();
    const elapsedMs = (): number => performance.now() - t0;
    const traffic = startTraffic(sim, emulator, {
      count: options.calls,
      feedSec: options.feedSec,
      seed: options.seed,
      elapsedMs,
      portalDown: () => false,
    });

    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    pool.on('error', () => undefined);
    const takeovers: number[] = [];
    let kills = 0;
    let dbRecoverySec: number | null = null;
    // Read through a function: set by the feed's end while the loop awaits.
    const state = { stopped: false };
    const stopping = (): boolean => state.stopped;
    const random = seededRandom(options.seed ^ 0xfa11);
    const killLoop = (async () => {
      for (let n = 0; options.killEverySec > 0 && !state.stopped; n++) {
        await sleep(options.killEverySec * 1000 * (0.8 + 0.4 * random.next()));
        if (stopping()) break;
        const victim = instances[n % instances.length];
        if (victim === undefined) break;
        const held = await openCallOwners(pool).catch(() => new Map<string, Holding>());
        const killedAt = performance.now();
        const restart = victim.process
          .killAndRestart()
          .catch((e: unknown) => notes.push(`a restart failed: ${String(e)}`));
        kills++;
        takeovers.push(await takeoverMs(pool, held, killedAt));
        await restart;
      }
    })();
    const dbRestart = (async () => {
      if (options.dbRestartAtSec <= 0) return;
      await sleep(options.dbRestartAtSec * 1000);
      progress(`${String(Math.round(elapsedMs() / 1000))} s: restarting PostgreSQL`);
      db.restart();
      const { recovery, pending } = await storesAgain(
        instances.map((i) => i.files.url),
        base.pbxToken,
        notes,
      );
      dbRecoverySec = round1(recovery);
      for (const url of pending) {
        const i = instances.find((x) => x.files.url === url);
        if (i)
          notes.push(
            `${url} did not store again (running: ${String(i.process.running)}); its log ends:\n${logTail(i.log)}`,
          );
      }
    })();
    const ticker = setInterval(() => {
      progress(
        `${String(Math.round(elapsedMs() / 1000))} s: ${String(traffic.calls.size)} calls, ${String(traffic.open())} open, kills ${String(kills)}`,
      );
    }, 10_000);
    try {
      await traffic.placed;
      const quietBy = performance.now() + 120_000;
      while (performance.now() < quietBy && (traffic.open() > 0 || sim.stats().eventsQueued > 0))
        await sleep(250);
      await sim.idle();
    } finally {
      clearInterval(ticker);
    }
    state.stopped = true;
    await killLoop;
    await dbRestart;
    progress(`feed over at ${String(Math.round(elapsedMs() / 1000))} s; draining`);

    const expected = [...traffic.calls.values()].filter(
      (c) => c.scenario !== 'S4' || c.clickDelivered === true,
    );
    const { drained, calls: portalCalls } = await drain(pool, emulator, options.drainTimeoutSec, (calls) => {
      const finished = new Set<string>();
      for (const c of calls) {
        if (!c.finished) continue;
        finished.add(`c2c.${c.callId}`);
        if (c.externalCallId !== null)
          finished.add(c.externalCallId.slice(0, c.externalCallId.lastIndexOf('@')));
      }
      return expected.every((c) => finished.has(c.callId));
    });
    const verdict = compare(traffic.calls.values(), portalCalls, () => false);
    const downloaded = await emulator.get<{ sourceUrl: string | null }[]>('recordings');
    const recordings = await checkRecordings(
      downloaded.map((r) => r.sourceUrl),
      instances.map((i) => i.files.url),
    );
    for (const [url, n] of recordings.unreachableBy) {
      const i = instances.find((x) => x.files.url === url);
      if (i)
        notes.push(
          `${url} failed ${String(n)} recording downloads (running: ${String(i.process.running)}); its log ends:\n${logTail(i.log)}`,
        );
    }
    await pool.end();
    await sim.stop();
    await cleanup();
    rmSync(dir, { recursive: true, force: true });
    const t = verdict.total;
    return {
      verdict,
      notes,
      figures: {
        calls: t.calls,
        finished: t.finished,
        lost: t.lost,
        duplicates: t.duplicates,
        wrongUser: t.wrongUser,
        recordingsUnreachable: recordings.unreachable,
        recordingsChecked: recordings.checked,
        kills,
        maxTakeoverSec: round1(Math.max(0, ...takeovers)),
        dbRecoverySec,
        balancerUnavailable: balancer.unavailable(),
        drained,
        runSeconds: Math.round((performance.now() - runStarted) / 1000),
      },
    };
  } catch (e) {
    await cleanup().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * After the feed: waits until the outbox has nothing pending or in flight and `done` holds for
 * what the portal logged, at most `timeoutSec`; then a second more, and what the portal logged.
 */
export async function drain(
  pool: pg.Pool,
  emulator: EmulatorProcess,
  timeoutSec: number,
  done: (calls: PortalCall[]) => boolean,
): Promise<{ drained: boolean; calls: PortalCall[] }> {
  let drained = false;
  const by = performance.now() + timeoutSec * 1000;
  while (performance.now() < by) {
    const open = await pool
      .query<{ n: number }>(
        "SELECT count(*)::int AS n FROM outbox_entries WHERE status IN ('pending', 'in_flight')",
      )
      .then((r) => r.rows[0]?.n ?? 0)
      .catch(() => 1);
    if (open === 0 && done(await emulator.get<PortalCall[]>('calls'))) {
      drained = true;
      break;
    }
    await sleep(1000);
  }
  await sleep(1000);
  return { drained, calls: await emulator.get<PortalCall[]>('calls') };
}

/** The calls with open operations, and who holds each (null: nobody). */
interface Holding {
  owner: string | null;
  lease: number | null;
}

async function openCallOwners(pool: pg.Pool): Promise<Map<string, Holding>> {
  const { rows } = await pool.query<{ key: string; owner: string | null; lease: number | null }>(
    `SELECT c.portal_id || '/' || c.call_key AS key, c.claimed_by AS owner, c.lease_until::float8 AS lease
     FROM outbox_calls c
     WHERE EXISTS (SELECT 1 FROM outbox_entries e WHERE e.portal_id = c.portal_id AND e.call_key = c.call_key
                   AND e.status IN ('pending', 'in_flight'))`,
  );
  return new Map(rows.map((r) => [r.key, { owner: r.owner, lease: r.lease }]));
}

/**
 * After a kill: how long until every call that had open operations at the kill is done or held
 * by an instance whose lease is current (a live one renews; the dead one's runs out and another
 * claims the call). At most 60 s is waited.
 */
async function takeoverMs(pool: pg.Pool, held: Map<string, Holding>, killedAt: number): Promise<number> {
  const waiting = new Set(held.keys());
  while (waiting.size > 0 && performance.now() - killedAt < 60_000) {
    await sleep(250);
    const rows = await pool
      .query<{ key: string; owner: string | null; lease: number | null; open: boolean }>(
        `SELECT c.portal_id || '/' || c.call_key AS key, c.claimed_by AS owner, c.lease_until::float8 AS lease,
           EXISTS (SELECT 1 FROM outbox_entries e WHERE e.portal_id = c.portal_id AND e.call_key = c.call_key
                   AND e.status IN ('pending', 'in_flight')) AS open
         FROM outbox_calls c WHERE c.portal_id || '/' || c.call_key = ANY($1::text[])`,
        [[...waiting]],
      )
      .then((r) => r.rows)
      .catch(() => null);
    if (rows === null) continue;
    for (const r of rows) {
      const before = held.get(r.key);
      const renewed = r.owner !== null && r.owner === before?.owner && (r.lease ?? 0) > (before.lease ?? 0);
      const changed = r.owner !== null && r.owner !== before?.owner;
      if (!r.open || renewed || changed) waiting.delete(r.key);
    }
    for (const key of [...waiting]) if (!rows.some((r) => r.key === key)) waiting.delete(key);
  }
  return performance.now() - killedAt;
}

/**
 * Polls every instance with an internal call (stored, never logged) until each stores it again.
 * An instance the kill loop has down at the moment (its port refuses) is not the database's
 * doing: its time counts from when it listens again, or from the database's return if later.
 * `recovery`: the longest such time (ms).
 */
async function storesAgain(
  urls: readonly string[],
  token: string,
  notes: string[],
): Promise<{ recovery: number; pending: string[] }> {
  const started = performance.now();
  const seen = new Map<string, Set<number>>();
  const from = new Map<string, number | null>(urls.map((u) => [u, started]));
  const deadline = performance.now() + 60_000;
  const pending = new Set(urls);
  let recovery = 0;
  for (let n = 0; pending.size > 0 && performance.now() < deadline; n++) {
    for (const url of [...pending]) {
      const callId = `db-probe-${String(n)}-${String(urls.indexOf(url))}`;
      const asked = performance.now();
      const status = await fetch(`${url}/pbx/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify([
          { type: 'call.started', callId, direction: 'outbound', from: '201', to: '202' },
          { type: 'call.ended', callId, reason: 'cancelled' },
        ]),
        signal: AbortSignal.timeout(5000),
      })
        .then((r) => r.status)
        .catch(() => 0);
      (seen.get(url) ?? seen.set(url, new Set()).get(url))?.add(status);
      if (status === 0) from.set(url, null);
      else if (from.get(url) === null) from.set(url, asked);
      if (status === 202) {
        pending.delete(url);
        const took = performance.now() - (from.get(url) ?? started);
        recovery = Math.max(recovery, took);
        const statuses = [...(seen.get(url) ?? [])].join(', ');
        const down =
          (seen.get(url)?.has(0) ?? false)
            ? `, down for a kill meanwhile, ${String(round1(performance.now() - started))} s in all`
            : '';
        notes.push(
          `after the database restart ${url} stored again in ${String(round1(took))} s (answers: ${statuses}${down})`,
        );
      }
    }
    if (pending.size > 0) await sleep(100);
  }
  if (pending.size > 0) recovery = performance.now() - started;
  return { recovery, pending: [...pending] };
}

/** The last lines of an instance's log, for a note on what went wrong with it. */
function logTail(path: string, lines = 40): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch (e) {
    return `(no log: ${String(e)})`;
  }
}

/** Every recording link the portal downloaded (the emulator keeps each), fetched through every instance. */
async function checkRecordings(
  links: readonly (string | null)[],
  urls: readonly string[],
): Promise<{ checked: number; unreachable: number; unreachableBy: Map<string, number> }> {
  let checked = 0;
  let unreachable = 0;
  const unreachableBy = new Map<string, number>();
  for (const link of links) {
    if (link === null) continue;
    const { pathname, search } = new URL(link);
    for (const base of urls) {
      checked++;
      const ok = await fetch(`${base}${pathname}${search}`, { signal: AbortSignal.timeout(10_000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (!ok) {
        unreachable++;
        unreachableBy.set(base, (unreachableBy.get(base) ?? 0) + 1);
      }
    }
  }
  return { checked, unreachable, unreachableBy };
}

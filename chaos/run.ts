/**
 * One chaos run: the emulator and the bridge as processes, the simulated PBX in this process, N
 * calls under the fault schedule and the kills, then the drain and the verdict.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom, startSimulator } from 'b24-pbx-simulator';
import { compare, type PortalCall, type Verdict } from './compare.ts';
import { startFaults, type FaultLogEntry } from './faults.ts';
import { startKillLoop } from './kills.ts';
import { startOAuthProxy } from './oauth-proxy.ts';
import { startPublicProxy } from './public-proxy.ts';
import { ADMIN_USER_ID, agents, callShape, lines, writeBridgeConfig, writeSeed } from './office.ts';
import type { ChaosOptions } from './options.ts';
import { BridgeProcess, bridgeStatus, startEmulator, type EmulatorProcess } from './processes.ts';
import { scanLog, type SecretScan } from './secrets.ts';
import { startTraffic } from './traffic.ts';
import { timeReplay } from './replay.ts';
import { readBacklog, watchBridge, type Backlog } from './watch.ts';

export interface ChaosFigures {
  calls: number;
  finished: number;
  lost: number;
  duplicates: number;
  wrongUser: number;
  wrongDuration: number;
  missingRecording: number;
  bridgeKills: number;
  maxBacklog: number;
  drainSeconds: number;
  secretsInLogs: number;
  answered: number;
  wrongStatus: number;
  wrongStart: number;
  duplicateRecordings: number;
  phantoms: number;
  unfinishedInPortal: number;
  clicksUndelivered: number;
  /** Clicks made in the portal (S4), delivered or not; those made while the bridge was dead or restarting. */
  clicks: number;
  clicksWhileDown: number;
  /** Clicks whose call the PBX started (the bridge dialled them). */
  clicksDialled: number;
  /** Clicks finished in the portal without being dialled (outbound-only: found stale in the queue). */
  clicksNotConnected: number;
  /** Clicks whose portal call is not finished at the end: registered and left open. */
  clicksLeftOpen: number;
  outageCalls: number;
  outageSec: number;
  tokenRefreshes: number;
  limitBursts: number;
  portalRequests: number;
  portalErrors500: number;
  queryLimitExceeded: number;
  pbxRetries: number;
  pbxRejected: number;
  routeFallbacks: number;
  outboxFailed: number;
  outboxDropped: number;
  /**
   * From the end of the outage until every call that was over before it ended is finished in
   * the portal (the outage replay, S6); null when there was no outage or it never completed.
   */
  replaySeconds: number | null;
  drained: boolean;
  runSeconds: number;
}

export interface ChaosResult {
  figures: ChaosFigures;
  /** How the portal's events reached the bridge. */
  events: 'push' | 'offline';
  verdict: Verdict;
  faults: readonly FaultLogEntry[];
  links: readonly string[];
  status: string[];
  scan: SecretScan;
  notes: string[];
  dir: string | null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Outbound-only: the administrator opens the app in the portal; the page (with the tokens the
 * portal hands it) is posted to the bridge, which the browser on the office network reaches, then
 * the page calls `BX24.installFinish()`. Answers the page's form (it holds tokens: secrets).
 */
async function installFromPage(
  emulator: EmulatorProcess,
  bridgeUrl: string,
  clientId: string,
): Promise<Record<string, string>> {
  const opening = await emulator.post<{ query: Record<string, string>; form: Record<string, string> }>(
    `apps/${clientId}/open`,
    { userId: ADMIN_USER_ID },
  );
  const page = await fetch(`${bridgeUrl}/bitrix/install?${new URLSearchParams(opening.query).toString()}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(opening.form).toString(),
    signal: AbortSignal.timeout(30_000),
  });
  await page.arrayBuffer();
  if (!page.ok) throw new Error(`the install from the app page failed: ${page.status}`);
  await emulator.post(`apps/${clientId}/install-finish`, {});
  return opening.form;
}

export async function runChaos(
  options: ChaosOptions,
  progress: (line: string) => void = () => undefined,
): Promise<ChaosResult> {
  const runStarted = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'b24-chaos-'));
  const notes: string[] = [];
  const emulator = await startEmulator(writeSeed(dir));
  const proxy = await startOAuthProxy(emulator.url);
  const port = await freePort();
  const publicProxy = await startPublicProxy(`http://127.0.0.1:${port}`);
  const offline = options.events === 'offline';
  const files = writeBridgeConfig(
    dir,
    port,
    { oauth: proxy.url, public: publicProxy.url },
    options.logLevel,
    offline ? { clickFreshSec: options.clickFreshSec } : undefined,
  );
  const logPath = join(dir, 'bridge.log');
  const bridge = new BridgeProcess(files.configPath, logPath);
  /** Every secret of the run, with a label for the report. */
  const secrets = new Map<string, string>([
    [files.clientSecret, 'client secret'],
    [files.pbxToken, 'PBX token'],
    [files.adminPassword, 'admin password'],
    [files.adminToken, 'admin token'],
  ]);
  let cleanup = async (): Promise<void> => {
    const t = performance.now();
    await bridge.stop();
    await publicProxy.close();
    await proxy.close();
    await emulator.stop();
    progress(`processes stopped in ${Math.round(performance.now() - t)} ms`);
  };
  try {
    await bridge.start();
    // Outbound-only: the portal refuses every delivery to the bridge (events, the install
    // callback, recording downloads); the install completes from the app page.
    if (offline) await emulator.post('settings', { unreachableApp: true });
    const installed = await emulator.post<{
      installCallback?: { status: number | null };
      accessToken?: string;
      refreshToken?: string;
      applicationToken?: string;
    }>('apps', {
      clientId: files.clientId,
      clientSecret: files.clientSecret,
      name: 'b24-bridge (chaos)',
      installUrl: `${offline ? files.url : publicProxy.url}/bitrix/install`,
      ...(offline ? { installFinish: 'manual' } : {}),
      scopes: ['telephony', 'crm', 'user'],
    });
    if (offline) {
      const form = await installFromPage(emulator, files.url, files.clientId);
      for (const [key, label] of [
        ['AUTH_ID', 'access token (app page)'],
        ['REFRESH_ID', 'refresh token (app page)'],
        ['APPLICATION_TOKEN', 'application token'],
      ] as const) {
        const value = form[key];
        if (value !== undefined) secrets.set(value, label);
      }
    } else if (installed.installCallback?.status !== 200)
      throw new Error(`the install callback failed: ${JSON.stringify(installed.installCallback)}`);
    for (const [value, label] of [
      [installed.accessToken, 'access token'],
      [installed.refreshToken, 'refresh token'],
      [installed.applicationToken, 'application token'],
    ] as const)
      if (value !== undefined) secrets.set(value, label);

    progress(`emulator and bridge up, bridge installed (${Math.round(performance.now() - runStarted)} ms)`);
    const sim = await startSimulator({
      bridgeUrl: files.url,
      token: files.pbxToken,
      seed: options.seed,
      agents,
      callIdPrefix: 'chaos-sim',
      ...callShape,
      lines: Object.values(lines),
      // The PBX repeats what the bridge did not take, quickly: the bridge is back within seconds.
      delivery: { retry: { baseMs: 250, maxMs: 2000 } },
      commands: { waitSec: 10, retry: { baseMs: 250, maxMs: 2000 } },
      // Outbound-only: the portal cannot reach the office's recording server either, so the PBX
      // hands each recording to the bridge (`contentBase64`), which uploads it.
      recordings: { host: '127.0.0.1', ...(offline ? { upload: true } : {}) },
    });
    const previous = cleanup;
    cleanup = async () => {
      const t = performance.now();
      await sim.stop();
      progress(`simulator stopped in ${Math.round(performance.now() - t)} ms`);
      await previous();
    };
    let pbxRetries = 0;
    let pbxRejected = 0;
    let routeFallbacks = 0;
    sim.events.on('bridge.retry', (r) => (r.request === 'route' ? routeFallbacks++ : pbxRetries++));
    sim.events.on('bridge.rejected', (r) => {
      pbxRejected++;
      if (notes.length < 10)
        notes.push(`the bridge refused a PBX ${r.request}: ${r.status} ${r.body.slice(0, 200)}`);
    });

    const t0 = performance.now();
    const elapsedMs = (): number => performance.now() - t0;
    const watcher = watchBridge(files.sqlitePath, files.url);
    const faults = startFaults(emulator, options, elapsedMs);
    const traffic = startTraffic(sim, emulator, {
      count: options.calls,
      feedSec: options.feedSec,
      seed: options.seed,
      elapsedMs,
      portalDown: () => faults.outageNow(),
      bridgeDown: () => !bridge.running,
      offline,
    });
    // While the calls are fed, a click the moment the bridge dies and, when it stays down, one as
    // it starts again: in push mode the portal's one delivery fails; outbound-only, it waits in
    // the offline queue.
    let feeding = true;
    let clickAtThisKill = false;
    void traffic.placed.finally(() => (feeding = false));
    const kills = startKillLoop(bridge, options.killEverySec, seededRandom(options.seed ^ 0x4b111), {
      sec: options.downSec,
      meanwhile: (moment) => {
        if (moment === 'killed') clickAtThisKill = feeding;
        if (clickAtThisKill) traffic.clickNow(true);
      },
    });
    const replay = options.outageSec > 0 ? timeReplay(emulator, traffic, elapsedMs, options) : null;
    const ticker = setInterval(() => {
      const b = watcher.latest();
      progress(
        `${Math.round(elapsedMs() / 1000)} s: ${traffic.calls.size} calls, ${traffic.open()} open, ` +
          `backlog ${b ? b.pending + b.inFlight : '?'}, kills ${bridge.kills}, link ${watcher.links().at(-1) ?? '?'}`,
      );
    }, 10_000);

    try {
      await traffic.placed;
      // Every call over, its recording reported, and every event in the bridge's hands.
      const quietBy = performance.now() + 120_000;
      while (
        performance.now() < quietBy &&
        (traffic.open() > 0 ||
          sim.stats().eventsQueued > 0 ||
          (options.outageSec > 0 && elapsedMs() < (options.outageAtSec + options.outageSec) * 1000))
      )
        await sleep(250);
      await sim.idle();
      if (traffic.open() > 0)
        notes.push(`${traffic.open()} simulated calls were still open when the feed ended`);
    } finally {
      clearInterval(ticker);
    }
    // The chaos ends: no more kills, the portal healthy again. Now the backlog must drain.
    await kills.stop();
    await faults.stop();
    if (kills.errors.length > 0) notes.push(...kills.errors.map((e) => `a restart failed: ${e}`));
    const drainStarted = performance.now();
    progress(`feed over at ${Math.round(elapsedMs() / 1000)} s; draining`);

    const expected = [...traffic.calls.values()].filter(
      (c) => c.scenario !== 'S4' || c.clickDelivered === true,
    );
    let portalCalls: PortalCall[] = [];
    let drained = false;
    let quietSince: number | null = null;
    const drainBy = drainStarted + options.drainTimeoutSec * 1000;
    let last: Backlog | null = null;
    while (performance.now() < drainBy) {
      last = readBacklog(files.sqlitePath);
      const empty = last !== null && last.pending + last.inFlight === 0;
      portalCalls = await emulator.get<PortalCall[]>('calls');
      const finishedKeys = new Set<string>();
      for (const c of portalCalls) {
        if (!c.finished) continue;
        finishedKeys.add(`c2c.${c.callId}`);
        if (c.externalCallId !== null)
          finishedKeys.add(c.externalCallId.slice(0, c.externalCallId.lastIndexOf('@')));
      }
      const allFinished = expected.every((c) => finishedKeys.has(c.callId));
      if (empty && allFinished) {
        drained = true;
        break;
      }
      // An empty backlog that stays empty: nothing more is coming, whatever is missing is missing.
      quietSince = empty ? (quietSince ?? performance.now()) : null;
      if (quietSince !== null && performance.now() - quietSince > 15_000) break;
      await sleep(1000);
    }
    const drainSeconds = Math.round((performance.now() - drainStarted) / 100) / 10;
    // A last look after a moment: anything finished twice late shows now.
    await sleep(1000);
    portalCalls = await emulator.get<PortalCall[]>('calls');
    last = readBacklog(files.sqlitePath) ?? last;
    watcher.stop();

    const requests =
      await emulator.get<{ status: number; error: string | null; commandErrors: string[] }[]>('requests');
    const verdict = compare(
      traffic.calls.values(),
      portalCalls,
      (c) => faults.inOutage(c.placedAtMs),
      offline,
    );
    const replaySeconds = replay === null ? null : await replay.seconds();
    progress(`drain over after ${drainSeconds} s; reading the verdict`);
    const status = await bridgeStatus(files.configPath);
    progress('status read');

    const stored = watcher.tokens();
    for (const t of stored) if (!secrets.has(t)) secrets.set(t, 'OAuth or application token (store)');
    for (const t of proxy.tokens) if (!secrets.has(t)) secrets.set(t, 'OAuth token (refresh)');
    for (const t of publicProxy.tokens) if (!secrets.has(t)) secrets.set(t, 'token of a portal event');
    await cleanup();
    cleanup = () => Promise.resolve();
    progress('processes stopped; searching the log for secrets');
    const scan = await scanLog(logPath, secrets);

    const t = verdict.total;
    const portalById = new Map(portalCalls.map((c) => [c.callId, c]));
    const clickFinished = (id: string): boolean => portalById.get(id)?.finished === true;
    const figures: ChaosFigures = {
      calls: t.calls,
      finished: t.finished,
      lost: t.lost,
      duplicates: t.duplicates,
      wrongUser: t.wrongUser,
      wrongDuration: t.wrongDuration,
      missingRecording: t.missingRecording,
      bridgeKills: bridge.kills,
      maxBacklog: watcher.maxBacklog(),
      drainSeconds,
      secretsInLogs: scan.secretsInLogs,
      answered: t.answered,
      wrongStatus: verdict.wrongStatus,
      wrongStart: verdict.wrongStart,
      duplicateRecordings: verdict.duplicateRecordings,
      phantoms: verdict.phantoms,
      unfinishedInPortal: verdict.unfinishedInPortal,
      clicksUndelivered: traffic.clicksUndelivered(),
      clicks: traffic.clicks.length,
      clicksWhileDown: traffic.clicks.filter((c) => c.whileDown).length,
      clicksDialled: traffic.clicks.filter((c) => traffic.dialled(c.bitrixCallId)).length,
      clicksNotConnected: traffic.clicks.filter(
        (c) => clickFinished(c.bitrixCallId) && !traffic.dialled(c.bitrixCallId),
      ).length,
      clicksLeftOpen: traffic.clicks.filter((c) => !clickFinished(c.bitrixCallId)).length,
      outageCalls: verdict.rows.find((r) => r.label === 'S6')?.tally.calls ?? 0,
      outageSec: options.outageSec,
      tokenRefreshes: proxy.refreshes(),
      limitBursts: faults.limitBursts(),
      portalRequests: requests.length,
      portalErrors500: requests.filter((r) => r.status === 500).length,
      queryLimitExceeded: requests.filter(
        (r) =>
          r.error === 'QUERY_LIMIT_EXCEEDED' ||
          r.commandErrors.some((e) => e.includes('QUERY_LIMIT_EXCEEDED')),
      ).length,
      pbxRetries,
      pbxRejected,
      routeFallbacks,
      outboxFailed: last?.failed ?? 0,
      outboxDropped: last?.dropped ?? 0,
      replaySeconds,
      drained,
      runSeconds: Math.round((performance.now() - runStarted) / 1000),
    };
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
    return {
      figures,
      events: options.events,
      verdict,
      faults: faults.log,
      links: watcher.links(),
      status,
      scan,
      notes,
      dir: options.keep ? dir : null,
    };
  } catch (e) {
    await cleanup().catch(() => undefined);
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

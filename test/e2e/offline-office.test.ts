/**
 * An office behind NAT, end to end, with real processes: the emulated portal cannot reach the
 * bridge at all (`unreachableApp`: every event delivery, the install callback and every recording
 * download is refused) and answers every REST request 200 ms late (real portals: 100–800 ms); the bridge runs
 * outbound-only (`bitrix.events: offline`, no public URL) and reads the portal's offline queue.
 *
 * The administrator installs it from the app page in a real Chromium: the portal's page frames the
 * bridge's installer, posts it the administrator's tokens, and the installer calls
 * `BX24.installFinish()` through the BX24 library (the emulator's stand-in of
 * https://api.bitrix24.com/api/v1/, which the browser is routed to). Then scenarios 1–6, a click
 * with CALL_LIST_ID, a callback and an uninstall, with a PBX (the simulator) that rings the plans
 * the bridge returns and carries out every command it sends. Every PBX call is logged exactly
 * once, its recording uploaded (never offered as a URL), no card left shown.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { startSimulator, type AgentSpec, type Simulator } from 'b24-pbx-simulator';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PBX_TOKEN } from '../../src/config/index.ts';
import type { PbxCommand } from '../../src/pbx/index.ts';
import { bx24LibraryRoute, hasChromium, launchBrowser, type LaunchedBrowser } from '../support/browser.ts';
import {
  asPortalUser,
  cardLogOf,
  cardsUp,
  expectManagerAlone,
  failedEntriesOf,
  indexSays,
  picksUp,
  portalCallsOf,
  portalLatency,
  SALES,
  slow,
  SUPPORT,
} from './office.ts';
import {
  entryCounts,
  freePort,
  linkOf,
  startBridgeProcess,
  startEmulatorProcess,
  stop,
  tempDir,
  waitFor,
  writeBridgeConfig,
  type BridgeSetup,
  type EmulatorCall,
  type EmulatorProcess,
  type Spawned,
} from './processes.ts';

if (!hasChromium)
  console.warn('offline-office.test.ts: skipped, no /usr/bin/chromium (apt-get install chromium)');

/** Real portals answer in 100–800 ms; this one in 200 (the emulator's latency is one figure). */
const LATENCY_MS = 200;

interface PortalCall extends EmulatorCall {
  callListId: number | null;
  recordings: { filename: string; size: number }[];
}
interface PortalRecording {
  callId: string;
  sourceUrl: string | null;
}
interface Delivery {
  event: string;
  handler: string;
  status: number | null;
  error: string | null;
}

describe.skipIf(!hasChromium)('an office behind NAT: the portal never reaches the bridge', () => {
  const tmp = tempDir('b24-offline-office-');
  let emulator: EmulatorProcess;
  let setup: BridgeSetup;
  let bridge: Spawned | undefined;
  let browser: LaunchedBrowser | undefined;
  let pbx: Simulator | undefined;
  /** Every portal call the test made happen: each must be logged once, with its recording. */
  const logged = new Set<string>();

  const calls = (): Promise<PortalCall[]> => emulator.inspect<PortalCall[]>('calls');
  const callById = async (callId: string): Promise<PortalCall | undefined> =>
    (await calls()).find((c) => c.callId === callId);
  const noCardLeft = (): Promise<true> =>
    waitFor('no card left', async () => ((await cardsUp(emulator)).length === 0 ? true : undefined));
  /** The PBX call's one portal call, finished with its recording attached. */
  const recorded = async (pbxCallId: string): Promise<PortalCall> => {
    const call = await waitFor(`${pbxCallId} finished with its recording`, async () => {
      const [c] = (await portalCallsOf(emulator, pbxCallId)) as PortalCall[];
      return c?.finished === true && c.recordings.length > 0 ? c : undefined;
    });
    logged.add(call.callId);
    return call;
  };
  const office = (agents: readonly AgentSpec[]): Promise<Simulator> =>
    startSimulator({
      bridgeUrl: setup.url,
      token: DEMO_PBX_TOKEN,
      agents,
      talkSec: 2,
      recordingDelaySec: 0.1,
      originatePickupSec: 0.5,
      transferRingSec: 20,
      callee: { answerProbability: 1, answerAfterSec: 0.5 },
      commands: { waitSec: 2 },
    });

  beforeAll(async () => {
    emulator = await startEmulatorProcess();
    await emulator.control('settings', { unreachableApp: true });
    await portalLatency(emulator, LATENCY_MS);
    // The demo office's lines (Sales rings everyone at once, Support one by one); a call's finish
    // waits for its recording, which the PBX has ready 0.1 s after the hang-up.
    setup = writeBridgeConfig(emulator.url, tmp.dir, await freePort(), {
      engine: { recording: { maxWaitSec: 10, hideGraceSec: 0 } },
    });
    // Outbound-only: no public URL (the office has none), so nothing for the portal to call.
    const doc = JSON.parse(readFileSync(setup.configPath, 'utf8')) as {
      server: Record<string, unknown>;
      bitrix: Record<string, unknown>;
      pbx: Record<string, unknown>[];
    };
    delete doc.server.publicUrl;
    doc.bitrix.events = 'offline';
    // The PBX serves its recordings on the office network (here the loopback): named, so allowed.
    for (const p of doc.pbx) p.recordingHosts = ['127.0.0.1'];
    writeFileSync(setup.configPath, JSON.stringify(doc, null, 2), { mode: 0o600 });
    bridge = await startBridgeProcess(setup);
    browser = await launchBrowser();
  }, 60_000);

  afterEach(async () => {
    await pbx?.stop();
    pbx = undefined;
  });

  afterAll(async () => {
    await browser?.close();
    await stop(bridge);
    await stop(emulator);
    tmp.cleanup();
  });

  it('installs from the app page in Chromium; no request of the portal reaches the bridge', async () => {
    const app = (await emulator.control('apps', {
      clientId: setup.clientId,
      clientSecret: setup.clientSecret,
      name: 'b24-bridge (office)',
      installUrl: `${setup.url}/bitrix/install`,
      installFinish: 'manual',
      scopes: ['telephony', 'crm', 'user'],
    })) as { installed: boolean; installCallback: { status: number | null; error: string | null } };
    // The portal's install callback could not reach the office.
    expect(app).toMatchObject({ installed: false, installCallback: { status: null, error: 'ECONNREFUSED' } });

    if (!browser) throw new Error('no browser');
    const page: Page = await browser.context.newPage();
    await bx24LibraryRoute(page, `${emulator.url}/api/v1/`);
    // The administrator (user 1) opens the app in the portal: the portal frames the installer.
    await page.goto(`${emulator.url}/_emulator/apps/${setup.clientId}/page?userId=1`);
    await page.locator('#app-status[data-installed="true"]').waitFor({ timeout: 15_000 });
    expect(await page.frameLocator('#app-frame').locator('body').textContent()).toContain(
      'b24-bridge is installed',
    );
    await page.close();

    const [installed] =
      await emulator.inspect<{ installed: boolean; handlers: { handler: string }[] }[]>('apps');
    expect(installed?.installed).toBe(true);
    // Its events are bound offline (no handler URL), and the bridge reads the queue.
    expect(installed?.handlers.length).toBeGreaterThan(0);
    expect(new Set(installed?.handlers.map((h) => h.handler))).toEqual(new Set(['']));
    expect(await waitFor('the portal link', () => linkOf(setup.url))).toBe('up');
    // Nothing the portal sent reached the bridge: each delivery it tried was refused.
    const deliveries = await emulator.inspect<Delivery[]>('deliveries');
    expect(deliveries.filter((d) => d.status !== null || d.error !== 'ECONNREFUSED')).toEqual([]);
  }, 30_000);

  it('S4: a click with CALL_LIST_ID, the bridge idle, reaches the PBX within 3 s and is finished with its call list', async () => {
    // First of all: nothing happened yet, so the bridge reads the queue at its idle pace (2 s).
    pbx = await office([picksUp('101', 0.5)]);
    const number = '+79035550104';
    const originated = new Promise<{ command: PbxCommand; at: number }>((resolve) => {
      pbx?.events.on('command.received', (command) => {
        if (command.type === 'originate' && command.number === number) resolve({ command, at: Date.now() });
      });
    });
    const clickedAt = Date.now();
    const { callId } = (await emulator.control('click-to-call', {
      userId: 2,
      phoneNumber: number,
      callListId: 42,
    })) as { callId: string };
    const { command, at } = await originated;
    const reachedMs = at - clickedAt;
    console.log(`offline click-to-call: the PBX had the originate ${String(reachedMs)} ms after the click`);
    expect(reachedMs).toBeLessThan(3000);
    expect(command).toMatchObject({ type: 'originate', extension: '101', number });

    const call = await waitFor('the click finished with its recording', async () => {
      const c = await callById(callId);
      return c?.finished === true && c.recordings.length > 0 ? c : undefined;
    });
    logged.add(call.callId);
    expect(call).toMatchObject({ callListId: 42, userId: 2, finishedBy: 2, statusCode: '200' });
    // The portal's own call of the click is the one logged: the bridge registered no second one.
    expect((await calls()).filter((c) => c.phoneNumber === number)).toHaveLength(1);
    await noCardLeft();
  });

  it('S1: an incoming call to an extension shows the card to its user, logged once', async () => {
    pbx = await office([picksUp('101', 1)]);
    const result = await pbx.placeCall({ from: '+79990101001', to: '101', talkSec: 2, patienceSec: 30 });
    expect(result).toMatchObject({ reason: 'completed', answeredBy: '101' });
    const call = await recorded(result.callId);
    expect(call).toMatchObject({ userId: 2, finishedBy: 2, statusCode: '200', shown: true });
    expect((await cardLogOf(emulator, call.callId)).filter((e) => e.action === 'show')).toEqual([
      expect.objectContaining({ userId: 2 }),
    ]);
    await noCardLeft();
  });

  it('S2a: an unknown caller on Sales: every free member sees the card, the answer hides the others', async () => {
    pbx = await office([slow('101'), picksUp('102', 1.5), slow('103')]);
    const result = await pbx.placeCall({ from: '+79990101002', to: SALES, talkSec: 2, patienceSec: 30 });
    expect(result).toMatchObject({ reason: 'completed', answeredBy: '102' });
    const call = await recorded(result.callId);
    expect(call).toMatchObject({ finishedBy: 3, statusCode: '200' });
    const log = await cardLogOf(emulator, call.callId);
    expect(new Set(log.filter((e) => e.action === 'show').map((e) => e.userId))).toEqual(new Set([2, 3, 4]));
    for (const other of [2, 4]) expect(log.filter((e) => e.userId === other).at(-1)?.action).toBe('hide');
    await noCardLeft();
  });

  it('S2b: Support hunts one member at a time, the card moving with the ringing', async () => {
    pbx = await office([slow('101'), picksUp('102', 1), slow('103')]);
    const result = await pbx.placeCall({ from: '+79990101003', to: SUPPORT, talkSec: 2, patienceSec: 40 });
    expect(result).toMatchObject({ reason: 'completed', answeredBy: '102' });
    const call = await recorded(result.callId);
    expect(call).toMatchObject({ finishedBy: 3 });
    const shows = (await cardLogOf(emulator, call.callId))
      .filter((e) => e.action === 'show')
      .map((e) => e.userId);
    // Anna's phone rang first, alone; then Boris's, who answered.
    expect(shows).toEqual([2, 3]);
    await noCardLeft();
  }, 30_000);

  it('S3: a known caller reaches the responsible manager first, learnt from the offline queue', async () => {
    // Ivan Petrov's contact changes hands in the CRM: the change event waits in the offline queue.
    await asPortalUser(emulator, 'crm.contact.update', { id: 1, fields: { ASSIGNED_BY_ID: 3 } });
    await indexSays(setup.sqlitePath, '79161234567', (c) => c.responsibleId === 3);
    pbx = await office([slow('101'), picksUp('102', 1), slow('103')]);
    const result = await pbx.placeCall({ from: '+79161234567', to: SALES, talkSec: 2, patienceSec: 30 });
    expect(result).toMatchObject({ reason: 'completed', answeredBy: '102' });
    await expectManagerAlone(emulator, result.callId, 3, { type: 'CONTACT', id: 1 });
    await recorded(result.callId);
  });

  it('S5: an outgoing call dialled from a desk phone is logged with its recording', async () => {
    pbx = await office([picksUp('103', 1)]);
    const result = await pbx.placeCall({
      direction: 'outbound',
      extension: '103',
      number: '+79990101005',
      answered: true,
      answerAfterSec: 0.5,
      talkSec: 2,
    });
    expect(result).toMatchObject({ reason: 'completed' });
    const call = await recorded(result.callId);
    expect(call).toMatchObject({ userId: 4, finishedBy: 4, statusCode: '200' });
    await noCardLeft();
  });

  it('S6: a call during an outage is logged afterwards with SHOW=0, never shown', async () => {
    pbx = await office([picksUp('101', 0.5)]);
    await emulator.control('faults', { outage: 'refuse', latencyMs: LATENCY_MS });
    let pbxCallId = '';
    try {
      const result = await pbx.placeCall({ from: '+79990101006', to: '101', talkSec: 2, patienceSec: 30 });
      pbxCallId = result.callId;
      await waitFor('the link down', async () => ((await linkOf(setup.url)) === 'down' ? true : undefined));
    } finally {
      await fetch(`${emulator.url}/_emulator/faults`, { method: 'DELETE' });
      await portalLatency(emulator, LATENCY_MS);
    }
    const call = await waitFor(
      `${pbxCallId} logged after the outage`,
      async () => {
        const [c] = (await portalCallsOf(emulator, pbxCallId)) as PortalCall[];
        return c?.finished === true && c.recordings.length > 0 ? c : undefined;
      },
      45_000,
    );
    logged.add(call.callId);
    expect(call).toMatchObject({ shown: false, finishedBy: 2, statusCode: '200' });
    // Nobody saw a card of it (the finish's own hides aside).
    expect((await cardLogOf(emulator, call.callId)).filter((e) => e.action === 'show')).toEqual([]);
  }, 60_000);

  it('a callback request from the portal reaches the PBX and its call is logged once', async () => {
    pbx = await office([picksUp('101', 0.5), picksUp('102', 0.5), picksUp('103', 0.5)]);
    const number = '+79035550107';
    const originated = new Promise<PbxCommand>((resolve) => {
      pbx?.events.on('command.received', (command) => {
        if (command.type === 'originate' && command.number === number) resolve(command);
      });
    });
    await emulator.control('callback', { phoneNumber: number, text: 'Call me back' });
    const command = await originated;
    const call = await recorded(command.callId);
    expect(call).toMatchObject({ statusCode: '200' });
    expect((await calls()).filter((c) => c.phoneNumber === number)).toHaveLength(1);
    await noCardLeft();
  }, 30_000);

  it('everything is logged exactly once: one call per PBX call, one uploaded recording, nothing left over', async () => {
    await waitFor('the outbox settled', () => {
      const counts = entryCounts(setup.sqlitePath);
      return Promise.resolve((counts.pending ?? 0) + (counts.in_flight ?? 0) === 0 ? counts : undefined);
    });
    expect(entryCounts(setup.sqlitePath).failed ?? 0).toBe(0);
    const all = await calls();
    // Every call of the portal is one the test made happen (S3's index warm-up placed none).
    expect(new Set(all.map((c) => c.callId))).toEqual(logged);
    expect(logged.size).toBe(8);
    for (const c of all) {
      expect(c.finished, c.callId).toBe(true);
      expect(c.recordings, c.callId).toHaveLength(1);
    }
    for (const c of all.filter((x) => x.externalCallId !== null))
      expect(failedEntriesOf(setup.sqlitePath, (c.externalCallId ?? '').split('@')[0] ?? '')).toEqual([]);
    // Uploaded, not fetched: the portal could not have downloaded anything from the office.
    const recordings = await emulator.inspect<PortalRecording[]>('recordings');
    expect(recordings).toHaveLength(logged.size);
    expect(recordings.filter((r) => r.sourceUrl !== null)).toEqual([]);
    // Each call finished once: one successful finish per call, batched or not.
    const requests = await emulator.inspect<
      {
        method: string;
        batch: boolean;
        commands: string[];
        error: string | null;
        commandErrors: string[];
      }[]
    >('requests');
    const finishes = requests
      .filter((r) => r.error === null)
      .flatMap((r) => (r.batch ? r.commands : [r.method]))
      .filter((m) => m === 'telephony.externalcall.finish').length;
    expect(finishes).toBe(logged.size);
    await noCardLeft();
  });

  it('an uninstall: the portal takes its access away, the bridge forgets the portal', async () => {
    const res = await fetch(`${emulator.url}/_emulator/apps/${setup.clientId}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    const { deliveries } = (await res.json()) as { deliveries: Delivery[] };
    // ONAPPUNINSTALL could not be posted to the office either.
    expect(deliveries.filter((d) => d.status !== null)).toEqual([]);
    // The bridge learns it at its next read of the queue (its token refused, app.info confirming).
    await waitFor(
      'the portal forgotten',
      async () => {
        const health = (await (await fetch(`${setup.url}/healthz`)).json()) as { portals?: unknown[] };
        return health.portals?.length === 0 ? true : undefined;
      },
      20_000,
    );
    // Nothing more is asked of the portal once it is gone.
    const before = (await emulator.inspect<unknown[]>('requests')).length;
    await new Promise((r) => setTimeout(r, 3000));
    expect((await emulator.inspect<unknown[]>('requests')).length).toBe(before);
  }, 40_000);
});

/**
 * The call journal and the dashboard in a real browser (Debian's chromium through playwright-core),
 * over a bridge and an emulated portal in this process: the simulated office places calls, the
 * test adds one nobody answers, then a person finds that missed call in the journal by its number
 * and reads its timeline, and sees the day's calls on the dashboard. Screenshots go to
 * test-results/screenshots/ (kept by CI as artefacts).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator, type Emulator } from 'b24-emulator';
import { startSimulator, type Simulator } from 'b24-pbx-simulator';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchBrowser, type LaunchedBrowser } from '../support/browser.ts';
import { startBridge, type Bridge } from '../../src/bridge/index.ts';
import { DEMO_PBX_TOKEN, demoDocument, parseConfig } from '../../src/config/index.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../test-results/screenshots/', import.meta.url));
const PASSWORD = 'journal-test-password';
const MISSED_FROM = '+79167770042';

let emulator: Emulator | undefined;
let bridge: Bridge | undefined;
let simulator: Simulator | undefined;
let browser: LaunchedBrowser | undefined;
let page: Page;
let dir = '';
let simulated = 0;

async function pbx(events: unknown[]): Promise<void> {
  const res = await fetch(`${bridge?.url ?? ''}/pbx/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${DEMO_PBX_TOKEN}` },
    body: JSON.stringify(events),
  });
  if (res.status !== 202) throw new Error(`events: ${String(res.status)} ${await res.text()}`);
}

const shot = (name: string): Promise<Buffer> =>
  page.screenshot({ path: join(SCREENSHOTS, name), fullPage: true });

beforeAll(async () => {
  if (!hasChromium) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'b24-journal-ui-'));
  emulator = await startEmulator({ port: 0 });
  const clientId = 'local.b24bridge.journal';
  const clientSecret = 'journal-test-client-secret-0123456789';
  const doc = demoDocument({
    clientId,
    clientSecret,
    oauthUrl: `${emulator.url}/oauth/token/`,
    simulator: false,
    sqlitePath: join(dir, 'bridge.sqlite'),
  });
  const parsed = parseConfig({
    ...doc,
    bitrix: { ...doc.bitrix, retry: { maxAttempts: 2, minDelayMs: 50, maxDelayMs: 200 } },
    engine: { defaultUserId: 1, recording: { maxWaitSec: 0, hideGraceSec: 0 } },
    admin: { password: PASSWORD },
  });
  if (!parsed.ok) throw parsed.error;
  bridge = await startBridge(
    { ...parsed.config, server: { ...parsed.config.server, publicUrl: undefined } },
    { port: 0, host: '127.0.0.1', warn: () => undefined },
  );
  const res = await fetch(`${emulator.url}/_emulator/apps`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      clientId,
      clientSecret,
      installUrl: `${bridge.url}/bitrix/install`,
      scopes: ['telephony', 'crm', 'user'],
    }),
  });
  if (!res.ok) throw new Error(`install: ${String(res.status)}`);
  // The simulator run: a few calls of the simulated office, each over when its promise settles.
  simulator = await startSimulator({
    bridgeUrl: bridge.url,
    token: DEMO_PBX_TOKEN,
    speed: 20,
    talkSec: [1, 2],
    recordingDelaySec: [0, 0],
    seed: 7,
  });
  const results = await Promise.all(
    ['+79160000001', '+79160000002', '+79160000003'].map((from) =>
      simulator!.placeCall({ from, to: '+74950000001', talkSec: 1, patienceSec: 30 }),
    ),
  );
  simulated = results.length;
  const start = Date.now();
  const at = (sec: number): string => new Date(start + sec * 1000).toISOString();
  await pbx([
    {
      type: 'call.started',
      callId: 'missed-1',
      direction: 'inbound',
      from: MISSED_FROM,
      to: '101',
      at: at(0),
    },
    { type: 'call.ringing', callId: 'missed-1', extensions: ['101'], at: at(0.2) },
    { type: 'call.ended', callId: 'missed-1', reason: 'no_answer', at: at(20) },
  ]);
  browser = await launchBrowser();
  page = await browser.context.newPage();
  await page.goto(`${bridge.url}/login`);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.getByRole('heading', { name: 'Live calls' }).waitFor();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await simulator?.stop();
  await bridge?.close();
  await emulator?.close();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!hasChromium)('the call journal and the dashboard in chromium', () => {
  it('finds a missed call by its number and shows its timeline', async () => {
    await page.goto(`${bridge?.url ?? ''}/journal`);
    await page.fill('input[name=number]', '+7 916 777-00-42');
    await page.selectOption('select[name=outcome]', 'missed');
    await page.getByRole('button', { name: 'Search' }).click();
    const row = page.locator('tr.journal-call', { hasText: 'missed-1' });
    await row.waitFor();
    expect(await page.locator('tr.journal-call').count()).toBe(1);
    expect(await row.textContent()).toContain(MISSED_FROM);
    await row.getByRole('link', { name: 'missed-1' }).click();
    await page.getByRole('heading', { name: 'Call missed-1' }).waitFor();
    expect(await page.locator('#journal-outcome').textContent()).toBe('missed');
    const timeline = page.locator('#journal-timeline');
    const text = (await timeline.textContent()) ?? '';
    expect(text).toContain(`call started: inbound from ${MISSED_FROM} to 101`);
    expect(text).toContain('ringing: 101');
    expect(text).toContain('ended (no answer)');
    // The call's Bitrix24 requests are there, without a token.
    await expect
      .poll(
        async () => {
          await page.reload();
          return (await page.locator('#journal-timeline').textContent()) ?? '';
        },
        { timeout: 15_000 },
      )
      .toMatch(/telephony\.externalcall\.register.*→ 200/i);
    const html = await page.content();
    expect(html).not.toMatch(/access_token|auth=|Bearer /);
    await shot('journal-missed-call.png');
  });

  it('shows the day’s calls on the dashboard after the simulator run', async () => {
    await page.goto(`${bridge?.url ?? ''}/dashboard`);
    const dashboard = page.locator('#dashboard');
    await dashboard.waitFor();
    expect(Number(await dashboard.getAttribute('data-today-calls'))).toBeGreaterThanOrEqual(simulated + 1);
    expect(await page.locator('figure.chart svg').count()).toBeGreaterThanOrEqual(4);
    // A bar per outcome present today, named in its tooltip.
    expect(await page.locator('svg title', { hasText: /· answered: \d+/ }).count()).toBeGreaterThan(0);
    expect(await page.locator('svg title', { hasText: /· missed: \d+/ }).count()).toBeGreaterThan(0);
    expect(await page.locator('#queue-figures').textContent()).toContain('sales');
    await shot('dashboard.png');
  });
});

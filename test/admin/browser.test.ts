/**
 * The admin UI in a real browser (Debian's chromium through playwright-core): the emulated portal
 * and the bridge run in this process, the test plays the PBX over the bridge's HTTP API, and a
 * person's view is checked: log in, watch a call appear on the board and end, edit a queue (a bad
 * edit shows its error, a good one is saved), and watch a backlog built during an outage drain.
 * Screenshots go to test-results/screenshots/ (kept by CI as artefacts).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator, type Emulator } from 'b24-emulator';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchBrowser, type LaunchedBrowser } from '../support/browser.ts';
import { startBridge, type Bridge } from '../../src/bridge/index.ts';
import { DEMO_PBX_TOKEN, demoDocument, parseConfig } from '../../src/config/index.ts';

const SCREENSHOTS = fileURLToPath(new URL('../../test-results/screenshots/', import.meta.url));
const PASSWORD = 'browser-test-password';

let emulator: Emulator | undefined;
let bridge: Bridge | undefined;
let browser: LaunchedBrowser | undefined;
let page: Page;
let dir = '';

async function control(method: string, path: string, body?: unknown): Promise<void> {
  const res = await fetch(`${emulator?.url ?? ''}/_emulator/${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`${method} /_emulator/${path}: ${String(res.status)} ${await res.text()}`);
}

async function pbx(events: unknown[]): Promise<void> {
  const res = await fetch(`${bridge?.url ?? ''}/pbx/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${DEMO_PBX_TOKEN}` },
    body: JSON.stringify(events),
  });
  if (res.status !== 202) throw new Error(`events: ${String(res.status)} ${await res.text()}`);
}

function callOf(callId: string, from: string, to: string) {
  const start = Date.now();
  const at = (sec: number): string => new Date(start + sec * 1000).toISOString();
  return {
    ring: [
      { type: 'call.started', callId, direction: 'inbound', from, to, at: at(0) },
      { type: 'call.ringing', callId, extensions: [to], at: at(0.5) },
    ],
    answer: [{ type: 'call.answered', callId, extension: to, at: at(3) }],
    end: [{ type: 'call.ended', callId, reason: 'completed', at: at(9) }],
  };
}

const shot = (name: string): Promise<Buffer> =>
  page.screenshot({ path: join(SCREENSHOTS, name), fullPage: true });

beforeAll(async () => {
  if (!hasChromium) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'b24-admin-ui-'));
  emulator = await startEmulator({ port: 0 });
  const clientId = 'local.b24bridge.ui';
  const clientSecret = 'ui-test-client-secret-0123456789';
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
    // Calls finish at hang-up: the board shows the end at once, with no recording to wait for.
    engine: { defaultUserId: 1, recording: { maxWaitSec: 0, hideGraceSec: 0 } },
    admin: { password: PASSWORD },
  });
  if (!parsed.ok) throw parsed.error;
  bridge = await startBridge(
    { ...parsed.config, server: { ...parsed.config.server, publicUrl: undefined } },
    {
      port: 0,
      host: '127.0.0.1',
      warn: () => undefined,
    },
  );
  await control('POST', 'apps', {
    clientId,
    clientSecret,
    installUrl: `${bridge.url}/bitrix/install`,
    scopes: ['telephony', 'crm', 'user'],
  });
  browser = await launchBrowser();
  page = await browser.context.newPage();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await bridge?.close();
  await emulator?.close();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!hasChromium)('the admin UI in chromium', () => {
  if (!hasChromium)
    console.log('admin UI tests skipped: no chromium at /usr/bin/chromium (set CHROMIUM_PATH)');

  it('asks for the password, refuses a wrong one, and lets the right one in', async () => {
    await page.goto(`${bridge?.url ?? ''}/`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('input[name=password]', 'not the password');
    await page.click('button[type=submit]');
    await page.getByRole('alert').filter({ hasText: 'Wrong password.' }).waitFor();
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.getByRole('heading', { name: 'Live calls' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/');
    const cookies = await browser!.context.cookies();
    expect(cookies.find((c) => c.name === 'b24_admin')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
  });

  it('shows a simulated call live on the board (caller, CRM match, card, state) and then its end', async () => {
    await page.goto(`${bridge?.url ?? ''}/`);
    await page.getByText('No calls right now.').waitFor();
    const call = callOf('ui-call-1', '+79161234567', '101');
    await pbx(call.ring);
    const row = page.locator('tr.call', { hasText: 'ui-call-1' });
    // Pushed over SSE: the page is not reloaded.
    await row.waitFor();
    await expect
      .poll(() => row.locator('td.holders').textContent(), { timeout: 10_000 })
      .toContain('Anna Ivanova');
    await expect.poll(() => row.textContent(), { timeout: 10_000 }).toContain('CONTACT #1');
    expect(await row.locator('td.state').textContent()).toContain('ringing: 101');
    await pbx(call.answer);
    await expect
      .poll(() => row.locator('td.state').textContent(), { timeout: 10_000 })
      .toContain('talking: 101');
    await shot('board-live-call.png');
    await pbx(call.end);
    await expect
      .poll(() => row.locator('td.state').textContent(), { timeout: 10_000 })
      .toContain('ended (completed)');
    await expect.poll(() => row.locator('td.holders').textContent(), { timeout: 10_000 }).toContain('nobody');
    await shot('board-call-ended.png');
  });

  it('edits a queue: a bad edit shows what is wrong, a good one is applied and kept', async () => {
    await page.goto(`${bridge?.url ?? ''}/queues`);
    const section = page.locator('#queue-support');
    await section.locator('input[name=members]').fill('101, 101, 1 0 2!');
    await section.locator('input[name=memberTimeoutSec]').fill('soon');
    await section.getByRole('button', { name: 'Save' }).click();
    const problems = page.locator('#queue-support [role=alert]');
    await problems.waitFor();
    expect(await problems.textContent()).toContain('this extension is already a member');
    expect(await problems.textContent()).toContain('expected a number of seconds');
    await shot('queue-edit-invalid.png');
    expect(bridge?.config.engine.lines.find((l) => l.id === 'support')?.routing).toMatchObject({
      queue: { members: ['101', '102', '103'] },
    });

    await page.locator('#queue-support input[name=members]').fill('103, 101');
    await page.locator('#queue-support select[name=strategy]').selectOption('simultaneous');
    await page.locator('#queue-support input[name=memberTimeoutSec]').fill('12');
    await page.locator('#queue-support').getByRole('button', { name: 'Save' }).click();
    await page.locator('#queue-support [role=status]').filter({ hasText: 'Saved' }).waitFor();
    await shot('queue-edit-saved.png');
    // Applied to the running configuration, and kept in the store for the next start (and for
    // every other instance on it).
    expect(bridge?.config.engine.lines.find((l) => l.id === 'support')?.routing).toEqual({
      kind: 'queue',
      queue: { members: ['103', '101'], strategy: 'simultaneous', memberTimeoutSec: 12 },
    });
    const kept = await bridge?.store.admin.getSetting('lines');
    expect(kept?.revision).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(kept?.value)).toContain('"103"');
    // The page after a reload shows the new members.
    await page.reload();
    expect(await page.locator('#queue-support input[name=members]').inputValue()).toBe('103, 101');
  });

  it('shows the extension map with its problems', async () => {
    await page.goto(`${bridge?.url ?? ''}/extensions`);
    // Elena Kuznetsova has no extension in the seed portal.
    const elena = page.locator('tr', { hasText: 'Elena Kuznetsova' });
    await elena.waitFor();
    expect(await elena.textContent()).toContain('user without extension');
    await shot('extensions.png');
  });

  it('shows a backlog built during an outage, and watches it drain after "replay now"', async () => {
    await control('POST', 'faults', { outage: 'refuse' });
    for (let i = 1; i <= 3; i += 1) {
      const call = callOf(`ui-outage-${String(i)}`, `+7916555000${String(i)}`, '102');
      await pbx([...call.ring, ...call.answer, ...call.end]);
    }
    await page.goto(`${bridge?.url ?? ''}/portals`);
    await expect
      .poll(() => page.locator('#portals-table .badge').first().textContent(), { timeout: 15_000 })
      .toBe('down');
    await page.goto(`${bridge?.url ?? ''}/outbox`);
    const backlog = page.locator('#outbox-table td.backlog');
    await expect
      .poll(async () => Number(await backlog.textContent()), { timeout: 10_000 })
      .toBeGreaterThan(0);
    await expect
      .poll(() => page.locator('#outbox-table').textContent(), { timeout: 10_000 })
      .toContain('NETWORK');
    await shot('outbox-backlog.png');
    await control('DELETE', 'faults');
    await page.locator('#outbox-table').getByRole('button', { name: 'Replay now' }).click();
    await expect.poll(async () => Number(await backlog.textContent()), { timeout: 20_000 }).toBe(0);
    await page.locator('#outbox-table td.replay', { hasText: 'all delivered' }).waitFor();
    await shot('outbox-drained.png');
    await page.goto(`${bridge?.url ?? ''}/portals`);
    await expect
      .poll(() => page.locator('#portals-table .badge').first().textContent(), { timeout: 10_000 })
      .toBe('up');
    await shot('portals.png');
  });
});

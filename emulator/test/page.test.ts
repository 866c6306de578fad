import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchBrowser, CHROMIUM } from './browser.ts';
import { startTestPortal, type TestPortal } from './helpers.ts';

// CI installs Debian's chromium; elsewhere the test says why it skips instead of failing.
if (!hasChromium && process.env.CI)
  throw new Error(`no browser at ${CHROMIUM}: .ci/run should have installed chromium`);
if (!hasChromium) console.warn(`page.test.ts: skipped, no browser at ${CHROMIUM} (apt-get install chromium)`);

describe.skipIf(!hasChromium)("the live page shows each user's screen in a real browser", () => {
  let portal: TestPortal;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  beforeAll(async () => {
    portal = await startTestPortal();
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser.close();
    await portal.close();
  });

  it('cards pop up and vanish on the right screens as the portal is called', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${portal.url}/_emulator/`);
    await page.locator('#status', { hasText: 'live' }).waitFor();
    expect(await page.locator('.screen').count()).toBe(6);
    await expect
      .poll(() => page.locator('.screen[data-user="5"]').getAttribute('class'))
      .toContain('inactive');

    const reg = await portal.call('telephony.externalcall.register', {
      USER_ID: 2,
      PHONE_NUMBER: '+79161234567',
      TYPE: 2,
    });
    const callId = (reg.body.result as { CALL_ID: string }).CALL_ID;
    const annaCard = page.locator(`.screen[data-user="2"] .card[data-call="${callId}"]`);
    await annaCard.waitFor();
    expect(await annaCard.textContent()).toContain('+79161234567');
    expect(await annaCard.textContent()).toContain('CONTACT: Ivan Petrov');

    await portal.call('telephony.externalcall.show', { CALL_ID: callId, USER_ID: [3, 4] });
    await page.locator(`.screen[data-user="4"] .card[data-call="${callId}"]`).waitFor();
    await portal.call('telephony.externalcall.hide', { CALL_ID: callId, USER_ID: [2, 4] });
    await annaCard.waitFor({ state: 'detached' });
    await page.locator(`.screen[data-user="4"] .card`).waitFor({ state: 'detached' });
    expect(await page.locator(`.screen[data-user="3"] .card`).count()).toBe(1);

    await portal.call('telephony.externalcall.finish', { CALL_ID: callId, USER_ID: 3, DURATION: 12 });
    await page.locator(`.screen[data-user="3"] .card`).waitFor({ state: 'detached' });
    await page.locator('#calls tr', { hasText: 'finished 200, 12 s' }).waitFor();
    await page.screenshot({
      path: `${process.env.SCREENSHOT_DIR ?? '/tmp'}/b24-emulator-page.png`,
      fullPage: true,
    });
  });
});

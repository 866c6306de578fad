/**
 * Chromium for the product's browser tests: Debian's /usr/bin/chromium through playwright-core,
 * headless, a fresh user-data dir per launch (removed by `close`), none of its phoning home. One
 * launcher for every test: the emulator package's own (its tests run without the product's).
 */
import type { Page } from 'playwright-core';
import { CHROMIUM, hasChromium, launchBrowser } from '../../emulator/test/browser.ts';

export { CHROMIUM, hasChromium, launchBrowser };

export type LaunchedBrowser = Awaited<ReturnType<typeof launchBrowser>>;

/** Where an app page loads the BX24 library from inside Bitrix24 (either scheme). */
const BX24_LIBRARY = /^https?:\/\/api\.bitrix24\.com\/api\/v1\/?(\?.*)?$/;

/**
 * Serves the page the BX24 library from `libraryUrl` (the emulator's stand-in at `/api/v1/`)
 * where it asks api.bitrix24.com for it: this machine has no Internet.
 */
export async function bx24LibraryRoute(page: Page, libraryUrl: string): Promise<void> {
  const res = await fetch(libraryUrl);
  if (!res.ok) throw new Error(`${libraryUrl}: ${String(res.status)}`);
  const body = await res.text();
  await page.route(BX24_LIBRARY, (route) =>
    route.fulfill({ status: 200, contentType: 'application/javascript; charset=utf-8', body }),
  );
}

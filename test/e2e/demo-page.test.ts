import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { hasChromium, launchBrowser } from '../support/browser.ts';

/**
 * What `npm start` promises a newcomer: from a fresh start, within 60 s, the emulator's page shows a
 * card pop up for a simulated call and go away again. The demo runs as a process with its simulator.
 */
const bin = fileURLToPath(new URL('../../bin/b24-bridge.js', import.meta.url));

let child: ChildProcess | undefined;

afterAll(async () => {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child?.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
});

describe.skipIf(!hasChromium)('the demo with its simulator, seen in a browser', () => {
  it('shows a card on the emulator page within 60 s of a fresh start, and takes it away', async () => {
    const startedAt = Date.now();
    const proc = spawn(process.execPath, [bin, 'demo', '--port', '0', '--emulator-port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let out = '';
    const emulatorUrl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the demo did not start:\n${out}`)), 20_000);
      proc.once('exit', (code) => reject(new Error(`the demo exited with ${String(code)}:\n${out}`)));
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /emulator:\s+(http:\/\/\S+?\/_emulator\/?)\s/.exec(out);
        if (m?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
    });
    const browser = await launchBrowser();
    try {
      const page = await browser.context.newPage();
      await page.goto(emulatorUrl);
      const left = 60_000 - (Date.now() - startedAt);
      await page.locator('.card').first().waitFor({ state: 'visible', timeout: left });
      const shownAfter = Date.now() - startedAt;
      // Talks last 8–25 s and the card goes at hang-up (or at the answer, for the others of a queue).
      await page.locator('.card').first().waitFor({ state: 'detached', timeout: 60_000 });
      console.log(
        `demo page: first card after ${String(shownAfter)} ms, gone after ${String(Date.now() - startedAt)} ms`,
      );
      expect(shownAfter).toBeLessThan(60_000);
      // Each recent call links to its timeline in the bridge's call journal.
      const link = page.locator('a.call-link').first();
      await link.waitFor({ timeout: 10_000 });
      expect(await link.getAttribute('href')).toMatch(/^http:\/\/[^/]+\/journal\/[^/]+%40\d+$/);
    } finally {
      await browser.close();
    }
  }, 150_000);
});

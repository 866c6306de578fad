/**
 * The page's links from recent calls to another site (the demo points them at the bridge's call
 * journal): only http(s) templates are taken, and the screens name the template and each call's
 * EXTERNAL_CALL_ID.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from 'b24-emulator';

let emulator: Emulator;

beforeEach(async () => {
  emulator = await startEmulator({ port: 0 });
});
afterEach(async () => {
  await emulator.close();
});

const settings = (body: unknown): Promise<Response> =>
  fetch(`${emulator.url}/_emulator/settings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('the call link template', () => {
  it('takes an http(s) template and refuses any other', async () => {
    for (const bad of ['javascript:alert(1)', 'http://x/"><script>', 'ftp://x/{externalCallId}', 5])
      expect((await settings({ callLinkTemplate: bad })).status, String(bad)).toBe(400);
    expect(
      (await settings({ callLinkTemplate: 'http://127.0.0.1:3000/journal/{externalCallId}' })).status,
    ).toBe(200);
    const screens = (await (await fetch(`${emulator.url}/_emulator/screens`)).json()) as {
      callLinkTemplate: unknown;
    };
    expect(screens.callLinkTemplate).toBe('http://127.0.0.1:3000/journal/{externalCallId}');
    expect((await settings({ callLinkTemplate: null })).status).toBe(200);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from 'b24-emulator';
import { startBridge, type Bridge } from '../../src/bridge/index.ts';
import { parseConfig } from '../../src/config/index.ts';
import { tempDir } from '../e2e/processes.ts';

/**
 * Webhook mode, the fallback for a single portal: Bitrix24 refuses register/finish to incoming
 * webhooks (WRONG_AUTH_TYPE), and the bridge says so as a configuration error, once.
 */
describe('webhook mode', () => {
  let emulator: Emulator;
  let bridge: Bridge;
  const warnings: string[] = [];
  const tmp = tempDir('b24-webhook-');

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
    const parsed = parseConfig({
      bitrix: { mode: 'webhook', url: emulator.webhookUrl },
      pbx: [{ id: 'office', token: 'office-token-0123456789' }],
      engine: { defaultUserId: 1, lines: [] },
      store: {
        kind: 'sqlite',
        path: `${process.env.TMPDIR ?? '/tmp'}/b24-webhook-${String(process.pid)}-${String(Date.now())}.sqlite`,
      },
    });
    if (!parsed.ok) throw parsed.error;
    bridge = await startBridge(parsed.config, { port: 0, warn: (m) => warnings.push(m) });
  });
  afterAll(async () => {
    await bridge.close();
    await emulator.close();
    tmp.cleanup();
  });

  it('reports the refused register as a configuration error on /healthz and in the log', async () => {
    const res = await fetch(`${bridge.url}/pbx/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer office-token-0123456789' },
      body: JSON.stringify([
        { type: 'call.started', callId: 'w1', direction: 'inbound', from: '+79031234567', to: '101' },
        { type: 'call.ringing', callId: 'w1', extensions: ['101'] },
      ]),
    });
    expect(res.status).toBe(202);
    let health: { problem?: string } = {};
    for (let i = 0; i < 100 && health.problem === undefined; i++) {
      await new Promise((r) => setTimeout(r, 50));
      health = (await (await fetch(`${bridge.url}/healthz`)).json()) as { problem?: string };
    }
    expect(health.problem).toMatch(/WRONG_AUTH_TYPE.*bitrix\.mode "app"/);
    expect(warnings.filter((w) => w.startsWith('configuration error'))).toHaveLength(1);
    // The webhook's secret never appears in what the bridge says.
    const secret = new URL(emulator.webhookUrl!).pathname.split('/')[3]!;
    expect(JSON.stringify(health) + warnings.join('\n')).not.toContain(secret);
    // No app: no install callback, no events endpoint.
    expect((await fetch(`${bridge.url}/bitrix/events`, { method: 'POST' })).status).toBe(404);
  });
});

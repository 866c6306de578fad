/**
 * PostgreSQL restarts under the bridge (a failover, an upgrade): while it is gone, the PBX's
 * events are answered 503 (not stored, so the PBX sends them again), nothing acknowledged is lost,
 * and the bridge takes events again by itself within 5 s of the database's return. On a server of
 * the test's own, so nothing else on the machine loses its database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startEmulator, type Emulator } from 'b24-emulator';
import { startBridge, type Bridge } from '../../src/bridge/index.ts';
import { parseConfig } from '../../src/config/index.ts';
import {
  privatePostgres,
  privatePostgresUnavailable,
  type PrivatePostgres,
} from '../../failover/postgres.ts';

const unavailable = privatePostgresUnavailable();
if (unavailable !== undefined) console.warn(`the PostgreSQL restart test is skipped: ${unavailable}`);

const TOKEN = 'office-token-0123456789';

describe.skipIf(unavailable !== undefined)('a PostgreSQL restart under traffic', () => {
  let server: PrivatePostgres;
  let emulator: Emulator;
  let bridge: Bridge;

  beforeAll(async () => {
    server = await privatePostgres();
    emulator = await startEmulator({ port: 0 });
    const parsed = parseConfig({
      bitrix: { mode: 'webhook', url: emulator.webhookUrl },
      pbx: [{ id: 'office', token: TOKEN }],
      store: { kind: 'postgres', url: server.url },
    });
    if (!parsed.ok) throw parsed.error;
    bridge = await startBridge(parsed.config, { port: 0, warn: () => undefined });
  }, 60_000);

  afterAll(async () => {
    await bridge.close().catch(() => undefined);
    await emulator.close();
    server.destroy();
  });

  const send = (callId: string): Promise<number> =>
    fetch(`${bridge.url}/pbx/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify([
        { type: 'call.started', callId, direction: 'inbound', from: '+79031234567', to: '101' },
      ]),
    }).then((r) => r.status);

  async function storedInputs(): Promise<string[]> {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ payload: { callId?: string } }>('SELECT payload FROM inputs');
      return rows.map((r) => r.payload.callId ?? '').sort();
    } finally {
      await client.end();
    }
  }

  it('answers 503 while the database is down and takes events again within 5 s of its return', async () => {
    expect(await send('before')).toBe(202);
    server.stop();
    expect(await send('during')).toBe(503);
    server.start();
    const back = Date.now();
    let status = 0;
    let n = 0;
    while (status !== 202 && Date.now() - back < 10_000) {
      status = await send(`after-${String(n++)}`);
      if (status !== 202) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(202);
    expect(Date.now() - back).toBeLessThan(5_000);
    // What was acknowledged is there; what was refused is not (the PBX repeats it).
    const stored = await storedInputs();
    expect(stored).toContain('before');
    expect(stored).toContain(`after-${String(n - 1)}`);
    expect(stored).not.toContain('during');
  }, 60_000);
});

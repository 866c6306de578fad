import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from 'b24-emulator';
import { startBridge, type Bridge } from '../../src/bridge/index.ts';
import { DEMO_PBX_TOKEN, demoDocument, parseConfig } from '../../src/config/index.ts';
import type { PbxCommand } from '../../src/pbx/index.ts';
import { databaseUrl, freshSchemaName, skipMessage, sql } from '../store/pg.ts';

if (databaseUrl === undefined) console.warn(skipMessage);

const CLICKS = 20;
const CLIENT_ID = 'local.offline.two';
const CLIENT_SECRET = 'offline-two-client-secret-0123';

/**
 * Outbound-only with two instances on one PostgreSQL database: both read the portal's one offline
 * queue, each under its own process_id. Every click is dialled exactly once, by one of them.
 */
describe.skipIf(databaseUrl === undefined)('two outbound-only instances share one offline queue', () => {
  const schema = freshSchemaName();
  let emulator: Emulator;
  const bridges: Bridge[] = [];

  const inspect = async <T>(path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${emulator.url}/_emulator/${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const commandsOf = async (bridge: Bridge): Promise<PbxCommand[]> => {
    const res = await fetch(`${bridge.url}/pbx/v1/commands?wait=1`, {
      headers: { authorization: `Bearer ${DEMO_PBX_TOKEN}` },
    });
    return (await res.json()) as PbxCommand[];
  };

  beforeAll(async () => {
    await sql(`CREATE SCHEMA ${schema}`);
    emulator = await startEmulator({ port: 0, settings: { unreachableApp: true } });
    const url = new URL(databaseUrl ?? '');
    url.searchParams.set('options', `-c search_path=${schema}`);
    const dir = mkdtempSync(join(tmpdir(), 'b24-offline-two-'));
    const doc = demoDocument({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      oauthUrl: `${emulator.url}/oauth/token/`,
      port: 3000,
      simulator: false,
      sqlitePath: join(dir, 'unused.sqlite'),
    });
    const parsed = parseConfig({
      ...doc,
      server: { host: '127.0.0.1', port: 3000 },
      store: { kind: 'postgres', url: url.toString() },
      bitrix: { ...doc.bitrix, mode: 'app', retry: { maxAttempts: 2, minDelayMs: 50, maxDelayMs: 200 } },
      admin: { password: 'offline-two-admin-password' },
    });
    if (!parsed.ok) throw parsed.error;
    const start = (name: string) =>
      startBridge(parsed.config, {
        port: 0,
        host: '127.0.0.1',
        warn: () => undefined,
        offlineProcessId: `instance-${name}`,
      });
    bridges.push(await start('a'));
    await inspect('apps', {
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      installUrl: `${bridges[0]!.url}/bitrix/install`,
      installFinish: 'manual',
      scopes: ['telephony', 'crm', 'user'],
    });
    const opening = await inspect<{ query: Record<string, string>; form: Record<string, string> }>(
      `apps/${CLIENT_ID}/open`,
      { userId: 1 },
    );
    const page = await fetch(
      `${bridges[0]!.url}/bitrix/install?${new URLSearchParams(opening.query).toString()}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(opening.form).toString(),
      },
    );
    expect(page.status).toBe(200);
    await inspect(`apps/${CLIENT_ID}/install-finish`, {});
    // B starts on the database A filled: it finds the portal there and reads its queue too.
    bridges.push(await start('b'));
  });

  afterAll(async () => {
    for (const b of bridges) await b.close();
    await emulator.close();
    await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  it('every click is dialled once, whichever instance read it', async () => {
    const numbers = Array.from({ length: CLICKS }, (_, i) => `+7916555${String(1000 + i)}`);
    for (const phoneNumber of numbers) await inspect('click-to-call', { userId: 2, phoneNumber });
    const dialled: string[] = [];
    const by = { a: 0, b: 0 };
    for (let round = 0; round < 30 && dialled.length < CLICKS; round++) {
      const [a, b] = await Promise.all(bridges.map(commandsOf));
      for (const [name, list] of [
        ['a', a],
        ['b', b],
      ] as const) {
        for (const c of list ?? []) {
          if (c.type !== 'originate' || !('number' in c)) continue;
          dialled.push(c.number);
          by[name]++;
        }
      }
    }
    expect(dialled.sort()).toEqual([...numbers].sort());
    // Nothing more comes: no instance dials a click the other already took.
    const late = (await Promise.all(bridges.map(commandsOf))).flat().filter((c) => c.type === 'originate');
    expect(late).toEqual([]);
    expect(by.a + by.b).toBe(CLICKS);
    expect(bridges.every((b) => (b.offline?.of([...b.portals.keys()][0] ?? '')?.requests ?? 0) > 0)).toBe(
      true,
    );
  }, 60_000);
});

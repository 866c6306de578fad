/**
 * Several instances on one PostgreSQL share what the admin UI changes: a person logged in through
 * one instance is logged in at every other (a balancer need not be sticky), and a queue edited
 * through one is what every instance routes by within 2 s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from 'b24-emulator';
import { startBridge, type Bridge } from '../../src/bridge/index.ts';
import { parseConfig } from '../../src/config/index.ts';
import { databaseUrl, freshSchemaName, skipMessage, sql } from '../store/pg.ts';
import { waitFor } from '../e2e/processes.ts';

if (databaseUrl === undefined) console.warn(skipMessage);

const PASSWORD = 'shared-admin-password';

describe.skipIf(databaseUrl === undefined)('admin state shared by instances on PostgreSQL', () => {
  const schema = freshSchemaName();
  let emulator: Emulator;
  const bridges: Bridge[] = [];

  beforeAll(async () => {
    await sql(`CREATE SCHEMA ${schema}`);
    emulator = await startEmulator({ port: 0 });
    const url = new URL(databaseUrl ?? '');
    url.searchParams.set('options', `-c search_path=${schema}`);
    const parsed = parseConfig({
      bitrix: { mode: 'webhook', url: emulator.webhookUrl },
      pbx: [{ id: 'office', token: 'office-token-0123456789' }],
      admin: { password: PASSWORD },
      store: { kind: 'postgres', url: url.toString() },
    });
    if (!parsed.ok) throw parsed.error;
    for (let i = 0; i < 2; i++)
      bridges.push(await startBridge(structuredClone(parsed.config), { port: 0, warn: () => undefined }));
  });

  afterAll(async () => {
    for (const b of bridges) await b.close();
    await emulator.close();
    await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  const [a, b] = [0, 1].map((i) => () => {
    const bridge = bridges[i];
    if (!bridge) throw new Error('the bridges did not start');
    return bridge.url;
  }) as [() => string, () => string];

  async function login(base: string): Promise<string> {
    const res = await fetch(`${base}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base },
      body: new URLSearchParams({ password: PASSWORD, next: '/' }).toString(),
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    const cookie = res.headers.get('set-cookie')?.split(';')[0];
    if (cookie === undefined) throw new Error('no session cookie');
    return cookie;
  }

  it('knows a session started at another instance, and ends it everywhere at logout', async () => {
    const cookie = await login(a());
    for (const base of [a(), b()]) {
      const res = await fetch(`${base}/api/queues`, { headers: { cookie } });
      expect(res.status, base).toBe(200);
    }
    const out = await fetch(`${b()}/logout`, {
      method: 'POST',
      headers: { cookie, origin: b() },
      redirect: 'manual',
    });
    expect(out.status).toBe(303);
    expect((await fetch(`${a()}/api/queues`, { headers: { cookie } })).status).toBe(401);
  });

  it('routes by a queue edited through another instance within 2 s', async () => {
    const cookie = await login(a());
    const edit = await fetch(`${a()}/api/queues/support`, {
      method: 'PUT',
      headers: { cookie, origin: a(), 'content-type': 'application/json' },
      body: JSON.stringify({ members: ['103', '101'], strategy: 'sequential', memberTimeoutSec: 7 }),
    });
    expect(edit.status, await edit.clone().text()).toBe(200);
    const started = Date.now();
    // The other instance's queues, and the plan it answers a PBX with, follow the edit.
    await waitFor(
      'the edit at the other instance',
      async () => {
        const { queues } = (await (await fetch(`${b()}/api/queues`, { headers: { cookie } })).json()) as {
          queues: { id: string; members: string[] }[];
        };
        return queues.find((q) => q.id === 'support')?.members.join(',') === '103,101' ? true : undefined;
      },
      3_000,
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    const route = await fetch(`${b()}/pbx/v1/route`, {
      method: 'POST',
      headers: { authorization: 'Bearer office-token-0123456789', 'content-type': 'application/json' },
      body: JSON.stringify({ callId: 'shared-1', from: '+79035550101', to: '+74950000002' }),
    });
    expect(route.status, await route.clone().text()).toBe(200);
    const { plan } = (await route.json()) as { plan: { extensions: string[]; timeoutSec: number }[] };
    expect(plan[0]).toEqual({ extensions: ['103'], timeoutSec: 7 });
  });
});

/**
 * Several instances in front of one Asterisk: only the leader (an advisory lock on PostgreSQL)
 * holds the AMI connection, a command decided at another instance reaches the PBX through the
 * leader, and when the leader goes another instance connects within 5 s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from 'b24-emulator';
import { startBridge, type Bridge } from '../../src/bridge/index.ts';
import { parseConfig, type BridgeConfig } from '../../src/config/index.ts';
import { FakeAmi } from '../pbx/asterisk/fake-ami.ts';
import { databaseUrl, freshSchemaName, skipMessage, sql } from '../store/pg.ts';
import { waitFor } from './processes.ts';

if (databaseUrl === undefined) console.warn(skipMessage);

describe.skipIf(databaseUrl === undefined)('one AMI connection per PBX across instances', () => {
  const schema = freshSchemaName();
  let emulator: Emulator;
  let ami: FakeAmi;
  let config: BridgeConfig;
  const bridges: Bridge[] = [];

  beforeAll(async () => {
    await sql(`CREATE SCHEMA ${schema}`);
    emulator = await startEmulator({ port: 0 });
    ami = await FakeAmi.start();
    const url = new URL(databaseUrl ?? '');
    url.searchParams.set('options', `-c search_path=${schema}`);
    const parsed = parseConfig({
      bitrix: { mode: 'webhook', url: emulator.webhookUrl },
      pbx: [
        {
          id: 'asterisk',
          token: 'asterisk-pbx-token-1',
          kind: 'asterisk',
          ami: { host: '127.0.0.1', port: ami.port, username: 'bridge', secret: 'amisecret' },
        },
      ],
      store: { kind: 'postgres', url: url.toString() },
    });
    if (!parsed.ok) throw parsed.error;
    config = parsed.config;
  });

  afterAll(async () => {
    for (const b of bridges) await b.close().catch(() => undefined);
    await ami.close();
    await emulator.close();
    await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  const start = async (): Promise<Bridge> => {
    const bridge = await startBridge(structuredClone(config), { port: 0, warn: () => undefined });
    bridges.push(bridge);
    return bridge;
  };

  it('logs in once, relays a follower’s command to the leader, and fails over within 5 s', async () => {
    const firstLogin = new Promise<void>((resolve) => ami.once('login', () => resolve()));
    const leader = await start();
    await firstLogin;
    const follower = await start();
    // The follower has tried the lock by now (it tries at start and every second): still one login.
    await new Promise((r) => setTimeout(r, 1500));
    expect(ami.logins).toBe(1);

    // A click-to-call decided at the follower rings the agent through the leader's connection.
    const originate = ami.nextAction('Originate', ami.actions.length);
    follower.server.router.dispatch(
      [
        {
          type: 'pbx.originate',
          commandId: 'relay-1',
          callKey: 'relay-call@1',
          callId: 'relay-call',
          extension: '101',
          number: '+79035550199',
        },
      ],
      'asterisk',
    );
    expect((await originate).Action).toBe('Originate');

    const gone = Date.now();
    const takeover = new Promise<void>((resolve) => ami.once('login', () => resolve()));
    await leader.close();
    await takeover;
    expect(Date.now() - gone).toBeLessThan(5_000);
    await waitFor('one login after the takeover', () => Promise.resolve(ami.logins === 2 ? true : undefined));
  });
});

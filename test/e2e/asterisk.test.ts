/**
 * The bridge with an Asterisk in its configuration, in process: a fake AMI replaying the real
 * captures plays the PBX, the emulator plays the portal. A call on the Asterisk lands in the CRM
 * with its card shown to the phone that rang, and a click in the CRM rings the agent's phone
 * through AMI Originate and is logged under the portal's own call.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator } from 'b24-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../../src/bridge/index.ts';
import { demoDocument, parseConfig } from '../../src/config/index.ts';
import { captureMessages, FakeAmi } from '../pbx/asterisk/fake-ami.ts';
import { fakeAmiSettings } from '../pbx/asterisk/helpers.ts';
import { waitFor } from './processes.ts';

interface EmulatorCall {
  callId: string;
  externalCallId: string | null;
  userId: number;
  phoneNumber: string;
  type: number;
  finished: boolean;
  statusCode: string | null;
  recordings: { filename: string }[];
}

let emulator: Emulator;
let bridge: Bridge;
let ami: FakeAmi;
let dir = '';
/** Where "the PBX" serves its MixMonitor files (`recordings.urlBase`). */
let monitor: Server;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'b24-asterisk-'));
  ami = await FakeAmi.start();
  monitor = createServer((_req, res) => res.end(Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt ')));
  await new Promise<void>((resolve) => monitor.listen(0, '127.0.0.1', resolve));
  const monitorUrl = `http://127.0.0.1:${String((monitor.address() as AddressInfo).port)}/monitor`;
  emulator = await startEmulator({ port: 0 });
  const doc = demoDocument({
    clientId: 'local.asterisk',
    clientSecret: 'asterisk-client-secret-0123',
    oauthUrl: `${emulator.url}/oauth/token/`,
    simulator: false,
    sqlitePath: join(dir, 'bridge.sqlite'),
  });
  const parsed = parseConfig({
    ...doc,
    bitrix: { ...doc.bitrix, retry: { maxAttempts: 2, minDelayMs: 10, maxDelayMs: 50 } },
    pbx: [
      {
        id: 'asterisk',
        token: 'asterisk-pbx-token-1',
        kind: 'asterisk',
        ami: {
          ...fakeAmiSettings(ami),
          // The captures' phones are Local channels (see test/fixtures/asterisk-ami/README.md).
          devicePattern: ['Local/{ext}@sim-phones', 'PJSIP/{ext}'],
          recordings: { urlBase: monitorUrl },
        },
      },
    ],
    engine: { lines: [], recording: { maxWaitSec: 3, hideGraceSec: 0 } },
  });
  if (!parsed.ok) throw parsed.error;
  const login = new Promise<void>((resolve) => ami.once('login', () => resolve()));
  bridge = await startBridge(
    { ...parsed.config, server: { ...parsed.config.server, publicUrl: undefined } },
    { port: 0, host: '127.0.0.1', warn: () => undefined },
  );
  await login;
  const res = await fetch(`${emulator.url}/_emulator/apps`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      clientId: 'local.asterisk',
      clientSecret: 'asterisk-client-secret-0123',
      installUrl: `${bridge.url}/bitrix/install`,
      scopes: ['telephony', 'crm', 'user'],
    }),
  });
  expect(res.status).toBe(201);
  await waitFor('the portal connected', () => Promise.resolve(bridge.portals.size === 1 ? true : undefined));
});

afterAll(async () => {
  await bridge.close();
  await emulator.close();
  await ami.close();
  await new Promise((resolve) => monitor.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const calls = async (): Promise<EmulatorCall[]> =>
  (await (await fetch(`${emulator.url}/_emulator/calls`)).json()) as EmulatorCall[];

describe('an Asterisk over AMI, end to end', () => {
  it('logs an inbound call answered on 101 to Anna (user 2), once', async () => {
    const cards: number[] = [];
    emulator.portal.on('card', (c: { userId: number; shown?: boolean }) => cards.push(c.userId));
    ami.send(captureMessages('01-inbound-direct'));
    const call = await waitFor('the call finished in the portal', async () =>
      (await calls()).find((c) => c.externalCallId?.startsWith('1795475626.0@') === true && c.finished),
    );
    expect(call).toMatchObject({ userId: 2, phoneNumber: '+79161234567', type: 2, statusCode: '200' });
    expect(cards).toContain(2);
    expect(
      (await calls()).filter((c) => c.externalCallId?.startsWith('1795475626.0@') === true),
    ).toHaveLength(1);
  });

  it("a click in the CRM rings 101 with AMI Originate, and the call is logged under the portal's call", async () => {
    const originate = ami.nextAction('Originate', ami.actions.length);
    ami.handlers.set('Originate', (action) => {
      const id = action.ChannelId ?? '';
      ami.send(
        captureMessages('07-click-to-call').map((m) =>
          m
            .replaceAll('ActionID: cap-9', `ActionID: ${action.ActionID ?? ''}`)
            .replaceAll('c2c-0001-a', id)
            .replaceAll('c2c-0001-b', `${id}-2`),
        ),
      );
    });
    const res = await fetch(`${emulator.url}/_emulator/click-to-call`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 2, phoneNumber: '+74957654321' }),
    });
    expect(res.status).toBe(200);
    const { callId } = (await res.json()) as { callId: string };
    expect(await originate).toMatchObject({
      Channel: 'Local/101@sim-phones',
      Exten: '+74957654321',
      Async: 'true',
    });
    const call = await waitFor('the click-to-call finished with its recording', async () =>
      (await calls()).find((c) => c.callId === callId && c.finished && c.recordings.length > 0),
    );
    expect(call).toMatchObject({ userId: 2, phoneNumber: '+74957654321', statusCode: '200' });
    expect(call.recordings[0]?.filename).toMatch(/^20261123-231511-101-74957654321-b24-[0-9a-f]+\.wav$/);
  });

  it('shows the AMI link on its own /metrics: 1 while up, 0 once it dropped', async () => {
    const sample = async (): Promise<string | undefined> =>
      /^b24_bridge_ami_connected\{pbx="asterisk"\} (\d)$/m.exec(
        await (await fetch(`${bridge.url}/metrics`)).text(),
      )?.[1];
    expect(await waitFor('the AMI gauge up', async () => ((await sample()) === '1' ? true : undefined))).toBe(
      true,
    );
    ami.drop();
    await waitFor('the AMI gauge down', async () => ((await sample()) === '0' ? true : undefined));
    await waitFor('the AMI gauge up again after the reconnect', async () =>
      (await sample()) === '1' ? true : undefined,
    );
  });
});

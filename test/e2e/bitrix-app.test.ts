/**
 * The Bitrix24 application end to end, every piece a real process talking HTTP: click-to-call
 * through the demo's simulated PBX (S4), and one bridge serving two portals whose calls never
 * cross.
 */
import { createServer, type Server } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  freePort,
  installBridge,
  startBridgeProcess,
  startDemoProcess,
  startEmulatorProcess,
  stop,
  stopProcess,
  tempDir,
  waitFor,
  writeBridgeConfig,
  type DemoProcess,
  type EmulatorCall,
  type EmulatorProcess,
  type Spawned,
} from './processes.ts';

interface FinishedCall extends EmulatorCall {
  callListId: number | null;
  phoneNumber: string;
  type: number;
  recordings: unknown[];
}

describe('S4 click-to-call through the simulated PBX', () => {
  let demo: DemoProcess | undefined;
  afterAll(async () => {
    await stopProcess(demo?.child);
  });

  it('a click in the CRM rings the user, dials the number, and ends finished with its CALL_LIST_ID', async () => {
    demo = await startDemoProcess(['--port', '0', '--emulator-port', '0']);
    const res = await fetch(`${demo.emulatorUrl}/_emulator/click-to-call`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 3, phoneNumber: '+79167770011', callListId: 42, wait: true }),
    });
    const { callId, deliveries } = (await res.json()) as {
      callId: string;
      deliveries: { event: string; status: number }[];
    };
    expect(deliveries).toMatchObject([{ event: 'ONEXTERNALCALLSTART', status: 200 }]);
    const emulatorUrl = demo.emulatorUrl;
    // The simulator's agent answers, talks, hangs up; the recording comes; the call is finished.
    const done = await waitFor(
      'the click-to-call finished with its recording',
      async () => {
        const calls = (await (await fetch(`${emulatorUrl}/_emulator/calls`)).json()) as FinishedCall[];
        const call = calls.find((c) => c.callId === callId);
        return call?.finished === true ? call : undefined;
      },
      60_000,
    );
    expect(done).toMatchObject({ callListId: 42, userId: 3, type: 1 });
  }, 90_000);
});

/**
 * The OAuth server of the Bitrix24 cloud serves every portal; here each emulator has its own, so
 * this stands in front of both: a refresh token unknown to one is tried at the other.
 */
async function sharedOAuth(emulators: readonly EmulatorProcess[]): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      void (async () => {
        let last: { status: number; text: string } = { status: 400, text: '{"error":"invalid_grant"}' };
        for (const e of emulators) {
          const r = await fetch(`${e.url}/oauth/token/`, {
            method: 'POST',
            headers: { 'content-type': req.headers['content-type'] ?? 'application/x-www-form-urlencoded' },
            body,
          });
          last = { status: r.status, text: await r.text() };
          if (r.ok) break;
        }
        res.writeHead(last.status, { 'content-type': 'application/json' });
        res.end(last.text);
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { url: `http://127.0.0.1:${String(port)}/oauth/token/`, server };
}

describe('two portals on one bridge', () => {
  const spawned: Spawned[] = [];
  let oauth: Server | undefined;
  let cleanup: (() => void) | undefined;
  afterEach(async () => {
    for (const p of spawned.reverse()) await stop(p);
    oauth?.close();
    cleanup?.();
  });

  it('keeps each PBX’s calls on its own portal', async () => {
    const a = await startEmulatorProcess();
    const b = await startEmulatorProcess();
    spawned.push(a, b);
    await b.control('settings', { memberId: 'emulator-member-2' });
    const shared = await sharedOAuth([a, b]);
    oauth = shared.server;
    const tmp = tempDir('b24-two-portals-');
    cleanup = tmp.cleanup;
    const setup = writeBridgeConfig(a.url, tmp.dir, await freePort());
    const doc = JSON.parse(readFileSync(setup.configPath, 'utf8')) as Record<string, unknown>;
    (doc.bitrix as Record<string, unknown>).oauthUrl = shared.url;
    doc.pbx = [
      { id: 'office-a', token: 'token-office-a-0123456789', portal: 'emulator-member-1' },
      { id: 'office-b', token: 'token-office-b-0123456789', portal: 'emulator-member-2' },
      { id: 'stray', token: 'token-stray-pbx-0123456789' },
    ];
    writeFileSync(setup.configPath, JSON.stringify(doc), { mode: 0o600 });
    const bridge = await startBridgeProcess(setup);
    spawned.push(bridge);
    expect(await installBridge(a, setup)).toBe('emulator-member-1');
    expect(await installBridge(b, setup)).toBe('emulator-member-2');

    const send = (token: string, events: unknown) =>
      fetch(`${bridge.url}/pbx/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(events),
      });
    const call = (callId: string, from: string, ext: string) => {
      const t = Date.now() - 60_000;
      const iso = (s: number) => new Date(t + s * 1000).toISOString();
      return [
        { type: 'call.started', callId, direction: 'inbound', from, to: ext, at: iso(0) },
        { type: 'call.ringing', callId, extensions: [ext], at: iso(1) },
        { type: 'call.answered', callId, extension: ext, at: iso(5) },
        { type: 'call.ended', callId, reason: 'completed', at: iso(35) },
      ];
    };
    // The same PBX call id on both PBXes: still two calls, one per portal.
    expect((await send('token-office-a-0123456789', call('shared-1', '+79031110001', '101'))).status).toBe(
      202,
    );
    expect((await send('token-office-b-0123456789', call('shared-1', '+79031110002', '102'))).status).toBe(
      202,
    );
    expect((await send('token-office-a-0123456789', call('only-a', '+79031110003', '103'))).status).toBe(202);
    // A PBX assigned to no portal, while there are two: refused rather than guessed.
    const stray = await send('token-stray-pbx-0123456789', call('stray-1', '+79031110004', '101'));
    expect(stray.status).toBe(503);

    const finished = (e: EmulatorProcess) =>
      e.inspect<FinishedCall[]>('calls').then((calls) => calls.filter((c) => c.finished));
    await waitFor('both portals logged their calls', async () =>
      (await finished(a)).length === 2 && (await finished(b)).length === 1 ? true : undefined,
    );
    const numbers = async (e: EmulatorProcess) => (await finished(e)).map((c) => c.phoneNumber).sort();
    expect(await numbers(a)).toEqual(['+79031110001', '+79031110003']);
    expect(await numbers(b)).toEqual(['+79031110002']);
  }, 60_000);
});

describe('a click-to-call across a crash of the bridge', () => {
  const spawned: Spawned[] = [];
  let cleanup: (() => void) | undefined;
  afterEach(async () => {
    for (const p of spawned.reverse()) await stop(p);
    cleanup?.();
  });

  it('is originated again after a SIGKILL, under the same commandId', async () => {
    const emulator = await startEmulatorProcess();
    spawned.push(emulator);
    const tmp = tempDir('b24-c2c-crash-');
    cleanup = tmp.cleanup;
    const setup = writeBridgeConfig(emulator.url, tmp.dir, await freePort());
    const first = await startBridgeProcess(setup);
    spawned.push(first);
    await installBridge(emulator, setup);
    await emulator.control('click-to-call', { userId: 2, phoneNumber: '+79165550101', wait: true });
    // The bridge dies before the PBX fetched the command it queued.
    await stop(first, 'SIGKILL');
    const second = await startBridgeProcess(setup);
    spawned.push(second);
    const res = await fetch(`${second.url}/pbx/v1/commands?wait=5`, {
      headers: { authorization: 'Bearer demo-token' },
    });
    const commands = (await res.json()) as {
      commandId: string;
      type: string;
      extension: string;
      number: string;
    }[];
    expect(commands).toMatchObject([{ type: 'originate', extension: '101', number: '+79165550101' }]);
    expect(commands[0]!.commandId).toMatch(/\S/);
  }, 60_000);
});

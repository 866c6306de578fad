/**
 * What outbound-only mode (`bitrix.events: "offline"`) costs in requests: the reads of the
 * portal's offline event queue per minute while nothing happens, and while a call is live (a click
 * came; the bridge reads at the live pace). Counted by the emulated portal, which cannot reach the
 * bridge at all; the bridge is installed from its app page as an administrator's browser would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from 'b24-emulator';
import { startBridge } from '../src/bridge/index.ts';
import { demoDocument, parseConfig } from '../src/config/index.ts';
import { sleep } from './util.ts';

export interface OfflinePollResult {
  idlePerMin: number;
  inCallPerMin: number;
  seconds: number;
}

const CLIENT_ID = 'local.bench.offline';
const CLIENT_SECRET = 'bench-offline-secret-0123456789';

export async function offlinePoll(seconds: number): Promise<OfflinePollResult> {
  const emulator = await startEmulator({ port: 0 });
  const dir = mkdtempSync(join(tmpdir(), 'b24-bench-offline-'));
  try {
    const control = async (path: string, body: unknown): Promise<unknown> => {
      const res = await fetch(`${emulator.url}/_emulator/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return res.json();
    };
    const doc = demoDocument({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      oauthUrl: `${emulator.url}/oauth/token/`,
      port: 3000,
      simulator: false,
      sqlitePath: join(dir, 'bridge.sqlite'),
    });
    // The defaults: the bench measures what an office gets out of the box.
    const parsed = parseConfig({ ...doc, server: { host: '127.0.0.1', port: 3000 } });
    if (!parsed.ok) throw parsed.error;
    const bridge = await startBridge(parsed.config, { port: 0, host: '127.0.0.1', warn: () => undefined });
    try {
      await control('settings', { unreachableApp: true });
      await control('apps', {
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        installUrl: `${bridge.url}/bitrix/install`,
        installFinish: 'manual',
        scopes: ['telephony', 'crm', 'user'],
      });
      const opening = (await control(`apps/${CLIENT_ID}/open`, { userId: 1 })) as {
        query: Record<string, string>;
        form: Record<string, string>;
      };
      const page = await fetch(
        `${bridge.url}/bitrix/install?${new URLSearchParams(opening.query).toString()}`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(opening.form).toString(),
        },
      );
      if (!page.ok) throw new Error(`install from the page failed: ${page.status}`);
      await control(`apps/${CLIENT_ID}/install-finish`, {});
      let reads = 0;
      emulator.portal.on('request', (entry) => {
        if (entry.method.toLowerCase().startsWith('event.offline.')) reads++;
      });
      const window = async (): Promise<number> => {
        const before = reads;
        await sleep(seconds * 1000);
        return ((reads - before) * 60) / seconds;
      };
      // Idle: nothing happened since the install's first reads.
      await sleep(500);
      const idlePerMin = await window();
      // A click: the call is live from now on, its record read and cleared like any other.
      await control('click-to-call', { userId: 2, phoneNumber: '+79161112233' });
      const inCallPerMin = await window();
      return { idlePerMin, inCallPerMin, seconds };
    } finally {
      await bridge.close();
    }
  } finally {
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

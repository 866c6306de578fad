/**
 * What a phase of the bench runs against: a fresh emulator process (the bench office's seed) and
 * either the bridge or the naive baseline as a process of its own, installed into the portal.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emulatorBin, spawnListening, stop, waitFor, type Spawned } from '../test/e2e/processes.ts';
import { forkChild, type Child } from './ipc.ts';
import { writeBridgeConfig, writeSeed, type BridgeShape } from './office.ts';

export type TargetKind = 'bridge' | 'naive';

export interface RequestLogEntry {
  at: string;
  method: string;
  batch: boolean;
  commands: string[];
  status: number;
  error: string | null;
  commandErrors: string[];
}

export interface CardLogEntry {
  at: number;
  action: 'show' | 'hide';
  userId: number;
  callId: string;
  phoneNumber: string;
}

export interface EmulatorCall {
  callId: string;
  externalCallId: string | null;
  userId: number;
  phoneNumber: string;
  shown: boolean;
  finished: boolean;
  duration: number | null;
  statusCode: string | null;
  recordings: unknown[];
}

export interface Emulator {
  url: string;
  inspect<T>(path: string): Promise<T>;
  control(path: string, body: unknown, method?: string): Promise<unknown>;
  /** Requests logged so far: a mark to count from. */
  mark(): Promise<number>;
  requestsSince(mark: number): Promise<RequestLogEntry[]>;
  stop(): Promise<void>;
}

export interface Target {
  kind: TargetKind;
  /** Where the PBX sends its events (`/pbx/v1/events`). */
  url: string;
  emulator: Emulator;
  child: Child;
  /** The bridge's SQLite file (the naive baseline has none). */
  sqlitePath: string;
  stop(): Promise<void>;
}

async function startEmulator(seedPath: string): Promise<Emulator> {
  const p: Spawned & { url: string } = await spawnListening(
    process.execPath,
    [emulatorBin, '--port', '0', '--seed', seedPath],
    /listening on (http:\/\/\S+)/,
    { timeoutMs: 30_000 },
  );
  const base = `${p.url}/_emulator/`;
  const inspect = async <T>(path: string): Promise<T> => {
    const res = await fetch(base + path);
    if (!res.ok) throw new Error(`GET /_emulator/${path}: ${res.status}`);
    return (await res.json()) as T;
  };
  return {
    url: p.url,
    inspect,
    control: async (path, body, method = 'POST') => {
      const res = await fetch(base + path, {
        method,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${method} /_emulator/${path}: ${res.status} ${await res.text()}`);
      return res.json();
    },
    mark: async () => (await inspect<unknown[]>('requests')).length,
    requestsSince: (mark) => inspect<RequestLogEntry[]>(`requests?since=${mark}`),
    stop: () => stop(p),
  };
}

export interface TargetOptions extends BridgeShape {
  kind: TargetKind;
  /** Start with an empty bucket: wait for the install's requests to drain. */
  drain?: boolean;
  /** Environment of the bridge process (diagnostics). */
  env?: NodeJS.ProcessEnv;
}

/** Starts the emulator and the target, and installs it. */
export async function startTarget(options: TargetOptions): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), `b24-bench-${options.kind}-`));
  const emulator = await startEmulator(writeSeed(dir));
  let child: Child | undefined;
  try {
    if (options.rateLimit === null)
      await emulator.control('faults', { rateLimit: { rate: 1_000_000, burst: 1_000_000 } });
    if (options.kind === 'bridge') {
      const setup = writeBridgeConfig(emulator.url, dir, options);
      child = await forkChild('bridge-child.ts', [setup.configPath], {
        env: { ...process.env, ...(options.env ?? {}) },
      });
      if (options.events === 'offline') await installFromPage(emulator, child.ready.url ?? '', setup);
      else {
        const installed = (await emulator.control('apps', {
          clientId: setup.clientId,
          clientSecret: setup.clientSecret,
          name: 'b24-bridge (bench)',
          installUrl: `${child.ready.url ?? ''}/bitrix/install`,
          scopes: ['telephony', 'crm', 'user'],
        })) as { installCallback?: { status: number | null } };
        if (installed.installCallback?.status !== 200)
          throw new Error(`the install callback failed: ${JSON.stringify(installed.installCallback)}`);
      }
      const bridge = child;
      await waitFor('the bridge connected to the portal', async () =>
        (await bridge.ask<unknown[]>('portals')).length > 0 ? true : undefined,
      );
    } else {
      const installed = (await emulator.control('apps', {
        clientId: 'local.naive.bench',
        name: 'the naive PHP way (bench)',
        scopes: ['telephony', 'crm', 'user'],
      })) as { accessToken?: string };
      if (installed.accessToken === undefined) throw new Error('the naive app got no access token');
      child = await forkChild('naive-child.ts', [emulator.url, installed.accessToken]);
    }
    if (options.drain === true) await drained(emulator);
  } catch (e) {
    await child?.stop();
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const running = child;
  return {
    kind: options.kind,
    url: running.ready.url ?? '',
    sqlitePath: join(dir, 'bridge.sqlite'),
    emulator,
    child: running,
    stop: async () => {
      await running.stop();
      await emulator.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Outbound-only: the portal refuses every delivery to the bridge (`unreachableApp`), so the
 * install completes from the app page, as the administrator's browser on the office network does
 * it: the page (with the tokens the portal hands it) posted to the bridge, then
 * `BX24.installFinish()`.
 */
async function installFromPage(
  emulator: Emulator,
  bridgeUrl: string,
  app: { clientId: string; clientSecret: string },
): Promise<void> {
  await emulator.control('settings', { unreachableApp: true });
  await emulator.control('apps', {
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    name: 'b24-bridge (bench, outbound-only)',
    installUrl: `${bridgeUrl}/bitrix/install`,
    installFinish: 'manual',
    scopes: ['telephony', 'crm', 'user'],
  });
  const opening = (await emulator.control(`apps/${app.clientId}/open`, { userId: 1 })) as {
    query: Record<string, string>;
    form: Record<string, string>;
  };
  const page = await fetch(`${bridgeUrl}/bitrix/install?${new URLSearchParams(opening.query).toString()}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(opening.form).toString(),
  });
  await page.arrayBuffer();
  if (!page.ok) throw new Error(`the install from the app page failed: ${page.status}`);
  await emulator.control(`apps/${app.clientId}/install-finish`, {});
}

/**
 * Waits until the portal's bucket is empty: a phase starts with the whole burst. Empty, not nearly:
 * what the install left in it is not in the bridge's mirror (another client verified the install),
 * and a remainder would stay between the two levels for as long as neither bucket runs dry.
 */
export async function drained(emulator: Emulator, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    'the portal bucket to drain',
    async () => ((await emulator.inspect<{ level: number }>('limits')).level < 0.01 ? true : undefined),
    timeoutMs,
  );
}

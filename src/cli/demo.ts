/**
 * `b24-bridge demo`: the emulated portal (in this process), the bridge on a fresh SQLite file, and
 * the bridge installed into the portal as an application through the real install flow.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type AppInstallation } from 'b24-emulator';
import { startBridge, type Bridge } from '../bridge/index.ts';
import { ConfigError, DEMO_PBX_TOKEN, demoDocument, parseConfig } from '../config/index.ts';
import { startSimulator, type Simulator } from 'b24-pbx-simulator';
import type { BridgeOptions } from '../bridge/index.ts';
import { watchCalls } from './call-feed.ts';

/** The admin UI's password in the demo, printed at start; a real installation sets its own. */
export const DEMO_ADMIN_PASSWORD = 'demo-admin';

export interface DemoOptions {
  port: number;
  emulatorPort: number;
  simulator: boolean;
  host?: string;
  /** Secrets to use instead of the demo's own (the log-scan test sets them, so it knows them). */
  secrets?: { clientSecret?: string; adminPassword?: string; pbxToken?: string } | undefined;
  /** How the portal's events reach the bridge; default: posted (push), the portal is on this host. */
  events?: 'offline' | 'push' | undefined;
  /** How the bridge logs (the CLI gives it its logger). */
  bridge?: Pick<BridgeOptions, 'loggerInstance' | 'warn' | 'secrets'> | undefined;
}

export interface Demo {
  bridge: Bridge;
  emulatorUrl: string;
  simulator: Simulator | null;
  close(): Promise<void>;
}

/** Enough calls that a person watching the emulator's page sees cards pop within a minute. */
const DEMO_CALLS_PER_MINUTE = 5;

export async function startDemo(options: DemoOptions): Promise<Demo> {
  const host = options.host ?? '127.0.0.1';
  const emulator = await startEmulator({ port: options.emulatorPort, host });
  let bridge: Bridge | undefined;
  let simulator: Simulator | null = null;
  let stream: { stop(): void } | null = null;
  try {
    const clientId = 'local.b24bridge.demo';
    const clientSecret = options.secrets?.clientSecret ?? randomBytes(24).toString('hex');
    const pbxToken = options.secrets?.pbxToken ?? DEMO_PBX_TOKEN;
    // A fresh database each run: the emulated portal starts empty each run too.
    const dir = mkdtempSync(join(tmpdir(), 'b24-bridge-demo-'));
    const document = demoDocument({
      clientId,
      clientSecret,
      oauthUrl: `${emulator.url}/oauth/token/`,
      // The schema wants a real port; 0 (any free one) is passed to the listener below.
      port: options.port === 0 ? 3000 : options.port,
      simulator: options.simulator,
      sqlitePath: join(dir, 'demo.sqlite'),
    });
    const parsed = parseConfig({
      ...document,
      pbx: document.pbx.map((p) => ({
        ...p,
        token: pbxToken,
        // The simulated PBX serves its recordings where the demo listens: a loopback, allowed by name.
        ...(p.kind === 'simulator' ? { recordingHosts: [...new Set([host, '127.0.0.1', 'localhost'])] } : {}),
      })),
      admin: { password: options.secrets?.adminPassword ?? DEMO_ADMIN_PASSWORD },
    });
    if (!parsed.ok) throw parsed.error;
    // Port 0: the public URL is not known before listening; the bridge then uses where it listens
    // (the portal downloads uploaded recordings from it, and posts its events there: push).
    const base =
      options.port === 0
        ? { ...parsed.config, server: { ...parsed.config.server, publicUrl: undefined } }
        : parsed.config;
    const events = options.events ?? (options.port === 0 ? 'push' : undefined);
    const config =
      events !== undefined && base.bitrix.mode === 'app'
        ? { ...base, bitrix: { ...base.bitrix, events } }
        : base;
    bridge = await startBridge(config, { ...(options.bridge ?? {}), port: options.port, host });
    const res = await fetch(`${emulator.url}/_emulator/apps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        clientId,
        clientSecret,
        name: 'b24-bridge (demo)',
        installUrl: `${bridge.url}/bitrix/install`,
        scopes: ['telephony', 'crm', 'user'],
      }),
    });
    const installed = (await res.json()) as Partial<AppInstallation>;
    const status = installed.installCallback?.status;
    if (!res.ok || status !== 200)
      throw new ConfigError('CONFIG_INVALID', [
        {
          key: '',
          message: `the emulated portal could not install the bridge (install callback: ${String(status ?? installed.installCallback?.error ?? res.status)})`,
        },
      ]);
    // The emulator's page links each call to its timeline in the bridge's journal.
    await fetch(`${emulator.url}/_emulator/settings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ callLinkTemplate: `${bridge.url}/journal/{externalCallId}` }),
    });
    if (options.simulator) {
      // The simulated office speaks the public PBX API over HTTP, like any PBX would. Short talks
      // and few calls at once keep agents coming free, so a watcher sees every scenario soon.
      simulator = await startSimulator({
        bridgeUrl: bridge.url,
        token: pbxToken,
        recordings: { host },
        talkSec: [8, 25],
        recordingDelaySec: [1, 4],
      });
      stream = simulator.steadyStream({ callsPerMinute: DEMO_CALLS_PER_MINUTE, maxConcurrentCalls: 2 });
    }
  } catch (e) {
    stream?.stop();
    await simulator?.stop();
    await bridge?.close();
    await emulator.close();
    throw e;
  }
  const running = bridge;
  const sim = simulator;
  const calls = stream;
  return {
    bridge: running,
    emulatorUrl: emulator.url,
    simulator: sim,
    close: async () => {
      calls?.stop();
      await sim?.stop();
      await running.close();
      await emulator.close();
    },
  };
}

/** What the demo prints; tests read the URLs from these lines, so their wording is a contract. */
export function demoBanner(demo: Demo, simulatorAsked: boolean): string[] {
  // Only the demo's own, public values are printed; secrets given from outside never are.
  const password = demo.bridge.config.admin.password;
  const token = demo.bridge.config.pbx[0]?.token;
  return [
    `b24-bridge demo is running`,
    `  admin:    ${demo.bridge.url}/ (password: ${password === DEMO_ADMIN_PASSWORD ? DEMO_ADMIN_PASSWORD : 'as given in B24_BRIDGE_ADMIN_PASSWORD'})`,
    `  emulator: ${demo.emulatorUrl}/_emulator/`,
    `  PBX API:  ${demo.bridge.url}/pbx/v1 (Authorization: Bearer ${token === DEMO_PBX_TOKEN ? DEMO_PBX_TOKEN : 'the token given'})`,
    simulatorAsked && demo.simulator
      ? `  PBX simulator: about ${DEMO_CALLS_PER_MINUTE} calls a minute from known and unknown callers`
      : '  no simulator: the PBX is whoever calls the API; commands wait at GET /pbx/v1/commands',
  ];
}

/** One short line per call event of the demo's portal (`call-feed.ts`), for a person at a terminal. */
export function watchDemoCalls(demo: Demo, print: (line: string) => void): () => void {
  const stops = [...demo.bridge.portals.values()].map((runtime) => watchCalls(runtime, print));
  return () => {
    for (const stop of stops) stop();
  };
}

/**
 * The emulator and the bridge as real processes, for the end-to-end tests of the outbox:
 * each test spawns `node emulator/bin/b24-emulator.js` and `node bin/b24-bridge.js serve`, installs
 * the bridge into the emulated portal through the real install flow, and plays the PBX over HTTP.
 * Nothing here sleeps for a fixed time: every wait polls a condition under a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll } from 'vitest';
import { DEMO_PBX_TOKEN, demoDocument, type BridgeConfigInput } from '../../src/config/index.ts';

export const bridgeBin = fileURLToPath(new URL('../../bin/b24-bridge.js', import.meta.url));
export const emulatorBin = fileURLToPath(new URL('../../emulator/bin/b24-emulator.js', import.meta.url));

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** A port nobody listens on now: the bridge keeps it across restarts, as a PBX expects. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Spawned {
  child: ChildProcess;
  /** stdout and stderr so far, for failure messages. */
  output: () => string;
  /** Resolves when the process has exited (at once if it already has). */
  exited: Promise<number | null>;
}

/** Spawns and waits for the line that says where it listens; `url` is the first http URL in it. */
export async function spawnListening(
  command: string,
  args: readonly string[],
  ready: RegExp,
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Spawned & { url: string }> {
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${args.join(' ')} did not start:\n${out}`));
    }, options.timeoutMs ?? 15_000);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${String(code)}:\n${out}`));
    });
    const check = (): void => {
      const line = ready.exec(out)?.[1];
      if (line === undefined) return;
      clearTimeout(timer);
      child.stdout.off('data', check);
      resolve(line);
    };
    child.stdout.on('data', check);
  });
  return { child, url, output: () => out, exited };
}

/** Ends a process and waits for it; SIGKILL gives it no chance to tidy up, as a crash would. */
export async function stop(p: Spawned | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(signal);
  await p.exited;
}

export interface EmulatorProcess extends Spawned {
  url: string;
  inspect<T>(path: string): Promise<T>;
  control(path: string, body: unknown): Promise<unknown>;
}

export async function startEmulatorProcess(options: { seedPath?: string } = {}): Promise<EmulatorProcess> {
  const p = await spawnListening(
    process.execPath,
    [emulatorBin, '--port', '0', ...(options.seedPath === undefined ? [] : ['--seed', options.seedPath])],
    /listening on (http:\/\/\S+)/,
  );
  return {
    ...p,
    inspect: async <T>(path: string): Promise<T> => {
      const res = await fetch(`${p.url}/_emulator/${path}`);
      return (await res.json()) as T;
    },
    control: async (path: string, body: unknown): Promise<unknown> => {
      const res = await fetch(`${p.url}/_emulator/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`POST /_emulator/${path}: ${res.status} ${await res.text()}`);
      return res.json();
    },
  };
}

export interface BridgeSetup {
  dir: string;
  configPath: string;
  sqlitePath: string;
  port: number;
  url: string;
  clientId: string;
  clientSecret: string;
}

/**
 * A configuration file for a bridge on `port` against the emulator: the demo document with the
 * test office's rules. Lines are left out (calls ring the extension dialled), and calls are
 * finished at hang-up: these tests are about delivery, not about waiting for recordings.
 */
export interface BridgeConfigOverrides {
  /** Replaces the test office's `engine` section (the demo office's lines when it has none). */
  engine?: BridgeConfigInput['engine'];
  /** Replaces the one API PBX (`demo-token`). */
  pbx?: BridgeConfigInput['pbx'];
  crmIndex?: BridgeConfigInput['crmIndex'];
}

export function writeBridgeConfig(
  emulatorUrl: string,
  dir: string,
  port: number,
  overrides: BridgeConfigOverrides = {},
): BridgeSetup {
  const clientId = 'local.b24bridge.e2e';
  const clientSecret = randomBytes(24).toString('hex');
  const sqlitePath = join(dir, 'bridge.sqlite');
  const doc: BridgeConfigInput = demoDocument({
    clientId,
    clientSecret,
    oauthUrl: `${emulatorUrl}/oauth/token/`,
    port,
    simulator: false,
    sqlitePath,
  });
  // The outbox, not the client, waits out an outage: a request is tried twice, briefly, before
  // the outbox hears of the failure and turns to probing (see `bitrix.retry` in the schema).
  doc.bitrix = {
    mode: 'app',
    clientId,
    clientSecret,
    oauthUrl: `${emulatorUrl}/oauth/token/`,
    retry: { maxAttempts: 2, minDelayMs: 100, maxDelayMs: 500 },
  };
  doc.engine = overrides.engine ?? {
    defaultUserId: 1,
    lines: [],
    recording: { maxWaitSec: 0, hideGraceSec: 0 },
  };
  if (overrides.pbx !== undefined) doc.pbx = overrides.pbx;
  if (overrides.crmIndex !== undefined) doc.crmIndex = overrides.crmIndex;
  doc.logging = { level: 'warn', format: 'json' };
  const configPath = join(dir, 'bridge.json');
  writeFileSync(configPath, JSON.stringify(doc, null, 2), { mode: 0o600 });
  return { dir, configPath, sqlitePath, port, url: `http://127.0.0.1:${port}`, clientId, clientSecret };
}

/**
 * `b24-bridge serve`. `fileSizeLimitBlocks` runs it under `ulimit -f` (RLIMIT_FSIZE): a write that
 * would grow a file past the limit fails with EFBIG, as on a disk that is full; node ignores the
 * SIGXFSZ that comes with it, so the process lives on and must refuse what it cannot store.
 */
export function startBridgeProcess(
  setup: BridgeSetup,
  options: { fileSizeLimitBlocks?: number } = {},
): Promise<Spawned & { url: string }> {
  const node = [process.execPath, bridgeBin, 'serve', '--config', setup.configPath];
  const [command, ...args] =
    options.fileSizeLimitBlocks === undefined
      ? node
      : ['/bin/sh', '-c', `ulimit -f ${options.fileSizeLimitBlocks} && exec "$@"`, 'sh', ...node];
  return spawnListening(command ?? process.execPath, args, /b24-bridge listening on (http:\/\/\S+)/);
}

/** Installs the bridge into the emulated portal as an application (the portal calls it back). */
export async function installBridge(emulator: EmulatorProcess, setup: BridgeSetup): Promise<string> {
  const installed = (await emulator.control('apps', {
    clientId: setup.clientId,
    clientSecret: setup.clientSecret,
    name: 'b24-bridge (e2e)',
    installUrl: `${setup.url}/bitrix/install`,
    scopes: ['telephony', 'crm', 'user'],
  })) as { memberId?: string; installCallback?: { status: number | null; error: string | null } };
  if (installed.installCallback?.status !== 200 || installed.memberId === undefined)
    throw new Error(`the install callback failed: ${JSON.stringify(installed.installCallback)}`);
  return installed.memberId;
}

export function sendEvents(bridgeUrl: string, events: unknown): Promise<Response> {
  return fetch(`${bridgeUrl}/pbx/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${DEMO_PBX_TOKEN}` },
    body: JSON.stringify(events),
  });
}

/** The health of the bridge's portal link, or undefined while it does not answer. */
export async function linkOf(bridgeUrl: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${bridgeUrl}/healthz`);
    const body = (await res.json()) as { portals?: { link: string }[] };
    return body.portals?.[0]?.link;
  } catch {
    return undefined;
  }
}

export interface EmulatorCall {
  callId: string;
  externalCallId: string | null;
  userId: number;
  startDate: string;
  shown: boolean;
  finished: boolean;
  finishedBy: number | null;
  duration: number | null;
  statusCode: string | null;
  phoneNumber?: string;
  crmEntityType?: string | null;
  crmEntityId?: number | null;
}

export interface RequestLogEntry {
  method: string;
  batch: boolean;
  commands: string[];
  status: number;
  error: string | null;
  commandErrors: string[];
}

export const extensions = ['101', '102', '103'] as const;
/** The emulator's seed portal: Anna, Boris and Chen have these extensions. */
export const userOfExtension: Readonly<Record<string, number>> = { '101': 2, '102': 3, '103': 4 };

export interface PbxCall {
  callId: string;
  startedAt: number;
  userId: number;
  durationSec: number;
  /** The call key the bridge gives it, which the portal sees as EXTERNAL_CALL_ID. */
  externalCallId: string;
  /** started + ringing, then answered + ended: what a PBX reports at the call's two moments. */
  begin: unknown[];
  end: unknown[];
}

/**
 * An inbound call straight to an extension, with every event's own `at` so that a repeated event
 * is the same event (the bridge's dedupe key) and the duration is known: answered 5 s after the
 * start, talking 10–59 s.
 */
export function pbxCall(prefix: string, n: number, startedAt: number): PbxCall {
  const callId = `${prefix}-${n}`;
  const extension = extensions[n % extensions.length] ?? '101';
  const durationSec = 10 + (n % 50);
  const iso = (offsetMs: number): string => new Date(startedAt + offsetMs).toISOString();
  const from = `+7916${String(1_000_000 + n).padStart(7, '0')}`;
  return {
    callId,
    startedAt,
    userId: userOfExtension[extension] ?? 0,
    durationSec,
    externalCallId: `${callId}@${startedAt}`,
    begin: [
      { type: 'call.started', callId, direction: 'inbound', from, to: extension, at: iso(0) },
      { type: 'call.ringing', callId, extensions: [extension], at: iso(2000) },
    ],
    end: [
      { type: 'call.answered', callId, extension, at: iso(5000) },
      { type: 'call.ended', callId, reason: 'completed', at: iso(5000 + durationSec * 1000) },
    ],
  };
}

/**
 * The bridge's outbox entries by status, read from its SQLite file by a second connection (WAL:
 * readers never block the bridge), as `b24-bridge status` does. Zeros while the file has no table.
 */
export function entryCounts(sqlitePath: string): Record<string, number> {
  const db = new BetterSqlite3(sqlitePath, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT status, count(*) AS n FROM outbox_entries GROUP BY status').all() as {
      status: string;
      n: number;
    }[];
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  } finally {
    db.close();
  }
}

export interface DemoProcess {
  child: ChildProcess;
  bridgeUrl: string;
  emulatorUrl: string;
}

/** `b24-bridge demo …` as a real process, resolved once it has printed its admin and emulator URLs. */
export function startDemoProcess(args: readonly string[]): Promise<DemoProcess> {
  const child = spawn(process.execPath, [bridgeBin, 'demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise<DemoProcess>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not start:\n${out}\n${err}`)), 15_000);
    child.once('exit', (code) => reject(new Error(`the demo exited with ${String(code)}:\n${out}\n${err}`)));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const admin = /admin:\s+(http:\/\/\S+?)\/?\s/.exec(out);
      const emulator = /emulator:\s+(http:\/\/\S+?)\/_emulator\/?\s/.exec(out);
      if (admin?.[1] !== undefined && emulator?.[1] !== undefined) {
        clearTimeout(timer);
        resolve({ child, bridgeUrl: admin[1], emulatorUrl: emulator[1] });
      }
    });
  });
}

/** SIGTERM, then wait for the process to be gone. */
export async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** An emulator process and a bridge process installed into it, shared by one describe block. */
export interface InstalledBridge {
  emulator: EmulatorProcess;
  setup: BridgeSetup;
  /** The running bridge; a test that kills and restarts it puts the new process here. */
  bridge: Spawned | undefined;
  memberId: string;
}

/**
 * Starts the emulator and the bridge before the block's tests and installs the bridge as an app;
 * stops both and removes the files after them. Call it inside `describe`.
 */
export function installedBridge(
  prefix: string,
  options: {
    fileSizeLimitBlocks?: number;
    config?: BridgeConfigOverrides | ((dir: string) => BridgeConfigOverrides);
    /** The emulator's portal (a `--seed` file's content); the default seed otherwise. */
    seed?: unknown;
  } = {},
): InstalledBridge {
  const tmp = tempDir(prefix);
  const t = { bridge: undefined, memberId: '' } as unknown as InstalledBridge;
  beforeAll(async () => {
    let seedPath: string | undefined;
    if (options.seed !== undefined) {
      seedPath = join(tmp.dir, 'seed.json');
      writeFileSync(seedPath, JSON.stringify(options.seed));
    }
    t.emulator = await startEmulatorProcess(seedPath === undefined ? {} : { seedPath });
    const overrides = typeof options.config === 'function' ? options.config(tmp.dir) : options.config;
    t.setup = writeBridgeConfig(t.emulator.url, tmp.dir, await freePort(), overrides);
    t.bridge = await startBridgeProcess(t.setup, options);
    t.memberId = await installBridge(t.emulator, t.setup);
  });
  afterAll(async () => {
    await stop(t.bridge);
    // Undefined when the start failed: stop() takes that.
    await stop(t.emulator);
    tmp.cleanup();
  });
  return t;
}

/**
 * A bridge as an attacker meets it: the real server listening on a loopback port, installed into
 * emulated portals (all behind one OAuth server, as oauth.bitrix.info serves every portal), with
 * its log captured line by line. Tests reach it over HTTP only, as anyone who reaches its URL
 * would; the emulator's control API plays the portals (an administrator installs the app, an
 * employee opens it, a user clicks a number).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeForm, startEmulator, type AppInstallation, type Emulator } from 'b24-emulator';
import { startBridge, type Bridge } from '../../src/bridge/index.ts';
import { DEMO_PBX_TOKEN, demoDocument, parseConfig, type BridgeConfigInput } from '../../src/config/index.ts';
import { createLogger, SecretSet } from '../../src/log/index.ts';

export const CLIENT_ID = 'app.security.1';
export const CLIENT_SECRET = 'security-client-secret-0123456789';
export const ADMIN_PASSWORD = 'security-admin-password';

export interface EmulatedPortal {
  emulator: Emulator;
  memberId: string;
  /** `host:port`, what the portal's DOMAIN is. */
  domain: string;
  /** The installation (as its administrator, user 1), once installed. */
  app: AppInstallation | undefined;
  control<T = unknown>(path: string, body?: unknown, method?: string): Promise<{ status: number; body: T }>;
  /** What the portal's frame POSTs to the app page for this user (their own token pair). */
  openAs(userId: number): Promise<{ query: Record<string, string>; form: Record<string, string> }>;
}

export interface Office {
  bridge: Bridge;
  portals: EmulatedPortal[];
  /** Every line the bridge logged (JSON), in order. */
  logs: string[];
  dir: string;
  /** Installs the app into a portal as its administrator (user 1) through the real install flow. */
  install(portal: EmulatedPortal): Promise<AppInstallation>;
  /** Installs the app into a portal without completing it at the bridge (no install callback). */
  register(portal: EmulatedPortal): Promise<AppInstallation>;
  /** Stops the bridge and starts it again on the same files (a restart). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** An emulator as the tests drive it: its control API, and users opening the app. */
export function emulatedPortal(emulator: Emulator, memberId: string): EmulatedPortal {
  const control = async <T>(path: string, body?: unknown, method?: string) => {
    const res = await fetch(`${emulator.url}/_emulator/${path}`, {
      method: method ?? (body === undefined ? 'GET' : 'POST'),
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  return {
    emulator,
    memberId,
    domain: new URL(emulator.url).host,
    app: undefined,
    control,
    openAs: async (userId) => {
      const res = await control<{ query: Record<string, string>; form: Record<string, string> }>(
        `apps/${CLIENT_ID}/open`,
        { userId },
      );
      if (res.status !== 200) throw new Error(`open as ${String(userId)}: ${JSON.stringify(res.body)}`);
      return res.body;
    },
  };
}

export interface OfficeOptions {
  /** The portals' member_ids; default one portal, `emulator-member-1`. */
  memberIds?: string[];
  /** Install the app into every portal at start (as its administrator). Default true. */
  install?: boolean;
  /** Changes to the configuration document (the demo's, with the PBX `demo`). */
  configure?: (doc: BridgeConfigInput, portals: readonly EmulatedPortal[]) => BridgeConfigInput;
}

export async function startOffice(options: OfficeOptions = {}): Promise<Office> {
  const dir = mkdtempSync(join(tmpdir(), 'b24-security-'));
  const logs: string[] = [];
  const memberIds = options.memberIds ?? ['emulator-member-1'];
  const first = await startEmulator({ port: 0, settings: { memberId: memberIds[0] ?? 'emulator-member-1' } });
  const emulators = [first];
  for (const memberId of memberIds.slice(1))
    emulators.push(await startEmulator({ port: 0, settings: { memberId }, oauth: first.oauth }));
  const portals = emulators.map((emulator, i) => emulatedPortal(emulator, memberIds[i] ?? ''));

  let doc: BridgeConfigInput = demoDocument({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    oauthUrl: `${first.url}/oauth/token/`,
    simulator: false,
    sqlitePath: join(dir, 'bridge.sqlite'),
  });
  doc = {
    ...doc,
    bitrix: {
      mode: 'app',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      oauthUrl: `${first.url}/oauth/token/`,
      // Posted to where the bridge listens (the portal reaches it on the loopback).
      events: 'push',
      retry: { maxAttempts: 2, minDelayMs: 50, maxDelayMs: 200 },
    },
    engine: { defaultUserId: 1, lines: [], recording: { maxWaitSec: 60, hideGraceSec: 0 } },
    admin: { password: ADMIN_PASSWORD },
    logging: { level: 'info', format: 'json' },
  };
  doc = options.configure ? options.configure(doc, portals) : doc;
  const parsed = parseConfig(doc);
  if (!parsed.ok) throw parsed.error;
  const config = { ...parsed.config, server: { ...parsed.config.server, publicUrl: undefined } };
  const secrets = new SecretSet();
  const start = (): Promise<Bridge> =>
    startBridge(config, {
      port: 0,
      host: '127.0.0.1',
      warn: (message) => logs.push(JSON.stringify({ level: 40, msg: message })),
      secrets,
      loggerInstance: createLogger({
        level: 'info',
        format: 'json',
        secrets,
        destination: { write: (line: string) => logs.push(line.trimEnd()) },
      }),
    });

  const office: Office = {
    bridge: await start(),
    portals,
    logs,
    dir,
    async install(portal) {
      const res = await portal.control<AppInstallation>('apps', {
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        installUrl: `${office.bridge.url}/bitrix/install`,
        scopes: ['telephony', 'crm', 'user'],
      });
      if (res.status !== 201 || res.body.installCallback?.status !== 200)
        throw new Error(`install into ${portal.memberId}: ${JSON.stringify(res.body.installCallback)}`);
      portal.app = res.body;
      return res.body;
    },
    async register(portal) {
      const res = await portal.control<AppInstallation>('apps', {
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        scopes: ['telephony', 'crm', 'user'],
      });
      if (res.status !== 201) throw new Error(`register in ${portal.memberId}: ${JSON.stringify(res.body)}`);
      portal.app = res.body;
      return res.body;
    },
    async restart() {
      await office.bridge.close();
      office.bridge = await start();
    },
    async close() {
      await office.bridge.close();
      for (const e of emulators.reverse()) await e.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    if (options.install !== false) for (const portal of portals) await office.install(portal);
  } catch (e) {
    await office.close();
    throw e;
  }
  return office;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    json: <T>() => JSON.parse(text) as T,
  };
}

/** A form POST, as Bitrix24 (or anyone) sends to the bridge. */
export async function postForm(
  url: string,
  form: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return answer(
    await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: encodeForm(form),
      redirect: 'manual',
    }),
  );
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return answer(
    await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      redirect: 'manual',
    }),
  );
}

/** A Bitrix24 event's `ts`: now, in seconds. */
export const nowTs = (): string => String(Math.floor(Date.now() / 1000));

/** PBX events into the bridge's API as the demo's PBX (`demo-token`). */
export const pbxEvents = (bridge: Bridge, events: unknown, token = DEMO_PBX_TOKEN): Promise<Answer> =>
  postJson(`${bridge.url}/pbx/v1/events`, events, { authorization: `Bearer ${token}` });

/** The commands waiting for the PBX (the long poll, without waiting). */
export async function pbxCommands(bridge: Bridge, token = DEMO_PBX_TOKEN): Promise<unknown[]> {
  const res = await fetch(`${bridge.url}/pbx/v1/commands?wait=0`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return (await res.json()) as unknown[];
}

/**
 * An HTTP request from a given local address (127.0.0.x): several clients with addresses of their
 * own, without trusting any proxy header.
 */
export function requestFrom(
  localAddress: string,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        path: `${u.pathname}${u.search}`,
        method: init.method ?? 'GET',
        headers: init.headers,
        localAddress,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Log lines as objects (a line that is not JSON is kept as its text). */
export function parsedLogs(lines: readonly string[]): Record<string, unknown>[] {
  return lines.map((l) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      return { msg: l };
    }
  });
}

/** Polls until `probe` answers something; for state the bridge reaches on its own time. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (let delay = 20; ; delay = Math.min(delay * 2, 200)) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

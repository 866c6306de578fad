import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type AppInstallation,
  parseQuery,
  startEmulator,
  type Emulator,
  type EmulatorOptions,
  type Params,
} from 'b24-emulator';

/** The `result` of telephony.externalCall.register. */
export interface RegisterResult {
  CALL_ID: string;
  CRM_CREATED_LEAD: number | null;
  CRM_CREATED_ENTITIES: { ENTITY_TYPE: string; ENTITY_ID: number }[];
  CRM_ENTITY_TYPE: string;
  CRM_ENTITY_ID: number | null;
}

/** A call as GET /_emulator/calls shows it. */
export interface CallView {
  callId: string;
  externalCallId: string | null;
  appId: number;
  userId: number;
  phoneNumber: string;
  type: number;
  lineNumber: string | null;
  startDate: string;
  registeredAt: string;
  callListId: number | null;
  shown: boolean;
  finished: boolean;
  finishedAt: string | null;
  finishedBy: number | null;
  statusCode: string | null;
  duration: number | null;
  crmEntityType: string | null;
  crmEntityId: number | null;
  crmCreatedLead: number | null;
  crmActivityId: number | null;
  recordings: { fileId: number; filename: string; size: number; sha256: string }[];
}

export interface RestAnswer {
  status: number;
  body: Record<string, unknown>;
}

export type InstalledApp = AppInstallation;

/** A started emulator with a few conveniences for talking to it over real HTTP. */
export interface TestPortal {
  emulator: Emulator;
  url: string;
  /** POST JSON to /rest/<method> with `auth` in the body. */
  call(method: string, params?: Record<string, unknown>, token?: string): Promise<RestAnswer>;
  /** POST JSON through the seed's incoming webhook /rest/1/emulator/<method>. */
  webhook(method: string, params?: Record<string, unknown>): Promise<RestAnswer>;
  /** Installs an app through the inspection API (no install callback unless given). */
  install(body?: Record<string, unknown>): Promise<InstalledApp>;
  /** The token of the app installed by `start` (telephony, crm, user scopes). */
  token: string;
  app: InstalledApp;
  inspect<T = unknown>(
    path: string,
    init?: { method?: string; body?: unknown },
  ): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

export async function startTestPortal(options: EmulatorOptions = {}): Promise<TestPortal> {
  // Tests fire many requests at once; the rate limit has its own tests that turn it back on.
  const emulator = await startEmulator({
    ...options,
    settings: { rateLimit: { rate: 1000, burst: 100_000 }, ...(options.settings ?? {}) },
  });
  const url = emulator.url;
  const post = async (path: string, body: unknown): Promise<RestAnswer> => {
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const inspect = async <T>(path: string, init: { method?: string; body?: unknown } = {}) => {
    const res = await fetch(`${url}/_emulator/${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: { 'content-type': 'application/json' },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const install = async (body: Record<string, unknown> = {}): Promise<InstalledApp> => {
    const res = await inspect<InstalledApp>('apps', { body });
    if (res.status !== 201) throw new Error(`install failed: ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const app = await install({ clientId: 'local.test.1', clientSecret: 'test-secret' });
  return {
    emulator,
    url,
    token: app.accessToken,
    app,
    call: (method, params = {}, token = app.accessToken) =>
      post(`/rest/${method}`, { ...params, auth: token }),
    webhook: (method, params = {}) => post(`/rest/1/emulator/${method}`, params),
    install,
    inspect,
    close: () => emulator.close(),
  };
}

export interface ReceivedPost {
  path: string;
  query: Params;
  form: Params;
}

/** A loopback HTTP server standing in for an app's handler: collects every form POST it gets. */
export interface Receiver {
  url: string;
  received: ReceivedPost[];
  /** Resolves with the next POST (or an already received one) that matches. */
  next(match?: (p: ReceivedPost) => boolean): Promise<ReceivedPost>;
  /** Status the receiver answers with. */
  status: number;
  /** Runs while a POST is handled, before the answer (e.g. an installer binding events). */
  onPost?: (p: ReceivedPost) => Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: ReceivedPost[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      const post: ReceivedPost = {
        path: u.pathname,
        query: parseQuery(u.search.slice(1)),
        form: parseQuery(Buffer.concat(chunks).toString('utf8')),
      };
      void (receiver.onPost ? receiver.onPost(post) : Promise.resolve()).finally(() => {
        received.push(post);
        server.emit('post', post);
        res.writeHead(receiver.status, { 'content-type': 'text/plain' });
        res.end('ok');
      });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const receiver: Receiver = {
    url,
    received,
    status: 200,
    next(match = () => true) {
      const found = received.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => {
        const on = (p: ReceivedPost): void => {
          if (!match(p)) return;
          server.off('post', on);
          resolve(p);
        };
        server.on('post', on);
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return receiver;
}

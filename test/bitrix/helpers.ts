import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  startEmulator,
  type AppInstallation,
  type Emulator,
  type RequestLogEntry,
  type Seed,
  type Settings,
} from 'b24-emulator';
import {
  BitrixClient,
  type ClientEvents,
  type ClientOptions,
  type Clock,
  type PortalApi,
  type RateLimit,
} from '../../src/bitrix/index.ts';

/**
 * Real time plus an offset the test can advance, like the emulator's own clock: advancing both by
 * the same amount keeps the client's limiter and the portal's bucket on one time line, so a
 * minute of traffic runs in a fraction of a second.
 */
export class OffsetClock implements Clock {
  private offset = 0;
  private readonly timers = new Set<{ at: number; fn: () => void; handle: NodeJS.Timeout }>();

  now(): number {
    return Date.now() + this.offset;
  }

  setTimer(ms: number, fn: () => void): () => void {
    const timer = { at: this.now() + ms, fn, handle: setTimeout(() => this.fire(timer), Math.max(0, ms)) };
    this.timers.add(timer);
    return () => {
      clearTimeout(timer.handle);
      this.timers.delete(timer);
    };
  }

  advance(ms: number): void {
    this.offset += ms;
    const now = this.now();
    for (const t of [...this.timers]) if (t.at <= now) this.fire(t);
  }

  private fire(t: { fn: () => void; handle: NodeJS.Timeout }): void {
    if (!this.timers.has(t as never)) return;
    clearTimeout(t.handle);
    this.timers.delete(t as never);
    t.fn();
  }
}

export interface Harness {
  emulator: Emulator;
  client: BitrixClient;
  api: PortalApi;
  memberId: string;
  app: InstalledApp;
  /** Every REST request the portal logged since the harness started (or since `mark()`). */
  requests: RequestLogEntry[];
  /** Forgets the requests logged so far. */
  mark(): void;
  faults(body: Record<string, unknown>): Promise<void>;
  clearFaults(): Promise<void>;
  settings(body: Partial<Settings>): Promise<void>;
  inspect<T>(path: string): Promise<T>;
  close(): Promise<void>;
}

export type InstalledApp = AppInstallation;

export interface HarnessOptions {
  /** The portal's leaky bucket (default: the standard plan 2/50, as on a real portal). */
  portalLimit?: RateLimit;
  /** The client's mirror of it (default: the same). */
  clientLimit?: RateLimit;
  client?: ClientOptions;
  emulatorSettings?: Partial<Settings>;
  seed?: Seed;
  /** Share this clock between the client and the emulator's (advance both with `advance`). */
  clock?: OffsetClock;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const portalLimit = options.portalLimit ?? { rate: 2, burst: 50 };
  const emulator = await startEmulator({
    port: 0,
    ...(options.seed ? { seed: options.seed } : {}),
    settings: { rateLimit: portalLimit, ...(options.emulatorSettings ?? {}) },
  });
  const url = emulator.url;
  const control = async (path: string, method: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${url}/_emulator/${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json: unknown = await res.json();
    if (res.status >= 300) throw new Error(`emulator ${path}: ${JSON.stringify(json)}`);
    return json;
  };
  const app = (await control('apps', 'POST', {
    clientId: 'local.bridge.1',
    clientSecret: 'bridge-secret-value',
  })) as InstalledApp;
  const client = new BitrixClient({
    app: { clientId: app.clientId, clientSecret: app.clientSecret, oauthUrl: `${url}/oauth/token/` },
    random: () => 0.5,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.client ?? {}),
  });
  const clock = options.clock;
  const api = await client.addPortal({
    memberId: app.memberId,
    clientEndpoint: app.clientEndpoint,
    auth: {
      kind: 'oauth',
      tokens: {
        accessToken: app.accessToken,
        refreshToken: app.refreshToken,
        expiresAt: (clock ? clock.now() : Date.now()) + app.expiresIn * 1000,
      },
    },
    rateLimit: options.clientLimit ?? portalLimit,
  });
  const requests: RequestLogEntry[] = [];
  emulator.portal.on('request', (e) => requests.push(e));
  // The app installation above went through /_emulator, not /rest: the log starts empty.
  return {
    emulator,
    client,
    api,
    memberId: app.memberId,
    app,
    requests,
    mark: () => {
      requests.length = 0;
    },
    faults: async (body) => {
      await control('faults', 'POST', body);
    },
    clearFaults: async () => {
      await control('faults', 'DELETE');
    },
    settings: async (body) => {
      await control('settings', 'POST', body);
    },
    inspect: async <T>(path: string) => (await control(path, 'GET')) as T,
    close: async () => {
      client.close();
      await emulator.close();
    },
  };
}

/** Resolves with the first event of that name satisfying `accept`. */
export function waitFor<K extends keyof ClientEvents>(
  client: BitrixClient,
  event: K,
  accept: (...args: ClientEvents[K]) => boolean = () => true,
): Promise<ClientEvents[K]> {
  return new Promise((resolve) => {
    const listener = (...args: ClientEvents[K]): void => {
      if (!accept(...args)) return;
      client.off(event, listener as never);
      resolve(args);
    };
    client.on(event, listener as never);
  });
}

/** Waits until the client has nothing in flight for the portal (its queue may still hold work). */
export async function quiet(client: BitrixClient, memberId: string): Promise<void> {
  await nextTurn();
  while (client.state(memberId).inFlight > 0)
    await waitFor(client, 'response', (r) => r.memberId === memberId);
}

export const queryLimitHits = (requests: readonly RequestLogEntry[]): number =>
  requests.filter((r) => r.error === 'QUERY_LIMIT_EXCEEDED').length;

export interface CallView {
  callId: string;
  externalCallId: string | null;
  userId: number;
  shown: boolean;
  finished: boolean;
  finishedBy: number | null;
  duration: number | null;
  recordings: { fileId: number; filename: string; size: number }[];
}

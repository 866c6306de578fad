import { EventEmitter } from 'node:events';
import { PortalApi } from './api/portal-api.ts';
import { systemClock, type Clock } from '../kit/index.ts';
import { PortalDispatcher, type DispatcherState } from './dispatcher.ts';
import { BitrixError } from './errors.ts';
import type { ClientEvents, Emit } from './events.ts';
import { standardPlan, type RateLimit, type SharedBudget } from './limiter.ts';
import { minHeadroom, type PacingOverrides } from './pacing.ts';
import { Pending } from './pending.ts';
import { retryPolicy, type ClientRetryPolicy, type RetryOverrides } from './retry.ts';
import {
  MemoryTokenStore,
  TokenKeeper,
  type AppCredentials,
  type PortalTokens,
  type RefreshLock,
  type TokenStore,
} from './tokens.ts';
import type { HttpOptions } from './transport.ts';

/** How the bridge reaches one portal. */
interface PortalConfig {
  /** The portal's stable id (`member_id`). */
  memberId: string;
  /** `example.bitrix24.com`; gives the REST endpoint when `clientEndpoint` is not set. */
  domain?: string | undefined;
  /** `https://<portal>/rest/` (the `client_endpoint` of the installation), for OAuth. */
  clientEndpoint?: string | undefined;
  auth: OAuthAuth | WebhookAuth;
  /** The portal's plan: 2/50 by default, 5/250 on enterprise plans. */
  rateLimit?: RateLimit | undefined;
  /** How long work without a card may be held, and the places only cards may use. */
  pacing?: PacingOverrides | undefined;
}

interface OAuthAuth {
  kind: 'oauth';
  /** Tokens from the installation; saved to the token store. Omit when the store has them. */
  tokens?: PortalTokens | undefined;
}

interface WebhookAuth {
  kind: 'webhook';
  /** `https://<portal>/rest/<user_id>/<secret>/`: a secret, never logged. */
  url: string;
}

export interface ClientOptions {
  /** The application's OAuth identity; needed for OAuth portals. */
  app?: AppCredentials | undefined;
  tokenStore?: TokenStore | undefined;
  clock?: Clock | undefined;
  /** Source of the backoff jitter (0 ≤ x < 1). */
  random?: (() => number) | undefined;
  retry?: RetryOverrides | undefined;
  fetch?: typeof fetch | undefined;
  /** Per request. The portal itself kills requests after 60 s. Default 65 s. */
  requestTimeoutMs?: number | undefined;
  /** Requests in flight per portal. Default 4. */
  maxInFlight?: number | undefined;
  /** Commands per batch, at most 50 (the portal's limit). */
  maxBatch?: number | undefined;
  /** Refresh the access token this long before it expires. Default 60 s. */
  refreshAheadMs?: number | undefined;
  /** Requests kept free below the portal's bucket size: at least 3, the default. */
  headroom?: number | undefined;
  userAgent?: string | undefined;
  /**
   * Several bridge instances serve the same portals: their requests share one budget per portal,
   * and one refresh of a portal's tokens runs at a time across them (see `Store.coordination`).
   */
  shared?: { budget?: SharedBudget | undefined; refreshLock?: RefreshLock | undefined } | undefined;
}

interface PortalState extends DispatcherState {
  memberId: string;
  /** Set when only a re-installation of the app can bring the portal back. */
  needsReinstall: PortalTokens['needsReinstall'];
}

interface PortalEntry {
  config: PortalConfig;
  dispatcher: PortalDispatcher;
  keeper: TokenKeeper | undefined;
  api: PortalApi;
}

const BATCH_LIMIT = 50;

/**
 * The Bitrix24 client: portals, their queues and their tokens. Typed methods per portal come from
 * `client.portal(memberId)`; what happens inside is announced as typed events (`ClientEvents`).
 */
export class BitrixClient extends EventEmitter<ClientEvents> {
  private readonly portals = new Map<string, PortalEntry>();
  private readonly store: TokenStore;
  private readonly clock: Clock;
  private readonly policy: ClientRetryPolicy;
  private readonly aborter = new AbortController();
  private nextOpId = 1;

  constructor(private readonly options: ClientOptions = {}) {
    super();
    this.store = options.tokenStore ?? new MemoryTokenStore();
    this.clock = options.clock ?? systemClock;
    this.policy = retryPolicy(options.retry);
  }

  /**
   * Adds a portal. OAuth tokens given here go to the store; without them the store must have them
   * (a portal marked for re-installation in an earlier run stays marked).
   */
  async addPortal(config: PortalConfig): Promise<PortalApi> {
    if (this.portals.has(config.memberId)) {
      throw new BitrixError('INVALID_REQUEST', `portal ${config.memberId} is already added`, {
        memberId: config.memberId,
      });
    }
    const { auth, memberId } = config;
    let keeper: TokenKeeper | undefined;
    const clientEndpoint =
      config.clientEndpoint ?? (config.domain ? `https://${config.domain}/rest/` : undefined);
    if (auth.kind === 'oauth') {
      if (!clientEndpoint) {
        throw new BitrixError('INVALID_REQUEST', 'an OAuth portal needs its clientEndpoint or domain', {
          memberId,
        });
      }
      const app = this.options.app;
      if (!app) {
        throw new BitrixError('INVALID_REQUEST', 'an OAuth portal needs the application credentials', {
          memberId,
        });
      }
      keeper = new TokenKeeper(
        memberId,
        this.store,
        app,
        this.clock,
        () => this.http(memberId),
        {
          refreshed: (ok, error, durationMs) =>
            this.announce('refresh', { memberId, ok, code: error?.code, durationMs }),
          needsReinstall: (reason) => this.announce('needsReinstall', { memberId, reason }),
        },
        this.options.refreshAheadMs ?? 60_000,
        this.options.shared?.refreshLock,
      );
      if (auth.tokens) await keeper.replace(auth.tokens);
      else await keeper.load();
    }
    const endpoint = (): string => {
      if (auth.kind === 'webhook') return withSlash(auth.url);
      return withSlash(keeper?.cachedEndpoint ?? clientEndpoint ?? '');
    };
    const dispatcher = new PortalDispatcher({
      memberId,
      endpoint,
      keeper,
      rateLimit: config.rateLimit ?? standardPlan,
      headroom: Math.max(minHeadroom, this.options.headroom ?? minHeadroom),
      pacing: config.pacing,
      nextOpId: () => this.nextOpId++,
      sharedBudget: this.options.shared?.budget,
      maxBatch: Math.min(BATCH_LIMIT, Math.max(1, this.options.maxBatch ?? BATCH_LIMIT)),
      maxInFlight: Math.max(1, this.options.maxInFlight ?? 4),
      clock: this.clock,
      random: this.options.random ?? Math.random,
      policy: this.policy,
      http: () => this.http(memberId),
      emit: this.announce,
    });
    const api = new PortalApi(memberId, (cmd, submitOptions, parse, onError) => {
      const op = dispatcher.submit(cmd, submitOptions ?? {}, this.nextOpId++);
      return new Pending(op, parse, onError);
    });
    this.portals.set(memberId, { config, dispatcher, keeper, api });
    return api;
  }

  /** The typed methods of one portal. */
  portal(memberId: string): PortalApi {
    return this.entry(memberId).api;
  }

  has(memberId: string): boolean {
    return this.portals.has(memberId);
  }

  state(memberId: string): PortalState {
    const { dispatcher, keeper } = this.entry(memberId);
    return { memberId, ...dispatcher.state(), needsReinstall: keeper?.needsReinstall };
  }

  /** New tokens for a portal (a re-installation): clears `needsReinstall`, resumes its queue. */
  async setTokens(memberId: string, tokens: PortalTokens): Promise<void> {
    const { keeper, dispatcher } = this.entry(memberId);
    if (!keeper) {
      throw new BitrixError('INVALID_REQUEST', `portal ${memberId} uses a webhook, not OAuth`, { memberId });
    }
    await keeper.replace(tokens);
    dispatcher.wake();
  }

  /** The app was uninstalled from the portal: what is queued for it fails as CLOSED. */
  removePortal(memberId: string): void {
    const entry = this.portals.get(memberId);
    if (!entry) return;
    entry.dispatcher.close();
    this.portals.delete(memberId);
  }

  /** The portal moved to another plan. */
  setRateLimit(memberId: string, limit: RateLimit): void {
    this.entry(memberId).dispatcher.setRateLimit(limit);
  }

  /** Fails what is queued, aborts what is in flight (as CLOSED). */
  close(): void {
    for (const { dispatcher } of this.portals.values()) dispatcher.close();
    this.aborter.abort();
  }

  /**
   * Emits an event without letting a listener's exception break the queue's bookkeeping halfway:
   * the exception is rethrown on its own tick, as loud as an uncaught one, after our state is whole.
   */
  private readonly announce: Emit = (event, ...args) => {
    try {
      return (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
    } catch (e) {
      process.nextTick(() => {
        throw e;
      });
      return false;
    }
  };

  private entry(memberId: string): PortalEntry {
    const entry = this.portals.get(memberId);
    if (!entry) {
      throw new BitrixError('INVALID_REQUEST', `no portal ${memberId} in this client`, { memberId });
    }
    return entry;
  }

  private http(memberId: string): HttpOptions {
    return {
      fetch: this.options.fetch ?? fetch,
      timeoutMs: this.options.requestTimeoutMs ?? 65_000,
      userAgent: this.options.userAgent ?? 'b24-bridge',
      signal: this.aborter.signal,
      memberId,
    };
  }
}

const withSlash = (url: string): string => (url.endsWith('/') ? url : `${url}/`);

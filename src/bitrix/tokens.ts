import type { Clock } from '../kit/index.ts';
import { BitrixError } from './errors.ts';
import { send, type HttpOptions } from './transport.ts';

/** A portal's OAuth tokens as the bridge keeps them. */
export interface PortalTokens {
  accessToken: string;
  /** Each refresh issues a new one; the old one must never be used again (spec §5.4). */
  refreshToken: string;
  /** When the access token stops working, in ms since the epoch on the client's clock. */
  expiresAt: number;
  /** The portal's REST endpoint as the OAuth server last reported it (it moves with the domain). */
  clientEndpoint?: string | undefined;
  /**
   * The portal's member_id as the OAuth server reported it with these tokens: the one fact about
   * an install callback that a forger cannot choose (the bridge compares it at install).
   */
  memberId?: string | undefined;
  /**
   * Set when the OAuth server refused the refresh token or the app: nothing but a re-installation
   * (which brings new tokens) helps, so the bridge stops asking instead of looping.
   */
  needsReinstall?: { since: number; reason: string } | undefined;
}

/** Where tokens live between restarts: in memory now, in the store with the outbox. */
export interface TokenStore {
  get(memberId: string): Promise<PortalTokens | undefined>;
  save(memberId: string, tokens: PortalTokens): Promise<void>;
}

/**
 * Makes a refresh single-flight across processes that share the token store (several bridge
 * instances on one database): `fn` runs while no other process runs its own for the portal.
 * The keeper reads the tokens again once it holds the lock: another instance may have refreshed
 * meanwhile, and its refresh token is the only valid one now.
 */
export interface RefreshLock {
  withLock<T>(memberId: string, fn: () => Promise<T>): Promise<T>;
}

export class MemoryTokenStore implements TokenStore {
  private readonly tokens = new Map<string, PortalTokens>();

  get(memberId: string): Promise<PortalTokens | undefined> {
    const t = this.tokens.get(memberId);
    return Promise.resolve(t ? { ...t } : undefined);
  }

  save(memberId: string, tokens: PortalTokens): Promise<void> {
    this.tokens.set(memberId, { ...tokens });
    return Promise.resolve();
  }
}

/** The application's identity at the OAuth server (one per bridge, shared by all portals). */
export interface AppCredentials {
  clientId: string;
  clientSecret: string;
  /** Default `https://oauth.bitrix.info/oauth/token/`. */
  oauthUrl?: string | undefined;
}

const defaultOAuthUrl = 'https://oauth.bitrix.info/oauth/token/';

/** OAuth errors after which only a re-installation helps (spec §5.4). */
const reinstallErrors = new Set(['invalid_grant', 'invalid_client']);

/**
 * The refresh_token grant. Sent as a form POST like the official SDK does, so the client secret
 * and refresh token stay out of URLs (and so out of any proxy's access log).
 */
export async function refreshGrant(
  app: AppCredentials,
  refreshToken: string,
  now: number,
  http: HttpOptions,
): Promise<PortalTokens> {
  const body = new URLSearchParams({
    grant_type: 'refresh_token',
    client_id: app.clientId,
    client_secret: app.clientSecret,
    refresh_token: refreshToken,
  }).toString();
  const reply = await send(
    app.oauthUrl ?? defaultOAuthUrl,
    { method: 'POST', body, contentType: 'application/x-www-form-urlencoded' },
    'oauth.refresh',
    http,
  );
  const json = (typeof reply.json === 'object' && reply.json !== null ? reply.json : {}) as Record<
    string,
    unknown
  >;
  if (typeof json.error === 'string') {
    const code = reinstallErrors.has(json.error) ? 'NEEDS_REINSTALL' : 'AUTH_FAILED';
    const description = typeof json.error_description === 'string' ? json.error_description : '';
    return Promise.reject(
      new BitrixError(code, `oauth.refresh: ${json.error}${description ? `: ${description}` : ''}`, {
        status: reply.status,
        portalError: json.error,
        portalDescription: description,
        method: 'oauth.refresh',
        memberId: http.memberId,
      }),
    );
  }
  const access = json.access_token;
  const refresh = json.refresh_token;
  if (typeof access !== 'string' || typeof refresh !== 'string' || reply.status !== 200) {
    const code = reply.status >= 500 ? 'SERVER_ERROR' : 'BAD_RESPONSE';
    throw new BitrixError(code, `oauth.refresh: unexpected answer (HTTP ${reply.status})`, {
      status: reply.status,
      method: 'oauth.refresh',
      memberId: http.memberId,
    });
  }
  // expires_in (relative) rather than `expires`: the OAuth server's clock is not ours.
  const lifetime = typeof json.expires_in === 'number' ? json.expires_in : Number(json.expires_in ?? 3600);
  return {
    accessToken: access,
    refreshToken: refresh,
    expiresAt: now + (Number.isFinite(lifetime) && lifetime > 0 ? lifetime : 3600) * 1000,
    clientEndpoint: typeof json.client_endpoint === 'string' ? json.client_endpoint : undefined,
    memberId: typeof json.member_id === 'string' ? json.member_id : undefined,
  };
}

interface TokenKeeperHooks {
  refreshed(ok: boolean, error: BitrixError | undefined, durationMs: number): void;
  needsReinstall(reason: string): void;
}

/**
 * One portal's tokens: hands out a valid access token, refreshing shortly before expiry and when
 * the portal says `expired_token`. Refreshes are single-flight: two parallel refreshes would each
 * burn the other's refresh token, so every caller waiting for a new token shares one refresh.
 */
export class TokenKeeper {
  private cached: PortalTokens | undefined;
  private inflight: Promise<string> | null = null;

  constructor(
    private readonly memberId: string,
    private readonly store: TokenStore,
    private readonly app: AppCredentials,
    private readonly clock: Clock,
    private readonly http: () => HttpOptions,
    private readonly hooks: TokenKeeperHooks,
    /** Refresh this long before the access token expires (not on every call: spec §5.4). */
    private readonly aheadMs: number,
    /** Other processes refresh this portal too (several instances on one database). */
    private readonly lock?: RefreshLock | undefined,
  ) {}

  /** Reads the store once, so that a stored `needsReinstall` is visible before the first call. */
  async load(): Promise<PortalTokens | undefined> {
    this.cached ??= await this.store.get(this.memberId);
    return this.cached;
  }

  /** The tokens as last known (loaded from the store on first use). */
  async tokens(): Promise<PortalTokens> {
    await this.load();
    if (!this.cached) {
      throw new BitrixError('AUTH_FAILED', `portal ${this.memberId} has no OAuth tokens`, {
        memberId: this.memberId,
      });
    }
    return this.cached;
  }

  /** The REST endpoint the OAuth server last reported, if any. */
  get cachedEndpoint(): string | undefined {
    return this.cached?.clientEndpoint;
  }

  get needsReinstall(): PortalTokens['needsReinstall'] {
    return this.cached?.needsReinstall;
  }

  /** A usable access token, refreshed first when it is about to expire. */
  async accessToken(): Promise<string> {
    const t = await this.tokens();
    if (t.needsReinstall) throw this.reinstallError(t.needsReinstall.reason);
    if (t.expiresAt - this.clock.now() <= this.aheadMs) return this.refresh(t.accessToken);
    return t.accessToken;
  }

  /**
   * A new access token because `stale` was refused. If the tokens changed since `stale` was handed
   * out (another caller refreshed, or a re-installation saved new ones), those are the answer.
   */
  refresh(stale: string): Promise<string> {
    const lock = this.lock;
    const run = lock
      ? () =>
          lock.withLock(this.memberId, async () => {
            // Another instance may have refreshed while we waited for the lock: its tokens win.
            this.cached = (await this.store.get(this.memberId)) ?? this.cached;
            return this.doRefresh(stale);
          })
      : () => this.doRefresh(stale);
    this.inflight ??= run().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  /** New tokens from an installation: clears a pending re-installation. */
  async replace(tokens: PortalTokens): Promise<void> {
    const fresh = { ...tokens, needsReinstall: undefined };
    await this.store.save(this.memberId, fresh);
    this.cached = fresh;
  }

  private async doRefresh(stale: string): Promise<string> {
    const current = await this.tokens();
    if (current.needsReinstall) throw this.reinstallError(current.needsReinstall.reason);
    if (current.accessToken !== stale && current.expiresAt - this.clock.now() > this.aheadMs) {
      return current.accessToken;
    }
    const started = this.clock.now();
    try {
      const next = await refreshGrant(this.app, current.refreshToken, started, this.http());
      const saved: PortalTokens = {
        ...next,
        clientEndpoint: next.clientEndpoint ?? current.clientEndpoint,
      };
      await this.store.save(this.memberId, saved);
      this.cached = saved;
      this.hooks.refreshed(true, undefined, this.clock.now() - started);
      return saved.accessToken;
    } catch (e) {
      const error =
        e instanceof BitrixError ? e : new BitrixError('AUTH_FAILED', 'oauth.refresh failed', { cause: e });
      this.hooks.refreshed(false, error, this.clock.now() - started);
      if (error.code === 'NEEDS_REINSTALL') {
        const reason = error.portalError ?? 'refused';
        const marked: PortalTokens = { ...current, needsReinstall: { since: this.clock.now(), reason } };
        await this.store.save(this.memberId, marked);
        this.cached = marked;
        this.hooks.needsReinstall(reason);
      }
      throw error;
    }
  }

  private reinstallError(reason: string): BitrixError {
    return new BitrixError(
      'NEEDS_REINSTALL',
      `portal ${this.memberId} needs the application re-installed (OAuth: ${reason})`,
      { memberId: this.memberId, portalError: reason },
    );
  }
}

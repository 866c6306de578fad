import { describe, expect, it } from 'vitest';
import type { Clock } from '../kit/index.ts';
import { BitrixError } from './errors.ts';
import { MemoryTokenStore, TokenKeeper, type PortalTokens } from './tokens.ts';
import type { HttpOptions } from './transport.ts';

const clock = (start = 1_000_000): Clock & { t: number } => ({
  t: start,
  now() {
    return this.t;
  },
  setTimer: () => () => undefined,
});

/** An OAuth server that counts grants and answers after the test lets it. */
function oauthServer(answer: (n: number) => { status: number; body: unknown }) {
  let grants = 0;
  const bodies: string[] = [];
  const gate: (() => void)[] = [];
  const fetchFn = (async (_url: string, init?: RequestInit) => {
    grants += 1;
    bodies.push(typeof init?.body === 'string' ? init.body : '');
    const n = grants;
    await new Promise<void>((resolve) => gate.push(resolve));
    const { status, body } = answer(n);
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return {
    fetchFn,
    bodies,
    grants: () => grants,
    release: () => gate.splice(0).forEach((r) => r()),
  };
}

function keeper(fetchFn: typeof fetch, c: Clock, store = new MemoryTokenStore()) {
  const events: string[] = [];
  const http = (): HttpOptions => ({
    fetch: fetchFn,
    timeoutMs: 5000,
    userAgent: 't',
    signal: new AbortController().signal,
    memberId: 'm1',
  });
  const k = new TokenKeeper(
    'm1',
    store,
    { clientId: 'local.app.1', clientSecret: 'very-secret', oauthUrl: 'http://oauth.invalid/oauth/token/' },
    c,
    http,
    {
      refreshed: (ok) => events.push(ok ? 'refresh ok' : 'refresh failed'),
      needsReinstall: (reason) => events.push(`reinstall ${reason}`),
    },
    60_000,
  );
  return { k, events, store };
}

const tokens = (over: Partial<PortalTokens> = {}): PortalTokens => ({
  accessToken: 'a1',
  refreshToken: 'r1',
  expiresAt: 1_000_000 + 3_600_000,
  ...over,
});

const granted = (n: number) => ({
  status: 200,
  body: {
    access_token: `a${n + 1}`,
    refresh_token: `r${n + 1}`,
    expires_in: 3600,
    client_endpoint: 'http://p/rest/',
  },
});

describe('TokenKeeper', () => {
  it('many callers refused with the same stale token share one refresh', async () => {
    const server = oauthServer(granted);
    const c = clock();
    const { k, events, store } = keeper(server.fetchFn, c);
    await k.replace(tokens());
    const waiting = Array.from({ length: 50 }, () => k.refresh('a1'));
    await new Promise((r) => setTimeout(r, 10));
    server.release();
    expect(new Set(await Promise.all(waiting))).toEqual(new Set(['a2']));
    expect(server.grants()).toBe(1);
    expect(events).toEqual(['refresh ok']);
    // The grant is a form POST carrying the current refresh token; the new pair is stored.
    expect(server.bodies[0]).toContain('grant_type=refresh_token');
    expect(server.bodies[0]).toContain('refresh_token=r1');
    expect(await store.get('m1')).toMatchObject({
      accessToken: 'a2',
      refreshToken: 'r2',
      expiresAt: c.t + 3_600_000,
    });
    // A latecomer with the old token gets the new one without another grant.
    expect(await k.refresh('a1')).toBe('a2');
    expect(server.grants()).toBe(1);
  });

  it('refreshes shortly before expiry, not on every call', async () => {
    const server = oauthServer(granted);
    const c = clock();
    const { k } = keeper(server.fetchFn, c);
    await k.replace(tokens());
    expect(await k.accessToken()).toBe('a1');
    c.t += 3_600_000 - 59_000;
    const next = k.accessToken();
    await new Promise((r) => setTimeout(r, 5));
    server.release();
    expect(await next).toBe('a2');
    expect(server.grants()).toBe(1);
  });

  it('a refused refresh token marks the portal for re-installation, once, and stops asking', async () => {
    const server = oauthServer(() => ({
      status: 400,
      body: { error: 'invalid_grant', error_description: 'Invalid refresh token' },
    }));
    const c = clock();
    const { k, events, store } = keeper(server.fetchFn, c);
    await k.replace(tokens());
    const first = k.refresh('a1');
    await new Promise((r) => setTimeout(r, 5));
    server.release();
    const error = await first.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BitrixError);
    expect((error as BitrixError).code).toBe('NEEDS_REINSTALL');
    expect(events).toEqual(['refresh failed', 'reinstall invalid_grant']);
    expect((await store.get('m1'))?.needsReinstall?.reason).toBe('invalid_grant');
    await expect(k.accessToken()).rejects.toMatchObject({ code: 'NEEDS_REINSTALL' });
    await expect(k.refresh('a1')).rejects.toMatchObject({ code: 'NEEDS_REINSTALL' });
    expect(server.grants()).toBe(1);
    // Secrets stay out of the error.
    expect(JSON.stringify({ m: (error as Error).message, ...(error as object) })).not.toMatch(
      /very-secret|r1/,
    );
    // A re-installation brings new tokens and clears the mark.
    await k.replace(tokens({ accessToken: 'b1', refreshToken: 'rb1' }));
    expect(k.needsReinstall).toBeUndefined();
    expect(await k.accessToken()).toBe('b1');
  });

  it('a network failure of the OAuth server is a NETWORK error, not a re-installation', async () => {
    const failing = (() =>
      Promise.reject(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }))) as typeof fetch;
    const { k, events } = keeper(failing, clock());
    await k.replace(tokens());
    await expect(k.refresh('a1')).rejects.toMatchObject({ code: 'NETWORK', maybeDelivered: false });
    expect(events).toEqual(['refresh failed']);
    expect(k.needsReinstall).toBeUndefined();
  });
});

import type { IncomingMessage, ServerResponse } from 'node:http';
import { networkFault } from './outage.ts';
import { readParams } from './http/body.ts';
import { sendJson } from './http/envelope.ts';
import { toStr } from './http/params.ts';
import type { App, RefreshToken } from './portal/model.ts';
import type { Portal } from './portal/portal.ts';

/**
 * The OAuth server (oauth.bitrix.info): one server for every portal, as in Bitrix24's cloud. An app
 * installed on two portals has one client_id and secret; the refresh token alone says which
 * portal (and which user of it) the new pair belongs to, and the answer names that portal
 * (`member_id`, `client_endpoint`) and the user (`user_id`) (spec §5.4).
 *
 * Each emulated portal registers with one OAuthServer: its own by default, or one shared with other
 * emulators started in the same process (`startEmulator({ oauth })`).
 */
export class OAuthServer {
  private readonly portals = new Set<Portal>();

  add(portal: Portal): void {
    this.portals.add(portal);
  }

  remove(portal: Portal): void {
    this.portals.delete(portal);
  }

  /** The portal and record of a refresh token, whichever portal issued it. */
  private find(token: string): { portal: Portal; refresh: RefreshToken } | undefined {
    if (token === '') return undefined;
    for (const portal of this.portals) {
      const refresh = portal.refreshTokens.get(token);
      if (refresh) return { portal, refresh };
    }
    return undefined;
  }

  /** Whether any portal has an installation of this client with this secret. */
  private knows(clientId: string, secret: string | undefined): boolean {
    for (const portal of this.portals) {
      const app = portal.appByClientId(clientId);
      if (app && app.clientSecret === secret) return true;
    }
    return false;
  }

  /**
   * The refresh_token grant at /oauth/token/, by GET query or form POST. `front` is the portal whose
   * HTTP server took the request: its network faults and latency apply.
   */
  async handle(front: Portal, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (await networkFault(front.faults, req, res)) return;
    const fail = (status: number, error: string, description: string): void =>
      sendJson(res, status, { error, error_description: description });
    let params;
    try {
      params = (await readParams(req, url.search.slice(1))).params;
    } catch {
      return fail(400, 'invalid_request', 'Malformed request');
    }
    const grant = toStr(params.grant_type);
    const clientId = toStr(params.client_id);
    const secret = toStr(params.client_secret);
    if (!grant || !clientId) return fail(400, 'invalid_request', 'grant_type and client_id are required');
    if (grant !== 'refresh_token') return fail(400, 'invalid_request', `Unsupported grant_type ${grant}`);
    const found = this.find(toStr(params.refresh_token) ?? '');
    if (!found) {
      return this.knows(clientId, secret)
        ? fail(400, 'invalid_grant', 'Invalid refresh token')
        : fail(401, 'invalid_client', 'Invalid client credentials');
    }
    const { portal, refresh: old } = found;
    const app = portal.appByClientId(clientId);
    if (!app || app.clientSecret !== secret) return fail(401, 'invalid_client', 'Invalid client credentials');
    if (old.appId !== app.id || old.expiresAt <= portal.clock.now())
      return fail(400, 'invalid_grant', 'Invalid refresh token');
    sendJson(res, 200, refreshed(portal, app, old));
  }
}

/** A new pair for the refresh token's user; the old pair goes as the portal's settings say. */
function refreshed(portal: Portal, app: App, old: RefreshToken): Record<string, unknown> {
  if (portal.settings.oldRefreshTokenAfterRefresh === 'revoked') portal.refreshTokens.delete(old.token);
  if (portal.settings.oldAccessTokenAfterRefresh === 'revoked') {
    for (const t of portal.accessTokens.values())
      if (t.appId === app.id && t.userId === old.userId) t.revoked = true;
  }
  const { access, refresh } = portal.issueTokens(app, old.userId);
  return {
    access_token: access.token,
    expires: Math.floor(access.expiresAt / 1000),
    expires_in: portal.settings.accessTokenLifetimeSec,
    scope: app.scopes.join(','),
    domain: 'oauth.bitrix.info',
    server_endpoint: portal.serverEndpoint,
    status: app.status,
    client_endpoint: portal.clientEndpoint,
    member_id: portal.settings.memberId,
    user_id: old.userId,
    refresh_token: refresh.token,
  };
}

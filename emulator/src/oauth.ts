import type { IncomingMessage, ServerResponse } from 'node:http';
import { networkFault } from './outage.ts';
import { readParams } from './http/body.ts';
import { sendJson } from './http/envelope.ts';
import { toStr } from './http/params.ts';
import type { Portal } from './portal/portal.ts';

/**
 * The OAuth server (oauth.bitrix.info) part that apps use after installation: the refresh_token grant
 * at /oauth/token/, by GET query or form POST (spec §5.4).
 */
export async function handleOAuth(
  portal: Portal,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  if (await networkFault(portal.faults, req, res)) return;
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
  const app = portal.appByClientId(clientId);
  if (!app || app.clientSecret !== secret) return fail(401, 'invalid_client', 'Invalid client credentials');
  const now = portal.clock.now();
  const old = portal.refreshTokens.get(toStr(params.refresh_token) ?? '');
  if (!old || old.appId !== app.id || old.expiresAt <= now) {
    return fail(400, 'invalid_grant', 'Invalid refresh token');
  }
  if (portal.settings.oldRefreshTokenAfterRefresh === 'revoked') portal.refreshTokens.delete(old.token);
  if (portal.settings.oldAccessTokenAfterRefresh === 'revoked') {
    for (const t of portal.accessTokens.values())
      if (t.appId === app.id && t.userId === old.userId) t.revoked = true;
  }
  const { access, refresh } = portal.issueTokens(app, old.userId);
  sendJson(res, 200, {
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
  });
}

/**
 * The one check every install path goes through: the install callback of the app's page, the
 * ONAPPINSTALL event, and an install completed from the app page in the administrator's browser.
 * Nothing of the request is believed; the configured OAuth server and the portal it names decide.
 * Nothing is stored here: the caller changes state only with what this returns.
 */
import {
  BitrixClient,
  BitrixError,
  refreshGrant,
  type AppCredentials,
  type PortalApi,
  type PortalTokens,
} from '../bitrix/index.ts';
import { ServerError } from '../http/index.ts';

/** What an install request claims: the installing user's tokens and the portal it says it is. */
export interface InstallClaim {
  /** The portal the request names (`member_id`): compared with the OAuth server's answer. */
  memberId: string;
  /** The installing user's refresh token (a secret). */
  refreshToken: string;
  /** The installation's `application_token` the request carries (a secret); kept only if all holds. */
  applicationToken: string | undefined;
}

/** An install the OAuth server and the portal confirmed, made by one of the portal's administrators. */
export interface VerifiedInstall {
  memberId: string;
  /** The portal's host (`host[:port]`) from the endpoint the OAuth server gave, never the request's. */
  domain: string;
  clientEndpoint: string;
  /** The pair to keep: the request's refresh token is used up by the check. */
  tokens: PortalTokens;
  applicationToken: string | undefined;
}

interface InstallChecks {
  app: AppCredentials;
  now: () => number;
  /** The member_id of the installed portal that holds `domain` now, if any. */
  holderOf(domain: string): string | undefined;
  /** How long each request to the OAuth server or the portal may take. Default 10 s. */
  timeoutMs?: number | undefined;
}

/**
 * Runs `fn` on a client of its own for tokens not (yet) trusted: the main client, its token store and
 * its rate budget never hear of them. The tokens are used as they are, never refreshed.
 */
async function withOwnClient<T>(
  app: AppCredentials,
  portal: { memberId: string; clientEndpoint: string; tokens: PortalTokens },
  fn: (api: PortalApi) => Promise<T>,
  options: { attempts?: number; timeoutMs?: number } = {},
): Promise<T> {
  const client = new BitrixClient({
    app,
    retry: { maxAttempts: options.attempts ?? 2 },
    requestTimeoutMs: options.timeoutMs ?? 10_000,
  });
  try {
    const api = await client.addPortal({
      memberId: portal.memberId,
      clientEndpoint: portal.clientEndpoint,
      auth: { kind: 'oauth', tokens: portal.tokens },
    });
    return await fn(api);
  } finally {
    client.close();
  }
}

const refused = (code: string, status: number, message: string, cause?: unknown): ServerError =>
  new ServerError(code, status, message, cause === undefined ? {} : { cause });

/** Says what failed by the error's code only, never a token or an address. */
const codeOf = (cause: unknown): string => (cause instanceof BitrixError ? cause.code : 'ERROR');

/**
 * The portal's REST endpoint as the OAuth server gave it, if it is one: an https URL (http only
 * when the OAuth server itself is reached over http, a local test set-up) ending in `/rest/`.
 */
function endpointOf(raw: string | undefined, oauthUrl: string | undefined): URL | null {
  if (raw === undefined) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  const plainAllowed = oauthUrl !== undefined && oauthUrl.startsWith('http:');
  if (url.protocol !== 'https:' && !(plainAllowed && url.protocol === 'http:')) return null;
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return null;
  return url;
}

/**
 * Checks an install before anything is stored, in this order:
 * 1. the refresh token goes to the CONFIGURED OAuth server (the request names none): its answer
 *    says whose tokens they are; its `member_id` must be the one the request names;
 * 2. the portal is that answer's `client_endpoint`, its domain that endpoint's host: a domain
 *    another installed portal holds is refused;
 * 3. the new access token must belong to an administrator of that portal (`user.admin`): any
 *    employee who opens the app gets a token pair of their own, and must not install or re-install;
 * 4. `app.info` with it proves the portal answers for this application.
 */
export async function verifyInstall(checks: InstallChecks, claim: InstallClaim): Promise<VerifiedInstall> {
  const timeoutMs = checks.timeoutMs ?? 10_000;
  let fresh: PortalTokens;
  try {
    fresh = await refreshGrant(checks.app, claim.refreshToken, checks.now(), {
      fetch,
      timeoutMs,
      userAgent: 'b24-bridge',
      signal: AbortSignal.timeout(2 * timeoutMs),
      memberId: claim.memberId,
    });
  } catch (cause) {
    throw refused(
      'INSTALL_NOT_VERIFIED',
      403,
      `the portal did not confirm the install tokens (OAuth server: ${codeOf(cause)})`,
      cause,
    );
  }
  if (fresh.memberId !== claim.memberId)
    throw refused(
      'INSTALL_NOT_VERIFIED',
      403,
      'the install tokens belong to another portal than the request names',
    );
  const endpoint = endpointOf(fresh.clientEndpoint, checks.app.oauthUrl);
  if (endpoint === null)
    throw refused('INSTALL_NOT_VERIFIED', 403, 'the OAuth server named no usable endpoint for the portal');
  const domain = endpoint.host.toLowerCase();
  const holder = checks.holderOf(domain);
  if (holder !== undefined && holder !== claim.memberId)
    throw refused('DOMAIN_TAKEN', 409, `another installed portal holds the domain ${domain}`);
  const clientEndpoint = endpoint.toString();
  const tokens: PortalTokens = { ...fresh, clientEndpoint };
  let admin: boolean;
  try {
    admin = await withOwnClient(
      checks.app,
      { memberId: claim.memberId, clientEndpoint, tokens },
      async (api) => (await Promise.all([api.user.admin(), api.app.info()]))[0],
      { timeoutMs },
    );
  } catch (cause) {
    throw refused(
      'INSTALL_NOT_VERIFIED',
      403,
      `the portal did not confirm the install tokens (${codeOf(cause)})`,
      cause,
    );
  }
  if (!admin)
    throw refused(
      'INSTALL_NOT_ADMIN',
      403,
      'only an administrator of the portal can install or re-install the application',
    );
  return {
    memberId: claim.memberId,
    domain,
    clientEndpoint,
    tokens,
    applicationToken: claim.applicationToken,
  };
}

/**
 * Checks a user's access token (the app page's AUTH_ID) with the portal it claims to be from (the
 * endpoint is the stored one, never one from the request), and says whether the user is one of the
 * portal's administrators.
 */
export async function verifyUserToken(
  app: AppCredentials,
  memberId: string,
  clientEndpoint: string,
  accessToken: string,
): Promise<{ admin: boolean }> {
  // No refresh: a page token is checked as it is, never renewed by the bridge.
  const tokens = { accessToken, refreshToken: '', expiresAt: Date.now() + 3_600_000, clientEndpoint };
  try {
    return await withOwnClient(
      app,
      { memberId, clientEndpoint, tokens },
      async (api) => ({ admin: (await Promise.all([api.user.admin(), api.app.info()]))[0] }),
      { attempts: 1 },
    );
  } catch (cause) {
    throw new ServerError('APP_SESSION_REQUIRED', 401, 'the portal did not confirm this page’s token', {
      cause,
    });
  }
}

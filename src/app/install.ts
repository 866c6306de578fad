/**
 * The Bitrix24 application's installation: the tokens of the install callback are checked with the
 * OAuth server and the portal before anything is stored, so a forged callback stores nothing; then
 * the portal and its tokens are stored, its events bound, and the configured lines registered.
 */
import {
  BitrixClient,
  BitrixError,
  refreshGrant,
  type AppCredentials,
  type PortalApi,
  type PortalTokens,
} from '../bitrix/index.ts';
import type { BridgeConfig } from '../config/index.ts';
import { ServerError, type InstallCallback } from '../server/index.ts';

/** Says why the portal did not confirm, by the error's code only (never a token). */
const refused = (cause: unknown, what: string): ServerError =>
  new ServerError(
    'INSTALL_NOT_VERIFIED',
    403,
    `the portal did not confirm the install tokens (${what}: ${cause instanceof BitrixError ? cause.code : 'ERROR'})`,
    { cause },
  );

/**
 * Checks an install's tokens before anything is stored, and returns the pair to keep.
 *
 * The callback's own fields (DOMAIN, member_id) are the caller's word: a forger sends the
 * member_id of somebody else's portal with tokens of a portal they control. So the refresh token
 * goes to the CONFIGURED OAuth server, whose answer names the portal the tokens belong to
 * (member_id, client_endpoint); it must be the portal the callback names. Then `app.info` with the
 * new access token at the endpoint the OAuth server gave proves the portal answers for this app.
 * The refresh uses up the callback's refresh token; the bridge keeps the new pair.
 */
export async function verifyInstall(
  app: AppCredentials,
  callback: InstallCallback,
  now: number,
): Promise<PortalTokens> {
  let fresh: PortalTokens;
  try {
    fresh = await refreshGrant(app, callback.refreshToken, now, {
      fetch,
      timeoutMs: 10_000,
      userAgent: 'b24-bridge',
      signal: AbortSignal.timeout(20_000),
      memberId: callback.memberId,
    });
  } catch (cause) {
    throw refused(cause, 'OAuth server');
  }
  if (fresh.memberId !== undefined && fresh.memberId !== callback.memberId)
    throw new ServerError(
      'INSTALL_NOT_VERIFIED',
      403,
      'the install tokens belong to another portal than the callback names',
    );
  const tokens: PortalTokens = {
    ...fresh,
    clientEndpoint: fresh.clientEndpoint ?? callback.clientEndpoint,
  };
  // A client of its own: the main one (and its token store) must not hear of unverified tokens.
  const probe = new BitrixClient({ app, retry: { maxAttempts: 2 }, requestTimeoutMs: 10_000 });
  try {
    const api = await probe.addPortal({
      memberId: callback.memberId,
      clientEndpoint: tokens.clientEndpoint,
      auth: { kind: 'oauth', tokens },
    });
    await api.app.info();
  } catch (cause) {
    throw refused(cause, 'app.info');
  } finally {
    probe.close();
  }
  return tokens;
}

/**
 * Checks a user's access token (the app page's AUTH_ID) with the portal it claims to be from: the
 * endpoint is the stored one, never one from the request.
 */
export async function verifyUserToken(
  app: AppCredentials,
  memberId: string,
  clientEndpoint: string,
  accessToken: string,
): Promise<void> {
  const probe = new BitrixClient({ app, retry: { maxAttempts: 1 }, requestTimeoutMs: 10_000 });
  try {
    const api = await probe.addPortal({
      memberId,
      clientEndpoint,
      auth: {
        kind: 'oauth',
        // No refresh: a page token is checked as it is, never renewed by the bridge.
        tokens: { accessToken, refreshToken: '', expiresAt: Date.now() + 3_600_000, clientEndpoint },
      },
    });
    await api.app.info();
  } catch (cause) {
    throw new ServerError('APP_SESSION_REQUIRED', 401, 'the portal did not confirm this page’s token', {
      cause,
    });
  } finally {
    probe.close();
  }
}

const alreadyExists = (e: unknown): boolean =>
  e instanceof BitrixError && /already exists/i.test(e.portalDescription ?? e.message);

/** `telephony.externalLine.add` for every configured line with a number; existing ones are kept. */
export async function registerLines(api: PortalApi, engine: BridgeConfig['engine']): Promise<number> {
  let added = 0;
  for (const line of engine.lines) {
    if (line.number === undefined) continue;
    try {
      await api.externalLine.add({
        number: line.number,
        name: line.name ?? line.id,
        crmAutoCreate: line.leadCreation === 'all' || line.leadCreation === 'inbound',
      });
      added++;
    } catch (e) {
      if (!alreadyExists(e)) throw e;
    }
  }
  return added;
}

/** The CRM changes that keep the CRM phone index fresh: a record added, changed or deleted. */
export const crmChangeEvents = {
  ONCRMCONTACTADD: ['CONTACT', false],
  ONCRMCONTACTUPDATE: ['CONTACT', false],
  ONCRMCONTACTDELETE: ['CONTACT', true],
  ONCRMCOMPANYADD: ['COMPANY', false],
  ONCRMCOMPANYUPDATE: ['COMPANY', false],
  ONCRMCOMPANYDELETE: ['COMPANY', true],
  ONCRMLEADADD: ['LEAD', false],
  ONCRMLEADUPDATE: ['LEAD', false],
  ONCRMLEADDELETE: ['LEAD', true],
} as const satisfies Record<string, readonly ['CONTACT' | 'COMPANY' | 'LEAD', boolean]>;

/** The events the bridge acts on; ONAPPTEST answers the app page's "Event test". */
export const boundEvents = [
  'ONAPPINSTALL',
  'ONAPPUNINSTALL',
  'ONEXTERNALCALLSTART',
  'ONEXTERNALCALLBACKSTART',
  'ONAPPTEST',
  ...(Object.keys(crmChangeEvents) as (keyof typeof crmChangeEvents)[]),
] as const;

/**
 * Binds every event of `boundEvents` to `handler`, once: what is bound already (a re-install, a
 * restart) is left as it is, and a handler at another address of this app is moved here.
 */
export async function bindEvents(api: PortalApi, handler: string): Promise<number> {
  const bound = await api.event.get();
  let added = 0;
  for (const event of boundEvents) {
    const mine = bound.filter((b) => b.event === event);
    if (mine.some((b) => b.handler === handler)) continue;
    for (const old of mine) await api.event.unbind({ event, handler: old.handler });
    await api.event.bind({ event, handler });
    added++;
  }
  return added;
}

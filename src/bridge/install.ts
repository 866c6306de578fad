/**
 * The Bitrix24 application's installation: the tokens of the install callback are checked with the
 * portal (`app.info`) before anything is stored, so a forged callback stores nothing; then the
 * portal and its tokens are stored, and the configured lines registered.
 */
import {
  BitrixClient,
  BitrixError,
  type AppCredentials,
  type PortalApi,
  type PortalTokens,
} from '../bitrix/index.ts';
import type { BridgeConfig } from '../config/index.ts';
import { ServerError, type InstallCallback } from '../server/index.ts';

export function tokensOf(callback: InstallCallback, now: number): PortalTokens {
  return {
    accessToken: callback.accessToken,
    refreshToken: callback.refreshToken,
    expiresAt: now + callback.expiresInSec * 1000,
    clientEndpoint: callback.clientEndpoint,
  };
}

/** Asks the portal named in the callback whether these tokens are its own, for this app. */
export async function verifyInstall(
  app: AppCredentials,
  callback: InstallCallback,
  tokens: PortalTokens,
): Promise<void> {
  // A client of its own: the main one (and its token store) must not hear of unverified tokens.
  const probe = new BitrixClient({ app, retry: { maxAttempts: 2 }, requestTimeoutMs: 10_000 });
  try {
    const api = await probe.addPortal({
      memberId: callback.memberId,
      clientEndpoint: callback.clientEndpoint,
      auth: { kind: 'oauth', tokens },
    });
    await api.app.info();
  } catch (cause) {
    const code = cause instanceof BitrixError ? cause.code : 'ERROR';
    throw new ServerError(
      'INSTALL_NOT_VERIFIED',
      403,
      `the portal did not confirm the install tokens (${code})`,
      {
        cause,
      },
    );
  } finally {
    probe.close();
  }
}

const alreadyExists = (e: unknown): boolean =>
  e instanceof BitrixError && /already exists/i.test(e.portalDescription ?? e.message);

/** `telephony.externalLine.add` for every configured line with a number; existing ones are kept. */
export async function registerLines(api: PortalApi, config: BridgeConfig): Promise<number> {
  let added = 0;
  for (const line of config.engine.lines) {
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

/**
 * The portal's install callback (the app's installation page): form encoded, with the portal's
 * domain in the query. Only read and checked here; the tokens are verified with the OAuth server
 * before anything is stored.
 */
import { z } from 'zod';
import { ServerError } from '../http/index.ts';

export interface InstallCallback {
  memberId: string;
  domain: string;
  /** `https://<domain>/rest/` (http when the portal says PROTOCOL=0: the emulator). */
  clientEndpoint: string;
  /** The OAuth server's REST endpoint (SERVER_ENDPOINT). */
  serverEndpoint: string | undefined;
  /** Secrets: never logged. */
  accessToken: string;
  refreshToken: string;
  expiresInSec: number;
  applicationToken: string | undefined;
}

/** Installs (or re-installs) after checking; answers the verified portal's origin (it frames the page). */
export type InstallHandler = (callback: InstallCallback) => Promise<{ portalOrigin: string | null }>;

/**
 * Tokens as Bitrix24 issues them: letters, digits and a few marks. Anything else is refused before
 * the OAuth server is asked (a request that cannot be genuine costs no outbound call).
 */
const tokenText = (max: number) => z.string().regex(new RegExp(`^[A-Za-z0-9._~-]{1,${max}}$`));

const formSchema = z.object({
  AUTH_ID: tokenText(500),
  REFRESH_ID: tokenText(500),
  AUTH_EXPIRES: z.coerce.number().int().min(1).max(86_400).optional(),
  member_id: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/),
  APPLICATION_TOKEN: tokenText(200).optional(),
  SERVER_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
});

const querySchema = z.object({
  // host[:port]; nothing that could turn the REST endpoint into another URL.
  DOMAIN: z.string().regex(/^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$/),
  PROTOCOL: z.enum(['0', '1']).optional(),
});

/** The callback as typed values; names the first field it refuses, never a value. */
export function parseInstallCallback(form: unknown, query: unknown): InstallCallback {
  const f = formSchema.safeParse(form);
  const q = querySchema.safeParse(query);
  const issue = !f.success ? f.error.issues[0] : !q.success ? q.error.issues[0] : undefined;
  if (!f.success || !q.success) {
    const field = issue?.path.join('.') ?? '';
    throw new ServerError('INVALID_INSTALL', 400, `the install callback has no valid ${field}`);
  }
  const scheme = q.data.PROTOCOL === '0' ? 'http' : 'https';
  return {
    memberId: f.data.member_id,
    domain: q.data.DOMAIN,
    clientEndpoint: `${scheme}://${q.data.DOMAIN}/rest/`,
    serverEndpoint: f.data.SERVER_ENDPOINT,
    accessToken: f.data.AUTH_ID,
    refreshToken: f.data.REFRESH_ID,
    expiresInSec: f.data.AUTH_EXPIRES ?? 3600,
    applicationToken: f.data.APPLICATION_TOKEN,
  };
}
